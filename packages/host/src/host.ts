import { diagnostic, type Diagnostic } from './diagnostics.js';
import { eachBounded } from './runtime/bounded.js';
import { Secrets } from './secrets/secrets.js';
import type { JsonValue } from './manifest/types.js';
import type { PluginRuntime, RuntimeOptions } from './runtime/plugin-runtime.js';
import { runtimeView, type PluginRuntimeView } from './runtime/runtime-view.js';
import type { StoreOptions } from './store/locations.js';
import type { ResolvedPlugin } from './store/resolve.js';
import { loadWorkspace } from './store/workspace.js';
import { ToolRegistry, type RegistrationIssue, type ToolInfo } from './tools/registry.js';
import type { ConnectionPolicy } from './websocket/policy.js';
import { createPluginUnit, isSupervised, loadServices, type PluginUnit } from './reload/plugin-unit.js';
import { reconcile, type PluginReloadOutcome } from './reload/reconcile.js';
import { serviceGateOf } from './reload/service-gate.js';
import type { DesiredPlugins } from './reload/desired.js';
import type { ToolOutput } from './tools/tool-output.js';
import type { PluginService, ServiceEffects, StopReport } from './service/plugin-service.js';
import type { ServicePolicy } from './service/policy.js';
import type { ServiceEventHook } from './service/service-events.js';
import type { Clock } from './service/clock.js';
import { JournalWriter } from './service/journal-writer.js';
import { DEFAULT_SERVICE_POLICY } from './service/policy.js';
import { MemoryJournal } from './journal/memory-journal.js';
import type { Journal, JournalStats } from './journal/journal.js';
import { pluginStatus, type PluginStatus } from './status/status.js';

/**
 * Services started at once: worker starts and guest start code overlap, while a workspace of
 * hundreds does not spawn hundreds of threads (or load every component) in one go.
 */
const SERVICE_START_CONCURRENCY = 8;

/** How a {@link PluginHost} runs its plugins and services. */
export interface PluginHostOptions extends RuntimeOptions {
  /** Supervision policy of services (queue size, retries, restarts, …). */
  readonly servicePolicy?: Partial<ServicePolicy>;
  /** Where services act on the world: domain event sink, WebSocket driver. */
  readonly effects?: ServiceEffects;
  /**
   * Where services keep what they accepted: events, the outbox, durable state, timers, dead
   * letters. Default: a journal in memory (nothing survives the process); `serve` passes the
   * workspace's LMDB journal (`openLmdbJournal({ dir: journalDir(workspace) })`). The host
   * writes to it but does not close it.
   */
  readonly journal?: Journal;
  /** The host's state directory (kept out of reach of fs grants). */
  readonly stateDir?: string;
  /** Defaults for host-owned WebSocket connections (an enablement's `[plugins.enabled.websocket]` wins). */
  readonly connectionPolicy?: Partial<ConnectionPolicy>;
  /** Told about every service's lifecycle transitions, retries, dead letters, rejections and drops. */
  readonly onServiceEvent?: ServiceEventHook;
  /** Time for services' backoff, timers and status polls (tests drive it by hand). */
  readonly clock?: Clock;
}

/** Set by PluginHost's static block: reads a host's private runtimes for {@link pluginRuntimeOf}. */
let runtimeOfHost: (host: PluginHost, identity: string) => PluginRuntime | undefined;

/**
 * The library entry point for embedding hosts: a set of resolved plugins, their runtimes and
 * their tools. Build it from a workspace (`<workspace>/.yoi/plugins.toml` and the stores) or
 * from records an embedder resolved itself.
 *
 * @example
 * ```ts
 * const host = await PluginHost.fromWorkspace({ workspace: '.' });
 * console.log(host.tools.list().map((t) => t.name));
 * const out = await host.tools.call('echo', { text: 'hi' });
 * await host.close();
 * ```
 */
export class PluginHost {
  readonly #runtimes = new Map<string, PluginRuntime>();
  readonly #views = new WeakMap<PluginRuntime, PluginRuntimeView>();
  readonly #services = new Map<string, PluginService>();
  #units: ReadonlyMap<string, PluginUnit>;
  #tools: ToolRegistry;
  #options: PluginHostOptions;
  /** Reloads run one at a time (so each plugin changes under one reload at a time). */
  #reloading: Promise<unknown> = Promise.resolve();
  /** Discovery and resolution diagnostics of the workspace (empty for `fromResolved`). */
  readonly diagnostics: readonly Diagnostic[];
  /** The journal the services write to. */
  readonly journal: Journal;
  readonly #writer: JournalWriter;

