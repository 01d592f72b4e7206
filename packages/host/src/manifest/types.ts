/** The typed `plugin.toml` model (schema_version 1). Field names follow the TOML format. */

export const SURFACES = ['hook', 'tool', 'service', 'ingress', 'wasm'] as const;
export type Surface = (typeof SURFACES)[number];

export const HOST_APIS = ['request', 'websocket', 'fs'] as const;
export type HostApi = (typeof HOST_APIS)[number];

export const COMPONENT_WORLDS = ['yoi:plugin/tool@1.0.0', 'yoi:plugin/instance@1.0.0'] as const;
export type ComponentWorld = (typeof COMPONENT_WORLDS)[number];
export const TOOL_WORLD: ComponentWorld = 'yoi:plugin/tool@1.0.0';
export const INSTANCE_WORLD: ComponentWorld = 'yoi:plugin/instance@1.0.0';

export type Permission =
  | { readonly kind: 'surface'; readonly surface: Surface }
  | { readonly kind: 'tool'; readonly name: string }
  | { readonly kind: 'tool_namespace'; readonly namespace: string }
  | { readonly kind: 'service'; readonly name: string }
  | { readonly kind: 'ingress'; readonly name: string }
  | { readonly kind: 'external_write' }
  | { readonly kind: 'host_api'; readonly api: HostApi }
  /** Our addition: lets a service append domain events of this type (`domain_event_append`). */
  | { readonly kind: 'domain_event'; readonly name: string };

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * A header the host attaches from a secret (grant side only, our addition): the guest never
 * sees the value, which is `prefix` + the secret.
 */
export interface SecretHeader {
  readonly name: string;
  readonly secret: string;
  readonly prefix?: string;
}

/** A `[[request]]` target (manifest request) or `[[grants.request]]` target (grant). */
export interface RequestTarget {
  readonly scheme: string;
  readonly host: string;
  readonly port?: number;
  readonly methods: readonly string[];
  readonly path_prefixes: readonly string[];
  /** Grants only: headers the host attaches from secrets. */
  readonly headers?: readonly SecretHeader[];
}

/** A `[[websocket]]` / `[[grants.websocket]]` target: like a request target without methods. */
export interface WebSocketTarget {
  readonly scheme: string;
  readonly host: string;
  readonly port?: number;
  readonly path_prefixes: readonly string[];
  /** Grants only: handshake headers the host attaches from secrets. */
  readonly headers?: readonly SecretHeader[];
  /** Grants only: secrets the host may substitute for `{{secret:NAME}}` in frames sent on this connection. */
  readonly frame_secrets?: readonly string[];
}

interface RuntimeDecl {
  readonly kind: string;
  readonly entry?: string;
  readonly abi?: string;
  readonly component?: string;
  readonly world?: string;
}

interface HookDecl {
  readonly id: string;
  readonly file: string;
}

export interface ToolDecl {
  readonly name: string;
  readonly description: string;
  readonly input_schema: JsonValue;
  readonly external_write: boolean;
}

export interface ServiceDecl {
  readonly name: string;
  readonly description: string;
  readonly lifecycle: string;
  readonly status_schema?: JsonValue;
  readonly side_effects: readonly string[];
}

export interface IngressDecl {
  readonly name: string;
  readonly description: string;
  readonly event_kinds: readonly string[];
  readonly input_schema?: JsonValue;
  readonly sources: readonly string[];
  readonly side_effects: readonly string[];
}

export interface Manifest {
  readonly schema_version: number;
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly surfaces: readonly Surface[];
  readonly runtime?: RuntimeDecl;
  readonly hooks: readonly HookDecl[];
  readonly tools: readonly ToolDecl[];
  readonly services: readonly ServiceDecl[];
  readonly ingresses: readonly IngressDecl[];
  readonly permissions: readonly Permission[];
  readonly request: readonly RequestTarget[];
  readonly websocket: readonly WebSocketTarget[];
}

/**
 * Declared surfaces: the explicit list plus every surface implied by a declaration
 * (hooks → hook, tools → tool, services → service, ingresses → ingress, runtime → wasm).
 */
export function declaredSurfaces(manifest: Manifest): Set<Surface> {
  const out = new Set<Surface>(manifest.surfaces);
  if (manifest.hooks.length > 0) out.add('hook');
  if (manifest.tools.length > 0) out.add('tool');
  if (manifest.services.length > 0) out.add('service');
  if (manifest.ingresses.length > 0) out.add('ingress');
  if (manifest.runtime !== undefined) out.add('wasm');
  return out;
}
