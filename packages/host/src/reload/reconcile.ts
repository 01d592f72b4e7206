import { boundText, redactText } from '../diagnostics.js';
import { INSTANCE_WORLD } from '../manifest/types.js';
import { isLive } from '../service/lifecycle.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import type { DesiredPlugins } from './desired.js';
import type { PluginUnit } from './plugin-unit.js';
import type { ServiceGate } from './service-gate.js';

export type ReloadAction = 'enable' | 'upgrade' | 'reconfigure' | 'disable' | 'keep';

/** What one reload did to one plugin. `keep`: its entry no longer resolves, the running version stays. */
export interface PluginReloadOutcome {
  readonly plugin: string;
  readonly action: ReloadAction;
  readonly outcome: 'applied' | 'failed';
  /** Why it failed (the running version, if any, keeps running). */
  readonly reason: string | null;
  readonly from: { readonly version: string; readonly digest: string } | null;
  readonly to: { readonly version: string; readonly digest: string } | null;
}

/** How a reconcile reaches the host it changes. */
export interface ReconcileTarget {
  /** The units running now, by identity. */
  units(): ReadonlyMap<string, PluginUnit>;
  /** Builds (never starts) a unit for a record. */
  build(record: ResolvedPlugin): PluginUnit;
  /** Makes exactly these units the host's plugins and tools, in this order. */
  publish(units: readonly PluginUnit[]): Promise<void>;
  /** Runs each plugin's change and says whether this host runs its service (default: always). */
  readonly gate?: ServiceGate;
}

/** What a running plugin is bound to: a change of any of it means a new version must start. */
function fingerprint(record: ResolvedPlugin): string {
  const { digest, version, packagePath, enabledSurfaces, grants, config, limits, websocketPolicy } = record;
  return JSON.stringify([digest, version, packagePath, enabledSurfaces, grants, config ?? null, limits ?? null, websocketPolicy ?? null]);
}

const versionOf = (record: ResolvedPlugin) => ({ version: record.version, digest: record.digest });
const messageOf = (error: unknown) => boundText(redactText(error instanceof Error ? error.message : String(error)), 480);

/**
 * Brings a host's plugins to the desired set, plugin by plugin, one plugin change at a time:
 * enable starts the new plugin; disable stops it (a service's queued events stay in the
 * journal); upgrade or a changed pin, grant, config or limit starts the new version and
 * retires the old one only once the new one runs. A plugin whose change fails keeps its
 * running version (if any), and the outcome says why. Plugins whose binding did not change
 * are never touched, so their services lose nothing. A service is started only where the gate
 * says this host owns the plugin (several hosts: the lease owner); elsewhere the new version is
 * built and published (its tools, its status) and its service waits, as at serve's start.
 */
export async function reconcile(target: ReconcileTarget, desired: DesiredPlugins): Promise<PluginReloadOutcome[]> {
  const outcomes: PluginReloadOutcome[] = [];
  const gate: ServiceGate = target.gate ?? ((_identity, change) => change(true));
  const wanted = new Map(desired.resolved.map((r) => [r.identity, r]));
  const order = [...desired.configured];
  for (const identity of target.units().keys()) if (!order.includes(identity)) order.push(identity);

  // One plugin at a time: each change is published before the next one starts.
  for (const identity of order) {
    const current = target.units().get(identity) ?? null;
    const record = wanted.get(identity) ?? null;
    if (record && current && fingerprint(record) === fingerprint(current.record)) continue;
    if (record && !current) {
      const loaded = await prepare(target, record);
      outcomes.push(loaded.ok ? await gate(identity, (owned) => enable(target, loaded.unit, order, owned)) : { plugin: identity, action: 'enable', outcome: 'failed', reason: messageOf(loaded.error), from: null, to: versionOf(record) });
    } else if (record && current) {
      const loaded = await prepare(target, record);
      outcomes.push(loaded.ok ? await gate(identity, (owned) => replace(target, current, loaded.unit, order, owned)) : replaceOutcome(current, record, 'failed', `${messageOf(loaded.error)}; the running version keeps running`));
    } else if (!record && current && desired.configured.includes(identity)) {
      const reason = desired.problems.get(identity) ?? 'its enablement entry does not resolve';
      outcomes.push({ plugin: identity, action: 'keep', outcome: 'failed', reason: `${reason}; the running version keeps running`, from: versionOf(current.record), to: null });
    } else if (!record && current) {
      outcomes.push(await gate(identity, () => disable(target, current, order)));
    } else if (!record && desired.problems.has(identity)) {
      outcomes.push({ plugin: identity, action: 'enable', outcome: 'failed', reason: desired.problems.get(identity)!, from: null, to: null });
    }
  }
  return outcomes;
}


/**
 * Builds a plugin's new unit and loads it (verified, transpiled, import-checked) before its
 * change is gated: a slow load never holds up the plugin's lease work on a cluster host.
 */
