import type { JsonValue } from '../manifest/types.js';
import type { PluginRuntime } from '../runtime/plugin-runtime.js';
import type { CommandResult } from '../commands/envelope.js';
import type { DiscardCounters, DispatchCounters, LifecycleState, PluginService, ServiceDiagnostic } from '../service/plugin-service.js';
import { runtimeDiscards } from '../service/discards.js';
import type { TimerStatus } from '../service/timers.js';
import type { InstancePoolStatus } from '../sandbox/instance-pool.js';

/**
 * Per-connection status of a host-owned WebSocket (filled by the WebSocket driver).
 * @public
 */
export interface ConnectionStatus {
  readonly [key: string]: JsonValue;
}

/**
 * One plugin's status: the same shape from the library, `yoi plugin status` and `serve`'s
 * loopback API. Every list in it is bounded.
 */
export interface PluginStatus {
  readonly plugin: string;
  readonly version: string;
  readonly digest: string;
  readonly world: 'tool' | 'instance' | null;
  readonly lifecycle: LifecycleState;
  readonly restarts: number;
  readonly queue: { readonly depth: number; readonly capacity: number; readonly backpressure_ms: number } | null;
  readonly counters: DispatchCounters | null;
  /** Every place work can be discarded, counted (zero when nothing was). */
  readonly discards: DiscardCounters;
  /** Host requests in flight, commands waiting for a request slot, and the cap. */
  readonly requests: { readonly in_flight: number; readonly waiting: number; readonly capacity: number } | null;
  readonly dead_letters: number;
  /** The journal of a service: engine, whether writing works (Degraded when not), writes waiting, outbox commands running. */
  readonly journal?: { readonly engine: string; readonly writing: 'ok' | 'failing'; readonly last_error: string | null; readonly pending_writes: number; readonly outbox_running: number };
  readonly last_event: { kind: string; ingress: string; at: string; correlation_id: string } | null;
  readonly last_error: string | null;
  readonly component_status: JsonValue | null;
  readonly recent_command_results: readonly CommandResult[];
  readonly timers: readonly TimerStatus[];
  /** Timer ticks that fired late because their time passed while the service was stopped or the host was down. */
  readonly timer_ticks_late: number;
  readonly websocket_connections: readonly ConnectionStatus[];
  readonly diagnostics: readonly ServiceDiagnostic[];
  /** A tool-world guest run in-thread: the fresh instances kept ready for its calls (hits, misses, memory held). */
  readonly instance_pool?: InstancePoolStatus;
}

const RUNTIME_STATES: Record<PluginRuntime['state'], LifecycleState> = {
  ready: 'Ready',
  starting: 'Starting',
  running: 'Running',
  failed: 'Failed',
  stopped: 'Stopped',
};

export function pluginStatus(runtime: PluginRuntime, service: PluginService | undefined): PluginStatus {
  const connections = (service?.connections() ?? []) as ConnectionStatus[];
  const record = runtime.record;
  const base = {
    plugin: record.identity,
    version: record.version,
    digest: record.digest,
    world: runtime.world ?? (record.manifest.runtime?.world === 'yoi:plugin/instance@1.0.0' ? 'instance' : record.manifest.runtime ? 'tool' : null),
    websocket_connections: connections,
    ...instancePoolOf(runtime),
  } as const;
  if (!service) {
    return {
      ...base,
      lifecycle: RUNTIME_STATES[runtime.state],
      restarts: 0,
      queue: null,
      counters: null,
      discards: runtimeDiscards(runtime.log),
      requests: null,
      dead_letters: 0,
      last_event: null,
      last_error: runtime.lastError,
      component_status: runtime.componentStatus,
      recent_command_results: [],
      timers: [],
      timer_ticks_late: 0,
      diagnostics: [],
    };
  }
  return {
    ...base,
    lifecycle: service.state,
    restarts: service.restarts,
    queue: { depth: service.queueDepth, capacity: service.policy.queueCapacity, backpressure_ms: service.backpressureMs },
    counters: { ...service.counters },
    discards: service.discards,
    requests: service.requests,
    dead_letters: service.deadLetterCount,
    journal: service.journal,
    last_event: service.lastEvent,
    last_error: service.lastError ?? runtime.lastError,
    component_status: service.componentStatus,
    recent_command_results: service.commandResults,
    timers: service.timers,
    timer_ticks_late: service.lateTimerTicks,
    diagnostics: service.diagnostics,
  };
}

function instancePoolOf(runtime: PluginRuntime): { instance_pool?: InstancePoolStatus } {
  const pool = runtime.sandboxCounters?.instancePool;
  return pool ? { instance_pool: pool } : {};
}
