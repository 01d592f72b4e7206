import { permissionLabel } from '../authority/permissions.js';
import { requestTargetLabel, websocketTargetLabel } from '../authority/targets.js';
import type { Permission, RequestTarget, WebSocketTarget } from '../manifest/types.js';
import type { Grants } from './enablement.js';

/** What a package requests: permissions and the targets of its request and WebSocket host APIs. */
export interface Requests {
  readonly permissions: readonly Permission[];
  readonly request: readonly RequestTarget[];
  readonly websocket: readonly WebSocketTarget[];
}

interface LabelDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly unchanged: string[];
}

/**
 * What changed in a plugin's requests between the package an entry was pinned to and a new
 * one. Compared with the previous package's manifest when it is still in its store; otherwise
 * with what the entry grants (then a request the operator had declined counts as added, and
 * no target counts as removed: a hand-written grant target may cover several requests).
 * `nothing` is a first enable: everything is added.
 */
export interface RequestDiff {
  readonly compared_with: 'previous_package' | 'previous_grants' | 'nothing';
  readonly permissions: LabelDiff;
  readonly request: LabelDiff;
  readonly websocket: LabelDiff;
}

function diffLabels(before: readonly string[], after: readonly string[], keepRemoved: boolean): LabelDiff {
  const old = new Set(before);
  const now = new Set(after);
  return {
    added: [...now].filter((l) => !old.has(l)),
    removed: keepRemoved ? [] : [...old].filter((l) => !now.has(l)),
    unchanged: [...now].filter((l) => old.has(l)),
  };
}

export function diffRequests(previous: Requests | null, grants: Grants | null, next: Requests): RequestDiff {
  const labels = (r: Requests) => ({ permissions: r.permissions.map(permissionLabel), request: r.request.map(requestTargetLabel), websocket: r.websocket.map(websocketTargetLabel) });
  const after = labels(next);
  if (previous === null && grants === null) {
    return { compared_with: 'nothing', permissions: diffLabels([], after.permissions, false), request: diffLabels([], after.request, false), websocket: diffLabels([], after.websocket, false) };
  }
  const before = previous ? labels(previous) : labels(grants!);
  const byGrants = previous === null;
  return {
    compared_with: byGrants ? 'previous_grants' : 'previous_package',
    permissions: diffLabels(before.permissions, after.permissions, false),
    request: diffLabels(before.request, after.request, byGrants),
    websocket: diffLabels(before.websocket, after.websocket, byGrants),
  };
}
