import type { JsonValue, Manifest, Surface } from '../manifest/types.js';

/** A configuration value the manifest needs from the enablement but does not get. */
export interface MissingConfig {
  readonly key: string;
  readonly ingress: string;
  readonly source: string;
}

const PLACEHOLDER = /\{config\.([A-Za-z0-9_-]{1,64})\}/g;

/**
 * The enablement `config` keys an enabled plugin needs: every `{config.KEY}` placeholder in
 * the `sources` of its ingresses (our addition, see websocket.md), which must be a string.
 * Known without running anything, so `show`, `list` and `enable` report it, not only a
 * failed start in `status`.
 */
export function missingConfig(manifest: Manifest, enabledSurfaces: readonly Surface[], config: JsonValue | undefined): MissingConfig[] {
  if (!enabledSurfaces.includes('ingress')) return [];
  const values = typeof config === 'object' && config !== null && !Array.isArray(config) ? (config as Record<string, JsonValue>) : {};
  const out: MissingConfig[] = [];
  for (const ingress of manifest.ingresses) {
    for (const source of ingress.sources) {
      for (const match of source.matchAll(PLACEHOLDER)) {
        const key = match[1]!;
        if (typeof values[key] !== 'string' && !out.some((m) => m.key === key && m.ingress === ingress.name)) out.push({ key, ingress: ingress.name, source });
      }
    }
  }
  return out;
}

export function missingConfigMessage(m: MissingConfig): string {
  return `config value \`${m.key}\` is not set: ingress ${m.ingress} source \`${m.source.slice(0, 120)}\` needs it as a string (yoi plugin enable … --config-json '{"${m.key}": "…"}')`;
}
