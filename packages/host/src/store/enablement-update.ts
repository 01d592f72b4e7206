import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import type { JsonValue } from '../manifest/types.js';
import { parseEnablementConfig, type EnablementEntry, type Grants } from './enablement.js';
import { findBlocks, headerName, renderGrantTarget, unreadable, upsertEnablement, verify, type EditResult } from './enablement-edit.js';
import { indentOf, scanAssignments, withoutComment, type Assignment } from './toml-lines.js';
import { tomlInline, tomlKey } from './toml-emit.js';

/**
 * Updates one `[[plugins.enabled]]` entry in place (an upgrade: new pin, grants for what is new,
 * limits), keeping everything the operator wrote that the change does not touch: comments
 * (above, inside and after lines), the order of keys, hand-written tables (`config`,
 * `limits`, `websocket`, `headers` of a grant target) and the position of the entry in the
 * file. Only the values that change are rewritten; grant targets that stay are left as they
 * are, those that go are removed, new ones are appended to the entry.
 *
 * The result is verified by re-parsing (every other entry unchanged, this one equal to
 * `after`). When the entry is written in a shape these line edits do not handle (e.g. grants
 * as an inline table), the entry is rewritten whole instead (`comments_kept: false`).
 */
export type UpdateResult = (EditResult & { ok: true; comments_kept: boolean }) | { ok: false; message: string };

interface Section {
  /** Dotted header name, e.g. `plugins.enabled.grants.request`; `plugins.enabled` for the entry's own table. */
  readonly name: string;
  readonly arrayTable: boolean;
  /** First line (comments attached above the header included). */
  readonly start: number;
  readonly header: number;
  readonly end: number;
}

const ENTRY = 'plugins.enabled';
const GRANTS = 'plugins.enabled.grants';
const TARGET_KINDS = ['request', 'websocket', 'fs'] as const;

