import { toolDefinitionProblems } from '../manifest/tool-schema.js';
import { COMPONENT_WORLDS, HOST_APIS, INSTANCE_WORLD, type RequestTarget, type Surface, type WebSocketTarget } from '../manifest/types.js';
import { CORE_MODULE_MESSAGE, placeholderMessage, type ComponentFormat } from '../package/component-format.js';
import { COMPONENT_RUNTIME_KIND, LEGACY_RUNTIME_KIND } from '../manifest/validate.js';
import { authorizeHostApi, authorizeIngress, authorizeService, authorizeTool, type AuthoritySubject } from './authorize.js';
import { hasPermission } from './permissions.js';
import { isBroadTarget, requestTargetLabel, targetCovers, targetsIntersect, websocketTargetLabel } from './targets.js';

/**
 * Whether the manifest's runtime can run here, and why not.
 * @public
 */
export interface RuntimeInspection {
  readonly eligible: boolean;
  readonly status: string;
  readonly diagnostic?: string;
}

/**
 * Whether a declared host API can be used, and why not.
 * @public
 */
export interface HostApiInspection {
  readonly permission: string;
  readonly requested: boolean;
  readonly granted: boolean;
  readonly eligible: boolean;
  readonly diagnostic?: string;
}

/** Whether a declared tool can be used with the grants given, and what is missing. */
export interface ToolInspection {
  readonly name: string;
  readonly permission: string;
  readonly requested: boolean;
  readonly granted: boolean;
  readonly eligible: boolean;
  readonly external_write: boolean;
  readonly diagnostic?: string;
}

/**
 * Whether a declared service or ingress can be used, and why not.
 * @public
 */
export interface NamedSurfaceInspection {
  readonly name: string;
  readonly permission: string;
  readonly requested: boolean;
  readonly granted: boolean;
  readonly eligible: boolean;
  readonly diagnostic?: string;
}

/** What a plugin could do with the grants it has, found without running it. */
export interface StaticInspection {
  readonly runtime: RuntimeInspection;
  readonly host_apis: readonly HostApiInspection[];
  readonly tools: readonly ToolInspection[];
  readonly services: readonly NamedSurfaceInspection[];
  readonly ingresses: readonly NamedSurfaceInspection[];
  readonly statically_eligible: boolean;
}

export interface InspectionSubject extends AuthoritySubject {
  readonly enabledSurfaces: readonly Surface[];
  /** Known when the package bytes were read (discovery, check); absent means not inspected. */
  readonly componentFormat?: ComponentFormat;
}

function withDiagnostic<T extends object>(value: T, diagnostic: string | null | undefined): T & { diagnostic?: string } {
  return diagnostic ? { ...value, diagnostic } : value;
}

/** Static inspection: what the record would be allowed to do. No I/O, no execution. */
export function inspectStatic(subject: InspectionSubject): StaticInspection {
  const runtime = inspectRuntime(subject);
  const host_apis = inspectHostApis(subject);
  const enabled = new Set(subject.enabledSurfaces);
  const tools = enabled.has('tool') ? inspectTools(subject) : [];
  const instanceCapable = subject.manifest.runtime?.kind === COMPONENT_RUNTIME_KIND && subject.manifest.runtime.world === INSTANCE_WORLD;
  const services = enabled.has('service')
    ? subject.manifest.services.map((s) =>
        namedSurface(subject, 'service', s.name, instanceCapable ? null : 'service requires instance-capable component world', authorizeService(subject, s.name)),
      )
    : [];
  const ingresses = enabled.has('ingress')
    ? subject.manifest.ingresses.map((i) =>
        namedSurface(subject, 'ingress', i.name, instanceCapable ? null : 'ingress requires instance-capable component world', authorizeIngress(subject, i.name)),
      )
    : [];
  const statically_eligible =
    runtime.eligible && [...host_apis, ...tools, ...services, ...ingresses].every((entry) => entry.eligible);
  return { runtime, host_apis, tools, services, ingresses, statically_eligible };
}

function inspectRuntime(subject: InspectionSubject): RuntimeInspection {
  const runtime = subject.manifest.runtime;
  if (runtime === undefined) return { eligible: false, status: 'none', diagnostic: 'plugin runtime is not declared' };
  if (runtime.kind === LEGACY_RUNTIME_KIND) {
    return {
      eligible: false,
      status: `wasm/${runtime.abi ?? '<missing-abi>'}`,
      diagnostic: 'legacy raw wasm plugin runtime is not an active execution path; use wasm-component',
    };
  }
  if (runtime.kind !== COMPONENT_RUNTIME_KIND) {
    return { eligible: false, status: runtime.kind, diagnostic: `unsupported plugin runtime kind \`${runtime.kind}\`` };
  }
  const status = `wasm-component/${runtime.world ?? '<missing-world>'}`;
  if (runtime.world === undefined || !(COMPONENT_WORLDS as readonly string[]).includes(runtime.world) || runtime.component === undefined) {
    return { eligible: false, status, diagnostic: 'unsupported or missing plugin component world' };
  }
  if (subject.componentFormat === 'core-module') return { eligible: false, status, diagnostic: CORE_MODULE_MESSAGE };
  if (subject.componentFormat === 'placeholder') return { eligible: true, status, diagnostic: placeholderMessage(runtime.component) };
  return { eligible: true, status };
}

