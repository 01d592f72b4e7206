/**
 * Where a reload may start a plugin's service. On one host it always may. When several hosts
 * share a workspace (serve on JetStream), only the owner of the plugin's lease runs its service:
 * the cluster runs each plugin's change in the plugin's own queue of lease work (so no start,
 * stop or hand-over of that plugin interleaves with it) and says whether this host owns it now.
 */
export type ServiceGate = <T>(identity: string, change: (owned: boolean) => Promise<T>) => Promise<T>;

const ALWAYS: ServiceGate = (_identity, change) => change(true);
const gates = new WeakMap<object, ServiceGate>();

/** Sets the gate a host's reloads go through (serve does this on a cluster host). */
export function setServiceGate(host: object, gate: ServiceGate): void {
  gates.set(host, gate);
}

export function serviceGateOf(host: object): ServiceGate {
  return gates.get(host) ?? ALWAYS;
}
