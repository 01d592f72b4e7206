import type { SourceKind } from '../diagnostics.js';

const SOURCE_KINDS: readonly SourceKind[] = ['user', 'project', 'builtin'];

/** Yoi's safe id: 1..128 bytes of ASCII alphanumerics, `-`, `_`, `.`, not starting or ending with `.`. */
export function isSafeId(value: string): boolean {
  return value.length >= 1 && value.length <= 128 && /^[A-Za-z0-9_.-]+$/.test(value) && !value.startsWith('.') && !value.endsWith('.');
}

/** @public */
export interface PluginRef {
  readonly source: SourceKind;
  readonly id: string;
}

export type RefParse = { readonly ok: true; readonly ref: PluginRef } | { readonly ok: false; readonly reason: 'unqualified' | 'invalid' };

/** Parses a source-qualified ref `user:<id>`, `project:<id>` or `builtin:<id>`. */
export function parsePluginRef(value: string): RefParse {
  const colon = value.indexOf(':');
  if (colon < 0) return { ok: false, reason: 'unqualified' };
  const source = value.slice(0, colon);
  const id = value.slice(colon + 1);
  if (!(SOURCE_KINDS as readonly string[]).includes(source) || !isSafeId(id)) return { ok: false, reason: 'invalid' };
  return { ok: true, ref: { source: source as SourceKind, id } };
}

/** @public */
export function formatPluginRef(ref: PluginRef): string {
  return `${ref.source}:${ref.id}`;
}

/** Tool names: non-empty, at most 128 bytes, no whitespace and no control characters. Returns the reason or null. */
export function toolNameProblem(name: string): string | null {
  if (name.length === 0) return 'name is empty';
  if (Buffer.byteLength(name, 'utf8') > 128) return 'name exceeds 128 bytes';
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/u.test(name)) return 'name contains whitespace or control characters';
  return null;
}
