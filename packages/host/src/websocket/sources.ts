import type { JsonValue } from '../manifest/types.js';
import { isWebSocketSource } from '../manifest/sources.js';
import type { ResolvedPlugin } from '../store/resolve.js';

export interface SourceSpec {
  readonly ingress: string;
  /** The source string as declared (with placeholders filled in). */
  readonly source: string;
  readonly url: string;
}

/**
 * WebSocket sources of the enabled ingresses: `websocket:<ws(s) URL>` or a bare `ws(s)://`
 * URL (Yoi's syntax). Our addition: `{config.KEY}` is replaced by the enablement config's
 * string value, so pointing a plugin at another server is configuration only (the URL must
 * still be declared and granted). Other sources (`schedule:`) are not the driver's.
 */
export function parseSources(record: ResolvedPlugin): { sources: SourceSpec[]; problems: string[] } {
  const sources: SourceSpec[] = [];
  const problems: string[] = [];
  if (!record.enabledSurfaces.includes('ingress')) return { sources, problems };
  const config = (typeof record.config === 'object' && record.config !== null && !Array.isArray(record.config) ? record.config : {}) as Record<string, JsonValue>;
  for (const ingress of record.manifest.ingresses) {
    for (const raw of ingress.sources) {
      if (!isWebSocketSource(raw)) continue;
      let missing: string | null = null;
      const filled = raw.replace(/\{config\.([A-Za-z0-9_-]{1,64})\}/g, (_m, key: string) => {
        const value = config[key];
        if (typeof value !== 'string') {
          missing ??= key;
          return '';
        }
        return value;
      });
      if (missing) {
        problems.push(`invalid WebSocket ingress source for ${ingress.name}: config value \`${missing}\` is not set`);
        continue;
      }
      const url = filled.startsWith('websocket:') ? filled.slice('websocket:'.length) : filled;
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        problems.push(`invalid WebSocket ingress source for ${ingress.name}: the URL cannot be parsed`);
        continue;
      }
      if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
        problems.push(`invalid WebSocket ingress source for ${ingress.name}: the scheme must be ws or wss`);
        continue;
      }
      sources.push({ ingress: ingress.name, source: filled, url: parsed.href });
    }
  }
  return { sources, problems };
}
