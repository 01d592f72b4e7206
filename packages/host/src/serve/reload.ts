import type { PluginHost } from '../host.js';
import { desiredFromWorkspace } from '../reload/desired.js';
import type { PluginReloadOutcome, ReloadAction } from '../reload/reconcile.js';
import { Secrets } from '../secrets/secrets.js';
import type { StoreOptions } from '../store/locations.js';
import { loadWorkspace } from '../store/workspace.js';
import type { Logger } from './log.js';
import { WorkspaceWatcher } from './watch.js';

/** One reload pass: what started it and what it did to each plugin whose binding changed. */
export interface ReloadReport {
  readonly generation: number;
  readonly trigger: string;
  readonly at: string;
  /** Why the pass changed nothing at all (the enablement file could not be used), or null. */
  readonly refused: string | null;
  readonly outcomes: readonly PluginReloadOutcome[];
}

type Tally = Record<ReloadAction, { applied: number; failed: number }>;

export interface ReloadStatus {
  /** Reload passes so far (0: the plugins serve started with). */
  readonly generation: number;
  readonly reloading: boolean;
  readonly watching: readonly string[];
  readonly last: ReloadReport | null;
  /** Plugins whose change failed in the last pass: each runs its previous version, or nothing. */
  readonly failing: readonly PluginReloadOutcome[];
  readonly refused_total: number;
  readonly outcomes_total: Tally;
}

export interface ReloaderOptions {
  /** File events closer together than this make one reload (default 200 ms). */
  readonly debounceMs?: number;
  /** Watch the enablement file and the stores (default true); without it, only `reload()` reloads. */
  readonly watch?: boolean;
}

const ACTIONS: readonly ReloadAction[] = ['enable', 'upgrade', 'reconfigure', 'disable', 'keep'];

/**
 * Hot reload for serve: watches the workspace's enablement and stores, and on a change (or a
 * `reload()` from the control API) reads the workspace afresh and lets the host reconcile its
 * plugins. Passes run one at a time; file events during a pass make one more pass after it.
 */
export class Reloader {
  readonly #host: PluginHost;
  readonly #stores: StoreOptions;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #watcher: WorkspaceWatcher | null;
  #generation = 0;
  #running: Promise<ReloadReport> | null = null;
  #next: Promise<ReloadReport> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #last: ReloadReport | null = null;
  #failing = new Map<string, PluginReloadOutcome>();
  #refused = 0;
  readonly #tally: Tally = Object.fromEntries(ACTIONS.map((a) => [a, { applied: 0, failed: 0 }])) as Tally;
  #waiters: { generation: number; resolve: () => void }[] = [];
  #closed = false;

  constructor(host: PluginHost, stores: StoreOptions, log: Logger, options: ReloaderOptions = {}) {
    this.#host = host;
    this.#stores = stores;
    this.#log = log;
    this.#debounceMs = options.debounceMs ?? 200;
    this.#watcher =
      options.watch === false
        ? null
        : new WorkspaceWatcher(
            stores,
            (path) => this.trigger(`file change: ${path}`),
            (path, message) => log('warn', 'watch stopped; it restarts after the next reload', { path, error: message }),
          );
  }

  /** Schedules a reload after the debounce interval (later events within it move it on). */
  trigger(why: string): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.reload(why).catch((error: unknown) => this.#log('error', 'reload failed', { error: error instanceof Error ? error.message : String(error) }));
    }, this.#debounceMs);
  }

  /** Reloads now (after the pass under way, if any; passes asked for meanwhile share one). */
  reload(why: string): Promise<ReloadReport> {
    if (!this.#running) return this.#start(why);
    this.#next ??= this.#running.catch(() => undefined).then(() => {
      this.#next = null;
      return this.#start(why);
    });
    return this.#next;
  }

  #start(why: string): Promise<ReloadReport> {
    const run = this.#pass(why).finally(() => {
      if (this.#running === run) this.#running = null;
    });
    this.#running = run;
    return run;
  }

  /** Resolves once `generation` passes have completed. */
  whenGeneration(generation: number): Promise<void> {
    if (this.#generation >= generation) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ generation, resolve }));
  }

  status(): ReloadStatus {
    return {
      generation: this.#generation,
      reloading: this.#running !== null,
      watching: this.#watcher?.watching ?? [],
      last: this.#last,
      failing: [...this.#failing.values()],
      refused_total: this.#refused,
      outcomes_total: structuredClone(this.#tally),
    };
  }

  /** Stops watching and waits for a pass under way. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watcher?.close();
    await this.#next?.catch(() => undefined);
    await this.#running?.catch(() => undefined);
  }

  async #pass(trigger: string): Promise<ReloadReport> {
    const at = new Date().toISOString();
    let refused: string | null = null;
    let outcomes: PluginReloadOutcome[] = [];
    try {
      const state = await loadWorkspace(this.#stores);
      const wanted = desiredFromWorkspace(state);
      if ('refused' in wanted) refused = wanted.refused;
      else {
        const secrets = await Secrets.load(state.workspace, this.#stores.env ?? process.env);
        for (const problem of secrets.problems) this.#log('warn', problem);
        outcomes = await this.#host.reconcile(wanted.desired, secrets);
      }
    } catch (error) {
      refused = `reload failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    const generation = ++this.#generation;
    const report: ReloadReport = { generation, trigger, at, refused, outcomes };
    this.#record(report);
    this.#watcher?.rearm();
    for (const waiter of this.#waiters.filter((w) => w.generation <= generation)) waiter.resolve();
    this.#waiters = this.#waiters.filter((w) => w.generation > generation);
    return report;
  }

  #record(report: ReloadReport): void {
    this.#last = report;
    const { generation } = report;
    if (report.refused) {
      this.#refused++;
      this.#log('error', 'reload refused; every plugin keeps running as it was', { generation, trigger: report.trigger, reason: report.refused });
      return;
    }
    const failing = new Map<string, PluginReloadOutcome>();
    for (const o of report.outcomes) {
      const fields = { generation, plugin: o.plugin, action: o.action, from_version: o.from?.version ?? null, from_digest: o.from?.digest ?? null, to_version: o.to?.version ?? null, to_digest: o.to?.digest ?? null };
      if (o.outcome === 'applied') {
        this.#tally[o.action].applied++;
        this.#log('info', 'plugin reloaded', fields);
        for (const issue of this.#host.registrationIssues.filter((i) => i.plugin_ref === o.plugin)) this.#log('warn', issue.message, { plugin: issue.plugin_ref, tool: issue.tool, generation });
        continue;
      }
      failing.set(o.plugin, o);
      const before = this.#failing.get(o.plugin);
      // The same failure again (another plugin's change made this pass) is not news.
      if (before?.action === o.action && before.reason === o.reason) continue;
      this.#tally[o.action].failed++;
      this.#log('error', 'plugin reload failed', { ...fields, reason: o.reason });
    }
    this.#failing = failing;
    const applied = report.outcomes.filter((o) => o.outcome === 'applied').length;
    this.#log('info', 'reload', { generation, trigger: report.trigger, applied, failed: failing.size, plugins: this.#host.runtimes.size, tools: this.#host.tools.list().length });
  }
}