function inspectHostApis(subject: InspectionSubject): HostApiInspection[] {
  const out: HostApiInspection[] = [];
  for (const api of HOST_APIS) {
    const permission = { kind: 'host_api', api } as const;
    const requested = hasPermission(subject.manifest.permissions, permission);
    const granted = hasPermission(subject.grants.permissions, permission);
    if (!requested && !granted) continue;
    const denial = authorizeHostApi(subject, api);
    out.push(withDiagnostic({ permission: `host_api.${api}`, requested, granted, eligible: denial === null }, denial));
  }
  out.push(...inspectTargets('request', subject.manifest.request, subject.grants.request, requestTargetLabel));
  out.push(...inspectTargets('websocket', subject.manifest.websocket, subject.grants.websocket, websocketTargetLabel));
  return out;
}

function inspectTargets<T extends RequestTarget | WebSocketTarget>(
  api: 'request' | 'websocket',
  declared: readonly T[],
  grants: readonly T[],
  label: (t: T) => string,
): HostApiInspection[] {
  const noun = api === 'request' ? 'request' : 'WebSocket';
  const out: HostApiInspection[] = [];
  for (const target of declared) {
    const intersecting = grants.filter((g) => targetsIntersect(target, g));
    const covering = intersecting.filter((g) => targetCovers(g, target));
    const broad = isBroadTarget(target);
    let diagnostic: string | undefined;
    if (intersecting.length === 0) {
      diagnostic = `missing enabled ${noun} grant for manifest target${broad ? '; broad/arbitrary target' : ''}`;
    } else if (covering.length === 0) {
      diagnostic = broad
        ? `partially covered by enabled ${noun} grant; broad manifest target is constrained by narrower grants`
        : `partially covered by enabled ${noun} grant; only intersecting URLs are allowed`;
    } else if (covering.some(isBroadTarget)) {
      diagnostic = `covered by broad/arbitrary enabled ${noun} grant`;
    }
    out.push(
      withDiagnostic(
        { permission: `host_api.${api} target ${label(target)}`, requested: true, granted: intersecting.length > 0, eligible: intersecting.length > 0 },
        diagnostic,
      ),
    );
  }
  for (const grant of grants) {
    const intersecting = declared.filter((t) => targetsIntersect(t, grant));
    if (intersecting.length > 0) {
      const diagnostic = isBroadTarget(grant)
        ? `broad/arbitrary enabled ${noun} grant is constrained by manifest declarations`
        : intersecting.some((t) => targetCovers(t, grant))
          ? undefined
          : `enabled ${noun} grant is only usable where it intersects manifest declarations`;
      out.push(withDiagnostic({ permission: `host_api.${api} grant ${label(grant)}`, requested: true, granted: true, eligible: true }, diagnostic));
    } else {
      out.push({
        permission: `host_api.${api} grant-only ${label(grant)}`,
        requested: false,
        granted: true,
        eligible: false,
        diagnostic: `enabled ${noun} grant has no matching manifest declaration${isBroadTarget(grant) ? '; broad/arbitrary target' : ''}`,
      });
    }
  }
  return out;
}

function inspectTools(subject: InspectionSubject): ToolInspection[] {
  const problems = toolDefinitionProblems(subject.manifest);
  return subject.manifest.tools.map((tool, index) => {
    const permission = { kind: 'tool', name: tool.name } as const;
    const denial = authorizeTool(subject, tool.name);
    const messages = [...(problems[index] ?? []), ...(denial ? [denial] : [])];
    return withDiagnostic(
      {
        name: tool.name,
        permission: `tool.${tool.name}`,
        requested: hasPermission(subject.manifest.permissions, permission),
        granted: hasPermission(subject.grants.permissions, permission),
        eligible: messages.length === 0,
        external_write: tool.external_write,
      },
      messages.length > 0 ? messages.join('; ') : undefined,
    );
  });
}

function namedSurface(
  subject: InspectionSubject,
  kind: 'service' | 'ingress',
  name: string,
  worldProblem: string | null,
  denial: string | null,
): NamedSurfaceInspection {
  const permission = { kind, name } as const;
  const messages = [worldProblem, denial].filter((m): m is string => m !== null);
  return withDiagnostic(
    {
      name,
      permission: `${kind}.${name}`,
      requested: hasPermission(subject.manifest.permissions, permission),
      granted: hasPermission(subject.grants.permissions, permission),
      eligible: messages.length === 0,
    },
    messages.length > 0 ? messages.join('; ') : undefined,
  );
}

