import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import type { JsonValue, RequestTarget, WebSocketTarget } from '../manifest/types.js';
import { parseEnablementConfig, type EnablementConfig, type EnablementEntry, type FsGrant } from './enablement.js';
import { tomlAssignments, tomlInline } from './toml-emit.js';

/**
 * Text-level edits of `plugins.toml` that keep the operator's comments, formatting and
 * unrelated entries. A `[[plugins.enabled]]` block runs from its header (with the comment
 * lines directly above it) to the next header that is not one of its own sub-tables.
 * Every edit is verified by re-parsing: other entries must come out unchanged.
 */

export interface Block {
  readonly start: number;
  readonly end: number;
  readonly id: string | undefined;
}

const HEADER = /^\s*\[\[?\s*([A-Za-z0-9_.\-" ]+?)\s*\]\]?\s*(#.*)?$/;

export function headerName(line: string): string | undefined {
  const match = HEADER.exec(line);
  return match ? match[1]!.replace(/\s+/g, '').replace(/"/g, '') : undefined;
}

export function findBlocks(lines: readonly string[]): Block[] {
  const headers: { index: number; name: string }[] = [];
  let inMultiline: string | null = null;
  lines.forEach((line, index) => {
    for (const quote of ['"""', "'''"]) {
      const count = line.split(quote).length - 1;
      if (inMultiline === null && count % 2 === 1) inMultiline = quote;
      else if (inMultiline === quote && count % 2 === 1) inMultiline = null;
    }
    if (inMultiline !== null) return;
    const name = headerName(line);
    if (name !== undefined) headers.push({ index, name });
  });
  const blocks: Block[] = [];
  headers.forEach((header, i) => {
    if (header.name !== 'plugins.enabled' || !/^\s*\[\[/.test(lines[header.index]!)) return;
    let next = lines.length;
    for (const later of headers.slice(i + 1)) {
      if (!later.name.startsWith('plugins.enabled.')) {
        next = later.index;
        break;
      }
    }
    const start = attachedCommentStart(lines, header.index);
    const end = next < lines.length ? attachedCommentStart(lines, next) : next;
    const text = lines.slice(header.index, end).join('\n');
    let id: string | undefined;
    try {
      const parsed = parseToml(text) as { plugins?: { enabled?: { id?: unknown }[] } };
      const value = parsed.plugins?.enabled?.[0]?.id;
      id = typeof value === 'string' ? value : undefined;
    } catch {
      id = undefined;
    }
    blocks.push({ start, end, id });
  });
  return blocks;
}

function attachedCommentStart(lines: readonly string[], headerIndex: number): number {
  let start = headerIndex;
  while (start > 0 && /^\s*#/.test(lines[start - 1]!)) start -= 1;
  return start;
}

export type EditResult = { ok: true; text: string; replaced: boolean; removed: boolean } | { ok: false; message: string };

/** Removes every `[[plugins.enabled]]` entry whose id is `id`. */
export function removeEnablement(text: string, id: string): EditResult {
  const before = parseEnablementConfig(text);
  if (!before.ok) return { ok: false, message: 'plugin enablement config is not valid; fix it before editing' };
  const lines = text.split('\n');
  const blocks = findBlocks(lines).filter((b) => b.id === id);
  if (blocks.length === 0) return { ok: true, text, replaced: false, removed: false };
  const kept = lines.filter((_, index) => !blocks.some((b) => index >= b.start && index < b.end));
  const next = collapseBlankRuns(kept.join('\n'));
  return verify(next, before.value.enabled.filter((e) => e.id !== id), { replaced: false, removed: true }, unreadable(before.value, id));
}

/** Adds an entry (replacing any entry with the same id) at the end of the file. */
export function upsertEnablement(text: string, entry: EnablementEntry): EditResult {
  const removed = removeEnablement(text, entry.id);
  if (!removed.ok) return removed;
  const before = parseEnablementConfig(text);
  if (!before.ok) return { ok: false, message: 'plugin enablement config is not valid; fix it before editing' };
  let base = removed.text;
  if (base.length > 0 && !base.endsWith('\n')) base += '\n';
  if (base.trim().length > 0 && !base.endsWith('\n\n')) base += '\n';
  let rendered: string;
  try {
    rendered = renderEntry(entry);
  } catch {
    return { ok: false, message: 'plugin enablement entry cannot be written as TOML (config values must not be null)' };
  }
  const next = base + rendered;
  const expected = [...before.value.enabled.filter((e) => e.id !== entry.id), entry];
  return verify(next, expected, { replaced: removed.removed, removed: false }, unreadable(before.value, entry.id));
}

/** What an edit must leave alone among the entries that could not be read: their ids and diagnostics. */
export function unreadable(config: EnablementConfig, removedId: string): unknown {
  return (config.rejected ?? []).filter((r) => r.id !== removedId).map((r) => [r.id ?? null, r.diagnostic.message]);
}

export function verify(text: string, expected: readonly EnablementEntry[], flags: { replaced: boolean; removed: boolean }, expectedUnreadable: unknown): EditResult {
  const after = parseEnablementConfig(text);
  if (!after.ok || !isDeepStrictEqual(normalize(after.value.enabled), normalize(expected)) || !isDeepStrictEqual(unreadable(after.value, '\u0000'), expectedUnreadable)) {
    return { ok: false, message: 'plugin enablement config could not be edited safely; edit it by hand' };
  }
  return { ok: true, text, ...flags };
}

function normalize(entries: readonly EnablementEntry[]): unknown {
  return JSON.parse(JSON.stringify([...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))));
}

function collapseBlankRuns(text: string): string {
  return text.replace(/\n{3,}/g, '\n\n').replace(/^\n+/, '');
}

function targetRecord(t: RequestTarget | WebSocketTarget): Record<string, JsonValue | undefined> {
  return {
    scheme: t.scheme,
    host: t.host,
    port: t.port,
    ...('methods' in t ? { methods: [...t.methods] } : {}),
    path_prefixes: [...t.path_prefixes],
    ...(t.headers ? { headers: t.headers.map((h) => ({ ...h })) } : {}),
    ...('frame_secrets' in t && t.frame_secrets ? { frame_secrets: [...t.frame_secrets] } : {}),
  };
}

export function renderEntry(entry: EnablementEntry): string {
  const out: string[] = ['[[plugins.enabled]]'];
  out.push(
    ...tomlAssignments({
      id: entry.id,
      version: entry.version,
      digest: entry.digest,
      surfaces: entry.surfaces.length > 0 ? [...entry.surfaces] : undefined,
      config: entry.config,
    }),
  );
  if (entry.limits !== undefined && Object.keys(entry.limits).length > 0) {
    out.push('', '[plugins.enabled.limits]', ...tomlAssignments({ ...entry.limits }));
  }
  if (entry.websocket !== undefined && Object.keys(entry.websocket).length > 0) {
    out.push('', '[plugins.enabled.websocket]', ...tomlAssignments({ ...(entry.websocket as Record<string, JsonValue>) }));
  }
  const g = entry.grants;
  const hasGrants = g.id !== undefined || g.permissions.length + g.request.length + g.websocket.length + g.fs.length > 0;
  if (hasGrants) {
    out.push('', '[plugins.enabled.grants]');
    out.push(...tomlAssignments({ id: g.id, version: g.version, digest: g.digest }));
    if (g.permissions.length > 0) {
      out.push('permissions = [');
      for (const p of g.permissions) out.push(`  ${tomlInline(p as unknown as JsonValue)},`);
      out.push(']');
    }
    for (const t of g.request) out.push('', ...renderGrantTarget('request', t));
    for (const t of g.websocket) out.push('', ...renderGrantTarget('websocket', t));
    for (const f of g.fs) out.push('', ...renderGrantTarget('fs', f));
  }
  return out.join('\n') + '\n';
}

/** One `[[plugins.enabled.grants.<kind>]]` table. */
export function renderGrantTarget(kind: 'request' | 'websocket' | 'fs', target: RequestTarget | WebSocketTarget | FsGrant): string[] {
  const record =
    kind === 'fs'
      ? (() => {
          const f = target as FsGrant;
          return { root: f.root, operations: [...f.operations], ...(f.allow_hard_link_reads !== undefined ? { allow_hard_link_reads: f.allow_hard_link_reads } : {}) };
        })()
      : targetRecord(target as RequestTarget | WebSocketTarget);
  return [`[[plugins.enabled.grants.${kind}]]`, ...tomlAssignments(record)];
}
