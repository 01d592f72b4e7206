import type { CheckReport } from '@yoi-plugins/host/internal/inventory/check.js';
import type { InventoryItem, InventorySnapshot } from '@yoi-plugins/host/internal/inventory/snapshot.js';
import { displayTargetLabel } from './target-display.js';
import { escapeTerminal, Shown, term } from './terminal.js';

const MAX_SHOWN_DIAGNOSTICS = 48;

/** Human output only: every value from a package, manifest, guest or remote goes through `term`/`escapeTerminal`. */

function list(values: readonly string[]): Shown {
  return new Shown(values.length > 0 ? term`${values}` : '(none)');
}

function targets(labels: readonly string[]): Shown {
  return new Shown(labels.length > 0 ? labels.map(displayTargetLabel).join(', ') : '(none)');
}

function shortDigest(digest: string | null): string {
  return digest ? `${escapeTerminal(digest.slice(0, 19))}…` : '-';
}

export function renderCheck(report: CheckReport): string {
  const out = [term`plugin check: ${report.input_path} [${report.status}] input_kind=${report.input_kind}`];
  const pkg = report.package;
  if (pkg) {
    out.push(term`package: ${pkg.reference} version=${pkg.version} digest=${pkg.digest} entries=${pkg.entries.length} surfaces=${list(pkg.surfaces)} tools=${pkg.tools.length}`);
  }
  const grants = report.operator_grants;
  if (grants) {
    out.push('an operator enabling it would grant:');
    out.push(`  permissions: ${list(grants.permissions)}`);
    for (const t of grants.request) out.push(`  request target: ${displayTargetLabel(t)}`);
    for (const t of grants.websocket) out.push(`  websocket target: ${displayTargetLabel(t)}`);
    if (grants.fs) out.push('  fs: a root folder and operations chosen by the operator (fs is grant-only)');
  }
  if (report.diagnostics.length === 0) out.push('diagnostics: none');
  else {
    out.push('diagnostics:');
    for (const d of report.diagnostics) out.push(term`  - [${d.kind}/${d.phase}] ${d.message}`);
  }
  out.push('safety: no plugin execution; no network; no enablement config mutation');
  out.push('next steps:');
  for (const step of report.next_steps) out.push(term`  - ${step}`);
  return out.join('\n') + '\n';
}

function toolSummary(item: InventoryItem): string {
  if (item.tools.length === 0) return '-';
  return `${item.tools.filter((t) => t.eligible).length}/${item.tools.length}`;
}

export function renderList(snapshot: InventorySnapshot): string {
  const out = [term`plugin packages (workspace: ${snapshot.workspace})`];
  if (snapshot.items.length === 0) {
    out.push('  (none)');
    return out.join('\n') + '\n';
  }
  const rows = snapshot.items.map((i) => [
    escapeTerminal(i.status),
    escapeTerminal(i.reference),
    escapeTerminal(i.version ?? '-', { limit: 48 }),
    shortDigest(i.digest),
    i.pinned_digest ? 'pinned' : i.configured ? 'unpinned' : '-',
    list(i.enabled_surfaces.length > 0 ? i.enabled_surfaces : i.declared_surfaces).text,
    toolSummary(i),
  ]);
  const header = ['STATUS', 'REFERENCE', 'VERSION', 'DIGEST', 'PIN', 'SURFACES', 'TOOLS OK'];
  const widths = header.map((h, c) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[c]!.length))));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  out.push(line(header));
  snapshot.items.forEach((item, index) => {
    out.push(line(rows[index]!));
    for (const d of item.diagnostics.slice(0, 3)) out.push(term`    ${d.kind}: ${d.message}`);
    if (item.diagnostics.length > 3) out.push(term`    … ${item.diagnostics.length - 3} more (yoi plugin show ${item.reference})`);
  });
  if (snapshot.omitted > 0) out.push(`  … ${snapshot.omitted} more plugin package(s) omitted`);
  return out.join('\n') + '\n';
}

export function renderShow(item: InventoryItem): string {
  const out = [term`plugin ${item.reference}`];
  const field = (name: string, value: Shown | string | number | boolean | null) =>
    out.push(`  ${name}: ${value === null ? '<unknown>' : value instanceof Shown ? value.text : escapeTerminal(String(value))}`);
  field('status', item.status);
  field('source', item.source);
  field('package', item.package);
  field('package_path', item.package_path);
  field('schema_version', item.schema_version);
  field('version', item.version);
  field('digest', item.digest);
  field('pinned_digest', item.pinned_digest);
  field('configured', item.configured);
  field('discovered', item.discovered);
  field('resolved', item.resolved);
  field('static_eligible', item.static_eligible);
  field('declared_surfaces', list(item.declared_surfaces));
  field('enabled_surfaces', list(item.enabled_surfaces));
  field('requested_permissions', list(item.requested_permissions));
  field('configured_grants', list(item.configured_grants));
  field('configured_request_grants', targets(item.configured_request_grants));
  field('configured_websocket_grants', targets(item.configured_websocket_grants));
  field('configured_fs_grants', list(item.configured_fs_grants));
  const inspection = item.static_runtime;
  if (inspection) {
    out.push(term`  runtime: ${inspection.runtime.status} eligible=${inspection.runtime.eligible}`);
    if (inspection.runtime.diagnostic) out.push(term`    diagnostic: ${inspection.runtime.diagnostic}`);
    if (inspection.host_apis.length > 0) {
      out.push('  host_api_permissions:');
      for (const a of inspection.host_apis) {
        out.push(term`    - ${a.permission} requested=${a.requested} granted=${a.granted} eligible=${a.eligible}`);
        if (a.diagnostic) out.push(term`      diagnostic: ${a.diagnostic}`);
      }
    }
  }
  const named = (title: string, entries: readonly { name: string; permission: string; requested: boolean; granted: boolean; eligible: boolean; diagnostic?: string }[], extra?: (i: number) => string) => {
    if (entries.length === 0) {
      out.push(`  ${title}: (none)`);
      return;
    }
    out.push(`  ${title}:`);
    entries.forEach((e, i) => {
      out.push(term`    - ${e.name} permission=${e.permission} requested=${e.requested} granted=${e.granted} eligible=${e.eligible}` + (extra ? extra(i) : ''));
      if (e.diagnostic) out.push(term`      diagnostic: ${e.diagnostic}`);
    });
  };
  named('tools', item.tools, (i) => term` external_write=${item.tools[i]!.external_write}`);
  if (inspection) {
    named('services', inspection.services);
    named('ingresses', inspection.ingresses);
  }
  if (item.diagnostics.length === 0) out.push('  diagnostics: (none)');
  else {
    out.push('  diagnostics:');
    for (const d of item.diagnostics.slice(0, MAX_SHOWN_DIAGNOSTICS)) out.push(term`    - [${d.kind}] ${d.message}`);
    if (item.diagnostics.length > MAX_SHOWN_DIAGNOSTICS) out.push(`    ... ${item.diagnostics.length - MAX_SHOWN_DIAGNOSTICS} more diagnostic(s) omitted`);
  }
  return out.join('\n') + '\n';
}
