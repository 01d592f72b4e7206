import type { PluginHostOptions } from '../host.js';
import type { PluginRuntime } from '../runtime/plugin-runtime.js';
import { PluginService } from '../service/plugin-service.js';
import type { JournalWriter } from '../service/journal-writer.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { WebSocketDriver } from '../websocket/driver.js';
import { DEFAULT_CONNECTION_POLICY } from '../websocket/policy.js';
import { parseSources } from '../websocket/sources.js';
import { provideServices } from './plugin-unit.js';

/** The service of a supervised plugin, with its WebSocket driver when the host dials for it. */
function createService(record: ResolvedPlugin, runtime: PluginRuntime, options: PluginHostOptions, writer: JournalWriter): PluginService {
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
  return service;
}

// Evaluating this module makes services available to createPluginUnit (plugin-unit.ts says why).
provideServices(createService);