async function prepare(target: ReconcileTarget, record: ResolvedPlugin): Promise<{ readonly ok: true; readonly unit: PluginUnit } | { readonly ok: false; readonly error: unknown }> {
  const unit = target.build(record);
  try {
    await unit.runtime.load();
    return { ok: true, unit };
  } catch (error) {
    await unit.runtime.close('plugin failed to load').catch(() => undefined);
    return { ok: false, error };
  }
}

/** What replacing `current` by `record` did: `upgrade` when the digest changed, else `reconfigure`. */
function replaceOutcome(current: PluginUnit, record: ResolvedPlugin, outcome: 'applied' | 'failed', reason: string | null): PluginReloadOutcome {
  const action: ReloadAction = record.digest === current.record.digest ? 'reconfigure' : 'upgrade';
  return { plugin: record.identity, action, outcome, reason, from: versionOf(current.record), to: versionOf(record) };
}

/** Starts what a unit runs: its service (where this host owns it), or (instance world) its instance; a tool-world component is loaded. */
async function bringUp(unit: PluginUnit, owned: boolean): Promise<void> {
  await unit.runtime.load();
  if (unit.service) {
    if (owned) await unit.service.start();
  } else if (unit.record.manifest.runtime?.world === INSTANCE_WORLD) await unit.runtime.start();
}

/** Stops a unit: its service first (accepted events stay in the journal), then calls in flight finish and the runtime closes. */
async function bringDown(unit: PluginUnit, reason: string): Promise<void> {
  if (unit.service) await unit.service.stop();
  await unit.runtime.idle();
  await unit.runtime.close(reason);
}

async function enable(target: ReconcileTarget, unit: PluginUnit, order: readonly string[], owned: boolean): Promise<PluginReloadOutcome> {
  const record = unit.record;
  try {
    await bringUp(unit, owned);
  } catch (error) {
    await bringDown(unit, 'plugin failed to start').catch(() => undefined);
    return { plugin: record.identity, action: 'enable', outcome: 'failed', reason: messageOf(error), from: null, to: versionOf(record) };
  }
  await publishWith(target, unit, record.identity, order);
  return { plugin: record.identity, action: 'enable', outcome: 'applied', reason: null, from: null, to: versionOf(record) };
}

async function disable(target: ReconcileTarget, current: PluginUnit, order: readonly string[]): Promise<PluginReloadOutcome> {
  const identity = current.record.identity;
  // Unpublished first, so no new call reaches it while it stops.
  await publishWith(target, null, identity, order);
  await bringDown(current, 'plugin is disabled');
  return { plugin: identity, action: 'disable', outcome: 'applied', reason: null, from: versionOf(current.record), to: null };
}

/**
 * A new version (or the same package with a new pin, grants, config or limits). Tool-only
 * plugins: the new one starts next to the old one and takes over its tools. Services of one
 * identity share their journal, so the old service stops first (its queue stays in the
 * journal) and the new one starts on that journal; if it cannot start, the old one starts
 * again and the reload fails. Where this host does not own the plugin, neither runs a service:
 * the new version only takes over the old one's tools and status.
 */
async function replace(target: ReconcileTarget, current: PluginUnit, unit: PluginUnit, order: readonly string[], owned: boolean): Promise<PluginReloadOutcome> {
  const record = unit.record;
  const identity = record.identity;
  const report = (outcome: 'applied' | 'failed', reason: string | null): PluginReloadOutcome => replaceOutcome(current, record, outcome, reason);
  // The new version is loaded (verified, transpiled, import-checked) before the running one is touched (prepare).
  const handOver = current.service !== null || unit.service !== null;
  if (handOver && current.service) await current.service.stop();
  try {
    await bringUp(unit, owned);
  } catch (error) {
    await bringDown(unit, 'plugin failed to start').catch(() => undefined);
    if (handOver && current.service && owned) {
      try {
        await current.service.start();
      } catch (again) {
        return report('failed', `${messageOf(error)}; the previous version could not start again either: ${messageOf(again)}`);
      }
      // An operator may have disabled it through the control API meanwhile.
      if (!isLive(current.service.state)) return report('failed', `${messageOf(error)}; the previous version is ${current.service.state}`);
    }
    return report('failed', `${messageOf(error)}; the running version keeps running`);
  }
  await publishWith(target, unit, identity, order);
  await bringDown(current, 'plugin was replaced by a new version');
  return report('applied', null);
}

/** Publishes the running units with `identity` now run by `unit` (or by nothing). */
async function publishWith(target: ReconcileTarget, unit: PluginUnit | null, identity: string, order: readonly string[]): Promise<void> {
  const units = new Map(target.units());
  if (unit) units.set(identity, unit);
  else units.delete(identity);
  await target.publish(order.map((id) => units.get(id)).filter((u): u is PluginUnit => u !== undefined));
}