function sectionsOf(lines: readonly string[], start: number, end: number): Section[] | null {
  const headers: { index: number; name: string; arrayTable: boolean }[] = [];
  let i = start;
  while (i < end) {
    const name = headerName(lines[i]!);
    if (name !== undefined && /^\s*\[/.test(lines[i]!)) {
      headers.push({ index: i, name, arrayTable: /^\s*\[\[/.test(lines[i]!) });
      i++;
      continue;
    }
    const [assignment] = scanAssignments(lines, i, end);
    if (assignment && assignment.start === i) i = assignment.end;
    else i++;
  }
  if (headers[0]?.name !== ENTRY || headers[0].index !== firstCode(lines, start, end)) return null;
  return headers.map((h, k) => {
    const next = headers[k + 1];
    let sectionEnd = end;
    if (next) {
      sectionEnd = next.index;
      while (sectionEnd > h.index + 1 && /^\s*#/.test(lines[sectionEnd - 1]!)) sectionEnd--;
    }
    const sectionStart = k === 0 ? start : headers[k - 1] ? attachedStart(lines, h.index, headers[k - 1]!.index) : h.index;
    return { name: h.name, arrayTable: h.arrayTable, start: sectionStart, header: h.index, end: sectionEnd };
  });
}

function firstCode(lines: readonly string[], start: number, end: number): number {
  for (let i = start; i < end; i++) if (!/^\s*(#.*)?$/.test(lines[i]!)) return i;
  return end;
}

function attachedStart(lines: readonly string[], header: number, previousHeader: number): number {
  let s = header;
  while (s > previousHeader + 1 && /^\s*#/.test(lines[s - 1]!)) s--;
  return s;
}

type Change = { readonly key: string; readonly value: JsonValue | undefined };

/** Rewrites, removes or adds single assignments of one table body; the rest stays verbatim. */
function editBody(lines: readonly string[], section: Section, changes: readonly Change[], special?: (a: Assignment) => string[] | null): string[] {
  const assignments = scanAssignments(lines, section.header + 1, section.end);
  const replaced = new Map<number, string[]>(); // assignment start → its new lines (none: removed)
  const additions: string[] = [];
  for (const change of changes) {
    const found = assignments.find((a) => a.key === change.key);
    if (!found) {
      if (change.value !== undefined) additions.push(`${tomlKey(change.key)} = ${tomlInline(change.value)}`);
    } else if (change.value === undefined) replaced.set(found.start, []);
    else replaced.set(found.start, special?.(found) ?? [`${indentOf(lines[found.start]!)}${tomlKey(change.key)} = ${tomlInline(change.value)}${found.comment}`]);
  }
  const out: string[] = [];
  // New keys go after the last assignment left in the table (or right after the header).
  let insertAt = -1;
  for (let line = section.start; line < section.end; ) {
    const assignment = assignments.find((a) => a.start === line);
    if (assignment) {
      const kept = replaced.get(line) ?? lines.slice(assignment.start, assignment.end);
      out.push(...kept);
      if (kept.length > 0) insertAt = out.length;
      line = assignment.end;
      continue;
    }
    out.push(lines[line]!);
    if (line === section.header) insertAt = out.length;
    line++;
  }
  if (additions.length > 0) out.splice(insertAt < 0 ? out.length : insertAt, 0, ...additions);
  return out;
}

function permissionKey(value: unknown): string {
  return JSON.stringify(value, Object.keys((value ?? {}) as object).sort());
}

/**
 * A multi-line `permissions = [` array with one permission per line: removes the lines of
 * permissions that go and appends new ones before `]`, so comments between them stay.
 * Null when the array is written another way (it is then rewritten whole).
 */
function editPermissionLines(lines: readonly string[], a: Assignment, before: Grants, after: Grants): string[] | null {
  if (after.permissions.length === 0 || a.end - a.start < 2 || !/=\s*\[\s*(#.*)?$/.test(lines[a.start]!) || !/^\s*\]\s*(#.*)?$/.test(lines[a.end - 1]!)) return null;
  const keep = new Map<string, number>();
  for (const p of after.permissions) keep.set(permissionKey(p), (keep.get(permissionKey(p)) ?? 0) + 1);
  const out = [lines[a.start]!];
  let seen = 0;
  let indent = '  ';
  for (let i = a.start + 1; i < a.end - 1; i++) {
    const line = lines[i]!;
    if (/^\s*(#.*)?$/.test(line)) {
      out.push(line);
      continue;
    }
    let element: unknown;
    try {
      const parsed = parseToml(`x = [${withoutComment(line)}]`) as { x: unknown[] };
      if (parsed.x.length !== 1) return null;
      element = parsed.x[0];
    } catch {
      return null;
    }
    seen++;
    indent = indentOf(line);
    const key = permissionKey(element);
    const left = keep.get(key) ?? 0;
    if (left > 0) {
      keep.set(key, left - 1);
      out.push(line);
    }
  }
  if (seen !== before.permissions.length) return null;
  for (const p of after.permissions) {
    const key = permissionKey(p);
    const left = keep.get(key) ?? 0;
    if (left > 0) {
      keep.set(key, left - 1);
      out.push(`${indent}${tomlInline(p as unknown as JsonValue)},`);
    }
  }
  out.push(lines[a.end - 1]!);
  return out;
}

function changesOf(before: Record<string, unknown>, after: Record<string, unknown>, keys: readonly string[]): Change[] {
  return keys.filter((k) => !isDeepStrictEqual(before[k], after[k])).map((k) => ({ key: k, value: after[k] as JsonValue | undefined }));
}

/** Rewrites the block in place; null when its shape is not one these edits handle. */
function editBlock(lines: readonly string[], start: number, end: number, before: EnablementEntry, after: EnablementEntry): string[] | null {
  const sections = sectionsOf(lines, start, end);
  if (!sections) return null;
  const has = (name: string) => sections.some((s) => s.name === name);
  const mainKeys = scanAssignments(lines, sections[0]!.header + 1, sections[0]!.end).map((a) => a.key);
  // Keys written as dotted keys or inline tables in the entry's own table are not edited here.
  if (mainKeys.some((k) => k.includes('.') || k === 'grants' || k === 'limits' || k === 'websocket')) return null;
  for (const kind of TARGET_KINDS) {
    const written = sections.filter((s) => s.name === `${GRANTS}.${kind}` && s.arrayTable).length;
    if (written !== before.grants[kind].length) return null;
  }
  const configChanged = !isDeepStrictEqual(before.config, after.config);
  if (configChanged && has(`${ENTRY}.config`)) return null;
  const grantsWritten = has(GRANTS);
  if (!grantsWritten && (before.grants.permissions.length > 0 || before.grants.id !== undefined)) return null;

  const out: string[] = [];
  const limitsChanged = !isDeepStrictEqual(before.limits ?? {}, after.limits ?? {});
  const limitKeys = [...new Set([...Object.keys(before.limits ?? {}), ...Object.keys(after.limits ?? {})])];
  const keptTargets: Record<string, boolean[]> = {};
  for (const kind of TARGET_KINDS) {
    const remaining = [...after.grants[kind]];
    keptTargets[kind] = before.grants[kind].map((t) => {
      const at = remaining.findIndex((r) => isDeepStrictEqual(r, t));
      if (at < 0) return false;
      remaining.splice(at, 1);
      return true;
    });
  }
  const counters: Record<string, number> = { request: 0, websocket: 0, fs: 0 };
  let droppedParent: string | null = null;
  let lastGrantsLine = -1;
  sections.forEach((section) => {
    // A sub-table of a dropped array table (e.g. its `headers`) goes with it.
    if (droppedParent !== null && section.name.startsWith(`${droppedParent}.`)) return;
    droppedParent = null;
    const kind = TARGET_KINDS.find((k) => section.name === `${GRANTS}.${k}` && section.arrayTable);
    if (section.name === ENTRY) {
      out.push(...editBody(lines, section, changesOf(before as unknown as Record<string, unknown>, normalizedMain(after), ['version', 'digest', 'surfaces', 'config']).map(withSurfaces)));
      if (limitsChanged && !has(`${ENTRY}.limits`)) {
        let blanks = 0;
        while (out.length > 0 && /^\s*$/.test(out.at(-1)!)) {
          out.pop();
          blanks++;
        }
        out.push('', '[plugins.enabled.limits]', ...Object.entries(after.limits ?? {}).map(([k, v]) => `${k} = ${String(v)}`), ...Array<string>(Math.max(blanks, sections.length > 1 ? 1 : 0)).fill(''));
      }
    } else if (section.name === `${ENTRY}.limits` && limitsChanged) {
      out.push(...editBody(lines, section, changesOf((before.limits ?? {}) as Record<string, unknown>, (after.limits ?? {}) as Record<string, unknown>, limitKeys)));
    } else if (section.name === GRANTS) {
      const special = (a: Assignment) => (a.key === 'permissions' ? editPermissionLines(lines, a, before.grants, after.grants) : null);
      out.push(...editBody(lines, section, changesOf(before.grants as unknown as Record<string, unknown>, after.grants as unknown as Record<string, unknown>, ['id', 'version', 'digest', 'permissions']), special));
    } else if (kind !== undefined) {
      const index = counters[kind]!++;
      if (!keptTargets[kind]![index]) {
        droppedParent = section.name;
        return;
      }
      out.push(...lines.slice(section.start, section.end));
    } else out.push(...lines.slice(section.start, section.end));
    if (section.name.startsWith(GRANTS)) lastGrantsLine = out.length;
  });

  const added: string[] = [];
  if (!grantsWritten && hasGrantContent(after.grants)) {
    added.push('', '[plugins.enabled.grants]', ...['id', 'version', 'digest'].flatMap((k) => (after.grants[k as 'id'] !== undefined ? [`${k} = ${tomlInline(after.grants[k as 'id']!)}`] : [])));
    if (after.grants.permissions.length > 0) added.push('permissions = [', ...after.grants.permissions.map((p) => `  ${tomlInline(p as unknown as JsonValue)},`), ']');
  }
  for (const kind of TARGET_KINDS) {
    const remaining = [...after.grants[kind]];
    for (const t of before.grants[kind]) {
      const at = remaining.findIndex((r) => isDeepStrictEqual(r, t));
      if (at >= 0) remaining.splice(at, 1);
    }
    for (const t of remaining) added.push('', ...renderGrantTarget(kind, t));
  }
  if (added.length > 0) {
    // After the last grants table (before the blank lines that end the entry).
    let at = lastGrantsLine >= 0 ? lastGrantsLine : out.length;
    while (at > 0 && /^\s*$/.test(out[at - 1]!)) at--;
    out.splice(at, 0, ...added);
  }
  return out;
}

function normalizedMain(entry: EnablementEntry): Record<string, unknown> {
  return { version: entry.version, digest: entry.digest, surfaces: entry.surfaces.length > 0 ? [...entry.surfaces] : undefined, config: entry.config };
}

/** `surfaces = []` is how "all declared" reads back; an empty list is written as no key. */
function withSurfaces(change: Change): Change {
  return change.key === 'surfaces' && Array.isArray(change.value) && change.value.length === 0 ? { key: 'surfaces', value: undefined } : change;
}

function hasGrantContent(g: Grants): boolean {
  return g.id !== undefined || g.permissions.length + g.request.length + g.websocket.length + g.fs.length > 0;
}

export function updateEnablement(text: string, before: EnablementEntry, after: EnablementEntry): UpdateResult {
  const parsed = parseEnablementConfig(text);
  if (!parsed.ok) return { ok: false, message: 'plugin enablement config is not valid; fix it before editing' };
  const expected = parsed.value.enabled.map((e) => (e.id === before.id ? after : e));
  const lines = text.split('\n');
  const blocks = findBlocks(lines).filter((b) => b.id === before.id);
  if (blocks.length === 1 && after.id === before.id) {
    const block = blocks[0]!;
    let edited: string[] | null;
    try {
      edited = editBlock(lines, block.start, block.end, before, after);
    } catch {
      edited = null; // a value TOML cannot hold (null in config): the whole-entry path reports it
    }
    if (edited) {
      const next = [...lines.slice(0, block.start), ...edited, ...lines.slice(block.end)].join('\n');
      const result = verify(next, expected, { replaced: true, removed: false }, unreadable(parsed.value, '\u0000'));
      if (result.ok) return { ...result, comments_kept: true };
    }
  }
  const whole = upsertEnablement(text, after);
  return whole.ok ? { ...whole, comments_kept: false } : whole;
}
