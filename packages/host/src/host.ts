import { diagnostic, type Diagnostic } from './diagnostics.js';
import { eachBounded } from './runtime/bounded.js';
import { Secrets } from './secrets/secrets.js';
import type { JsonValue } from './manifest/types.js';
import { PluginRuntime, type RuntimeOptions } from './runtime/plugin-runtime.js';
import type { StoreOptions } from './store/locations.js';
import type { ResolvedPlugin } from './store/resolve.js';
import { loadWorkspace } from './store/workspace.js';
import { runtimeControlLocations } from './store/control-paths.js';
import { ToolRegistry, type RegistrationIssue, type ToolInfo } from './tools/registry.js';
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
import { INSTANCE_WORLD } from './manifest/types.js';
import type { ConnectionPolicy } from './websocket/policy.js';

/** The service machinery (services, WebSocket driver), loaded only by a host that has a service to run. */
type ServiceKit = typeof import('./host-services.js');

function isSupervised(record: ResolvedPlugin): boolean {
  return record.manifest.runtime?.world === INSTANCE_WORLD && (record.enabledSurfaces.includes('service') || record.enabledSurfaces.includes('ingress'));
}

async function serviceKitFor(records: readonly ResolvedPlugin[]): Promise<ServiceKit | null> {
  return records.some(isSupervised) ? import('./host-services.js') : null;
}

/**
 * Services started at once: worker starts and guest start code overlap, while a workspace of
 * hundreds does not spawn hundreds of threads (or load every component) in one go.
 */
const SERVICE_START_CONCURRENCY = 8;

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

/**
 * The library entry point for embedding hosts: a set of resolved plugins, their runtimes and
 * their tools. Build it from a workspace (`<workspace>/.yoi/plugins.toml` and the stores) or
 * from records an embedder resolved itself.
 *
 * @example
 * const host = await PluginHost.fromWorkspace({ workspace: '.' });
 * console.log(host.tools.list().map((t) => t.name));
 * const out = await host.tools.call('echo', { text: 'hi' });
 * await host.close();
 */
export class PluginHost {
  readonly runtimes: ReadonlyMap<string, PluginRuntime>;
  /** Services of instance-world plugins whose service or ingress surface is enabled. */
  readonly services: ReadonlyMap<string, PluginService>;
  readonly tools: ToolRegistry;
  /** Discovery and resolution diagnostics of the workspace (empty for `fromResolved`). */
  readonly diagnostics: readonly Diagnostic[];
  /** The journal the services write to. */
  readonly journal: Journal;
  readonly #writer: JournalWriter;

  private constructor(records: readonly ResolvedPlugin[], diagnostics: readonly Diagnostic[], options: PluginHostOptions, kit: ServiceKit | null) {
    const runtimes = new Map<string, PluginRuntime>();
    const services = new Map<string, PluginService>();
    this.journal = options.journal ?? new MemoryJournal({ limits: { deadLetterCount: options.servicePolicy?.deadLetterCapacity ?? DEFAULT_SERVICE_POLICY.deadLetterCapacity } });
    this.#writer = new JournalWriter(this.journal, options.clock);
    // The cache whose JS the host runs and the dead-letter folder are out of reach of fs grants too.
    const extraControl = runtimeControlLocations(options);
    for (const given of records) {
      const record = extraControl.length > 0 ? { ...given, controlLocations: [...(given.controlLocations ?? []), ...extraControl] } : given;
      const supervised = isSupervised(record);
      const runtime = new PluginRuntime(record, { ...options, supervised });
      runtimes.set(record.identity, runtime);
      if (supervised) {
        if (!kit) throw new Error('internal: service modules were not loaded for a supervised plugin');
        services.set(record.identity, kit.createService(runtime, record, options, this.#writer));
      }
    }
    this.runtimes = runtimes;
    this.services = services;
    this.tools = new ToolRegistry([...runtimes.values()]);
    this.diagnostics = diagnostics;
  }

  static async fromResolved(records: readonly ResolvedPlugin[], options: PluginHostOptions = {}): Promise<PluginHost> {
    return new PluginHost(records, [], options, await serviceKitFor(records));
  }

  /** Reads the workspace (stores, enablement) and its secrets (`.yoi/secrets.toml`, `YOI_SECRET_*`). */
  static async fromWorkspace(stores: StoreOptions, options: PluginHostOptions = {}): Promise<PluginHost> {
    const state = await loadWorkspace(stores);
    const secrets = options.secrets ?? (await Secrets.load(state.workspace, stores.env ?? process.env));
    const secretProblems = secrets.problems.map((message) => diagnostic('io', 'resolution', message));
    const records = state.resolution.resolved;
    return new PluginHost(records, [...state.configDiagnostics, ...state.discovery.diagnostics, ...state.resolution.diagnostics, ...secretProblems], { ...options, secrets }, await serviceKitFor(records));
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
    return [...this.runtimes.values()].filter((r) => ref === undefined || r.record.identity === ref).map((r) => pluginStatus(r, this.services.get(r.record.identity)));
  }

  /** Journal counters: engine, writes, failures, commit latency. */
  journalStatus(): { readonly engine: string; readonly writing: 'ok' | 'failing'; readonly last_error: string | null } & JournalStats {
    return { engine: this.journal.engine, writing: this.#writer.healthy ? 'ok' : 'failing', last_error: this.#writer.lastError, ...this.journal.stats() };
  }

  /** Stops services (accepted events not handled yet stay in the journal), then every plugin. Idempotent. */
  async close(): Promise<StopReport[]> {
    const reports = await Promise.all([...this.services.values()].map((s) => s.stop()));
    await Promise.all([...this.runtimes.values()].map((r) => r.close()));
    this.#writer.close();
    return reports;
  }
}