  private constructor(records: readonly ResolvedPlugin[], diagnostics: readonly Diagnostic[], options: PluginHostOptions) {
    this.journal = options.journal ?? new MemoryJournal({ limits: { deadLetterCount: options.servicePolicy?.deadLetterCapacity ?? DEFAULT_SERVICE_POLICY.deadLetterCapacity } });
    this.#writer = new JournalWriter(this.journal, options.clock);
    this.#options = options;
    const units = records.map((record) => createPluginUnit(record, options, this.#writer));
    this.#units = new Map(units.map((u) => [u.record.identity, u]));
    for (const unit of units) {
      this.#runtimes.set(unit.record.identity, unit.runtime);
      if (unit.service) this.#services.set(unit.record.identity, unit.service);
    }
    this.#tools = new ToolRegistry([...this.#runtimes.values()]);
    this.diagnostics = diagnostics;
  }

  /** The running plugins (a reload may change them). */
  get runtimes(): ReadonlyMap<string, PluginRuntimeView> {
    return new Map([...this.#runtimes].map(([identity, runtime]) => [identity, this.#viewOf(runtime)]));
  }

  /** Services of instance-world plugins whose service or ingress surface is enabled. */
  get services(): ReadonlyMap<string, PluginService> {
    return this.#services;
  }

  /** The tools of the running plugins (a reload publishes a new registry). */
  get tools(): ToolRegistry {
    return this.#tools;
  }

  /**
   * Applies a new desired set of plugins without stopping the others (reload/reconcile.ts):
   * new ones start, removed ones stop, changed ones are replaced once their new version runs.
   * `secrets` (when given) apply to the plugins this reload starts.
   */
  reconcile(desired: DesiredPlugins, secrets?: Secrets): Promise<PluginReloadOutcome[]> {
    const run = this.#reloading.then(async () => {
      if (desired.resolved.some(isSupervised)) await loadServices();
      if (secrets) this.#options = { ...this.#options, secrets };
      return reconcile(
        {
          units: () => this.#units,
          build: (record) => createPluginUnit(record, this.#options, this.#writer),
          publish: (units) => this.#publish(units),
          gate: serviceGateOf(this),
        },
        desired,
      );
    });
    this.#reloading = run.catch(() => undefined);
    return run;
  }

  async #publish(units: readonly PluginUnit[]): Promise<void> {
    const tools = new ToolRegistry(units.map((u) => u.runtime));
    await tools.verifyLoadable();
    this.#units = new Map(units.map((u) => [u.record.identity, u]));
    this.#runtimes.clear();
    this.#services.clear();
    for (const unit of units) {
      this.#runtimes.set(unit.record.identity, unit.runtime);
      if (unit.service) this.#services.set(unit.record.identity, unit.service);
    }
    this.#tools = tools;
  }

  // Synchronous: the library entry loads the service machinery up front; a module importing
  // host.js directly awaits loadServices() (reload/plugin-unit.ts) before passing supervised records.
  static fromResolved(records: readonly ResolvedPlugin[], options: PluginHostOptions = {}): PluginHost {
    return new PluginHost(records, [], options);
  }

  /** Reads the workspace (stores, enablement) and its secrets (`.yoi/secrets.toml`, `YOI_SECRET_*`). */
  static async fromWorkspace(stores: StoreOptions, options: PluginHostOptions = {}): Promise<PluginHost> {
    const state = await loadWorkspace(stores);
    if (state.resolution.resolved.some(isSupervised)) await loadServices();
    const secrets = options.secrets ?? (await Secrets.load(state.workspace, stores.env ?? process.env));
    const secretProblems = secrets.problems.map((message) => diagnostic('io', 'resolution', message));
    return new PluginHost(state.resolution.resolved, [...state.configDiagnostics, ...state.discovery.diagnostics, ...state.resolution.diagnostics, ...secretProblems], { ...options, secrets });
  }

  get registrationIssues(): readonly RegistrationIssue[] {
    return this.tools.issues;
  }

  listTools(): ToolInfo[] {
    return this.tools.list();
  }

  callTool(name: string, input: string | JsonValue): Promise<ToolOutput> {
    return this.tools.call(name, input);
  }

  /** Starts every service, a few at a time; returns the ones that failed to start (they stay Failed). */
  async startServices(): Promise<{ plugin: string; error: string }[]> {
    const failures: { plugin: string; error: string }[] = [];
    await eachBounded([...this.services.values()], SERVICE_START_CONCURRENCY, async (service) => {
      try {
        await service.start();
      } catch (error) {
        failures.push({ plugin: service.identity, error: error instanceof Error ? error.message : String(error) });
      }
    });
    return failures;
  }

  /** Status of every plugin (or one). */
  status(ref?: string): PluginStatus[] {
    return [...this.#runtimes.values()].filter((r) => ref === undefined || r.record.identity === ref).map((r) => pluginStatus(r, this.services.get(r.record.identity)));
  }

  /** Journal counters: engine, writes, failures, commit latency. */
  journalStatus(): { readonly engine: string; readonly writing: 'ok' | 'failing'; readonly last_error: string | null } & JournalStats {
    return { engine: this.journal.engine, writing: this.#writer.healthy ? 'ok' : 'failing', last_error: this.#writer.lastError, ...this.journal.stats() };
  }

  /** Stops services (accepted events not handled yet stay in the journal), then every plugin. Idempotent. */
  async close(): Promise<StopReport[]> {
    await this.#reloading;
    const reports = await Promise.all([...this.services.values()].map((s) => s.stop()));
    await Promise.all([...this.#runtimes.values()].map((r) => r.close()));
    this.#writer.close();
    return reports;
  }

  #viewOf(runtime: PluginRuntime): PluginRuntimeView {
    let view = this.#views.get(runtime);
    if (!view) this.#views.set(runtime, (view = runtimeView(runtime)));
    return view;
  }

  static {
    runtimeOfHost = (host, identity) => host.#runtimes.get(identity);
  }
}

/**
 * The runtime itself behind {@link PluginHost.runtimes}' view, for the host's own modules and
 * tests that drive a runtime directly. Not part of the library API (`index.ts` does not export it).
 */
export function pluginRuntimeOf(host: PluginHost, identity: string): PluginRuntime | undefined {
  return runtimeOfHost(host, identity);
}
