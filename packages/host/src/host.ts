import { diagnostic, type Diagnostic } from './diagnostics.js';
import { Secrets } from './secrets/secrets.js';
import type { JsonValue } from './manifest/types.js';
import { PluginRuntime, type RuntimeOptions } from './runtime/plugin-runtime.js';
import { runtimeView, type PluginRuntimeView } from './runtime/runtime-view.js';
import type { StoreOptions } from './store/locations.js';
import type { ResolvedPlugin } from './store/resolve.js';
import { loadWorkspace } from './store/workspace.js';
import { runtimeControlLocations } from './store/control-paths.js';
import { ToolRegistry, type RegistrationIssue, type ToolInfo } from './tools/registry.js';
import type { ToolOutput } from './tools/tool-output.js';
import { PluginService, type ServiceEffects, type StopReport } from './service/plugin-service.js';
import type { ServicePolicy } from './service/policy.js';
import type { ServiceEventHook } from './service/service-events.js';
import type { Clock } from './service/clock.js';
import { JournalWriter } from './service/journal-writer.js';
import { DEFAULT_SERVICE_POLICY } from './service/policy.js';
import { MemoryJournal } from './journal/memory-journal.js';
import type { Journal, JournalStats } from './journal/journal.js';
import { pluginStatus, type PluginStatus } from './status/status.js';
import { INSTANCE_WORLD } from './manifest/types.js';
import { WebSocketDriver } from './websocket/driver.js';
import { DEFAULT_CONNECTION_POLICY, type ConnectionPolicy } from './websocket/policy.js';
import { parseSources } from './websocket/sources.js';

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
  /** Every resolved plugin by identity (`project:example.echo`), as a read-only view of its runtime. */
  readonly runtimes: ReadonlyMap<string, PluginRuntimeView>;
  readonly #runtimes: ReadonlyMap<string, PluginRuntime>;
  /** Services of instance-world plugins whose service or ingress surface is enabled. */
  readonly services: ReadonlyMap<string, PluginService>;
  readonly tools: ToolRegistry;
  /** Discovery and resolution diagnostics of the workspace (empty for `fromResolved`). */
  readonly diagnostics: readonly Diagnostic[];
  /** The journal the services write to. */
  readonly journal: Journal;
  readonly #writer: JournalWriter;

  private constructor(records: readonly ResolvedPlugin[], diagnostics: readonly Diagnostic[], options: PluginHostOptions) {
    const runtimes = new Map<string, PluginRuntime>();
    const services = new Map<string, PluginService>();
    this.journal = options.journal ?? new MemoryJournal({ limits: { deadLetterCount: options.servicePolicy?.deadLetterCapacity ?? DEFAULT_SERVICE_POLICY.deadLetterCapacity } });
    this.#writer = new JournalWriter(this.journal, options.clock);
    // The cache whose JS the host runs and the dead-letter folder are out of reach of fs grants too.
    const extraControl = runtimeControlLocations(options);
    for (const given of records) {
      const record = extraControl.length > 0 ? { ...given, controlLocations: [...(given.controlLocations ?? []), ...extraControl] } : given;
      const supervised = record.manifest.runtime?.world === INSTANCE_WORLD && (record.enabledSurfaces.includes('service') || record.enabledSurfaces.includes('ingress'));
      const runtime = new PluginRuntime(record, { ...options, supervised });
      runtimes.set(record.identity, runtime);
      if (supervised) {
        const service = new PluginService(runtime, {
          ...(options.servicePolicy ? { policy: options.servicePolicy } : {}),
          ...(options.effects ? { effects: options.effects } : {}),
          writer: this.#writer,
          ...(options.onServiceEvent ? { onEvent: options.onServiceEvent } : {}),
          ...(options.clock ? { clock: options.clock } : {}),
        });
        services.set(record.identity, service);
        // Yoi's rule: host-owned connections run only when both service and ingress are enabled.
        const sources = parseSources(record);
        if (!options.effects?.websocket && record.enabledSurfaces.includes('service') && record.enabledSurfaces.includes('ingress') && sources.sources.length + sources.problems.length > 0) {
          // One driver for the service's life: stop() holds what it read, start() re-dials and delivers that first.
          service.attachWebSocketDriver(
            new WebSocketDriver(record, { ...DEFAULT_CONNECTION_POLICY, ...options.connectionPolicy, ...record.websocketPolicy }, runtime.secrets, {
              deliver: (ingress, kind, source, payload) => service.emit(ingress, kind, source, payload),
              diagnose: (kind, message) => service.diagnose(kind, message),
            }),
          );
        }
      }
    }
    this.#runtimes = runtimes;
    this.runtimes = new Map([...runtimes].map(([identity, runtime]) => [identity, runtimeView(runtime)]));
    this.services = services;
    this.tools = new ToolRegistry([...runtimes.values()]);
    this.diagnostics = diagnostics;
  }

  static fromResolved(records: readonly ResolvedPlugin[], options: PluginHostOptions = {}): PluginHost {
    return new PluginHost(records, [], options);
  }

  /** Reads the workspace (stores, enablement) and its secrets (`.yoi/secrets.toml`, `YOI_SECRET_*`). */
  static async fromWorkspace(stores: StoreOptions, options: PluginHostOptions = {}): Promise<PluginHost> {
    const state = await loadWorkspace(stores);
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

  /** Starts every service; returns the ones that failed to start (they stay Failed). */
  async startServices(): Promise<{ plugin: string; error: string }[]> {
    const failures: { plugin: string; error: string }[] = [];
    for (const service of this.services.values()) {
      try {
        await service.start();
      } catch (error) {
        failures.push({ plugin: service.identity, error: error instanceof Error ? error.message : String(error) });
      }
    }
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
    const reports = await Promise.all([...this.services.values()].map((s) => s.stop()));
    await Promise.all([...this.#runtimes.values()].map((r) => r.close()));
    this.#writer.close();
    return reports;
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
