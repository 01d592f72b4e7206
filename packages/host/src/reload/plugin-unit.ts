import type { PluginHostOptions } from '../host.js';
import { INSTANCE_WORLD } from '../manifest/types.js';
import { PluginRuntime } from '../runtime/plugin-runtime.js';
import { PluginService } from '../service/plugin-service.js';
import type { JournalWriter } from '../service/journal-writer.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { runtimeControlLocations } from '../store/control-paths.js';
import { WebSocketDriver } from '../websocket/driver.js';
import { DEFAULT_CONNECTION_POLICY } from '../websocket/policy.js';
import { parseSources } from '../websocket/sources.js';

/** One enabled plugin as a host runs it: its runtime and, for a supervised instance, its service. */
export interface PluginUnit {
  readonly record: ResolvedPlugin;
  readonly runtime: PluginRuntime;
  readonly service: PluginService | null;
}

/** Builds (never starts) the runtime and service of one resolved plugin. */
export function createPluginUnit(given: ResolvedPlugin, options: PluginHostOptions, writer: JournalWriter): PluginUnit {
  // The cache whose JS the host runs and the dead-letter folder are out of reach of fs grants too.
  const extraControl = runtimeControlLocations(options);
  const record = extraControl.length > 0 ? { ...given, controlLocations: [...(given.controlLocations ?? []), ...extraControl] } : given;
  const supervised = record.manifest.runtime?.world === INSTANCE_WORLD && (record.enabledSurfaces.includes('service') || record.enabledSurfaces.includes('ingress'));
  const runtime = new PluginRuntime(record, { ...options, supervised });
  if (!supervised) return { record: given, runtime, service: null };
  const service = new PluginService(runtime, {
    ...(options.servicePolicy ? { policy: options.servicePolicy } : {}),
    ...(options.effects ? { effects: options.effects } : {}),
    writer,
    ...(options.onServiceEvent ? { onEvent: options.onServiceEvent } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
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
  return { record: given, runtime, service };
}
