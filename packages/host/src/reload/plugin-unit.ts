import type { PluginHostOptions } from '../host.js';
import { INSTANCE_WORLD } from '../manifest/types.js';
import { PluginRuntime } from '../runtime/plugin-runtime.js';
import type { PluginService } from '../service/plugin-service.js';
import type { JournalWriter } from '../service/journal-writer.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { runtimeControlLocations } from '../store/control-paths.js';

/** One enabled plugin as a host runs it: its runtime and, for a supervised instance, its service. */
export interface PluginUnit {
  readonly record: ResolvedPlugin;
  readonly runtime: PluginRuntime;
  readonly service: PluginService | null;
}

type CreateService = (record: ResolvedPlugin, runtime: PluginRuntime, options: PluginHostOptions, writer: JournalWriter) => PluginService;

/**
 * The service machinery (ingress, outbox, commands, timers, the WebSocket driver: ~35 modules)
 * is loaded only by a host that supervises a service, so that a one-shot tool call does not
 * pay for it. `service-unit.ts` provides it when evaluated: through {@link loadServices}, or
 * statically through the library entry (index.ts), whose `fromResolved` stays synchronous.
 */
let createService: CreateService | null = null;

export function provideServices(create: CreateService): void {
  createService = create;
}

export async function loadServices(): Promise<void> {
  if (!createService) await import('./service-unit.js');
}

/** Whether the plugin runs as a supervised service (instance world, service or ingress enabled). */
export function isSupervised(record: ResolvedPlugin): boolean {
  return record.manifest.runtime?.world === INSTANCE_WORLD && (record.enabledSurfaces.includes('service') || record.enabledSurfaces.includes('ingress'));
}

/** Builds (never starts) the runtime and service of one resolved plugin. */
export function createPluginUnit(given: ResolvedPlugin, options: PluginHostOptions, writer: JournalWriter): PluginUnit {
  // The cache whose JS the host runs and the dead-letter folder are out of reach of fs grants too.
  const extraControl = runtimeControlLocations(options);
  const record = extraControl.length > 0 ? { ...given, controlLocations: [...(given.controlLocations ?? []), ...extraControl] } : given;
  const supervised = isSupervised(record);
  const runtime = new PluginRuntime(record, { ...options, supervised });
  if (!supervised) return { record: given, runtime, service: null };
  if (!createService) throw new Error('internal: the service machinery is not loaded (await loadServices() before building a supervised plugin)');
  return { record: given, runtime, service: createService(record, runtime, options, writer) };
}
