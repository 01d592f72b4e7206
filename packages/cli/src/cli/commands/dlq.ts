import { callControl } from '@yoi-plugins/host/internal/serve/control-file.js';
import type { DeadLetter } from '@yoi-plugins/host/internal/service/plugin-service.js';
import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { parsePluginRef } from '@yoi-plugins/host/internal/manifest/ids.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import type { StoreOptions } from '@yoi-plugins/host/internal/store/locations.js';
import { CommandFailure, printJson, UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { term } from '../terminal.js';
import { withWorkspaceJournal } from './workspace-journal.js';

export interface DlqOptions extends CommonOptions {
  readonly id?: readonly string[];
  readonly all?: boolean;
}

type Source = 'serve' | 'offline';

async function viaServe(stores: StoreOptions, ref: string, action: string, ids: readonly string[] | 'all'): Promise<Record<string, unknown> | null> {
  const path = `/v1/dlq/${encodeURIComponent(ref)}`;
  const live = await callControl(stores.workspace, action === 'list' ? 'GET' : 'POST', action === 'list' ? path : `${path}/${action}`, action === 'list' ? undefined : { ids: ids === 'all' ? undefined : ids });
  if (!live || live.status === 404) return null;
  if (live.status >= 400) throw new CommandFailure(`serve refused: ${JSON.stringify(live.json).slice(0, 300)}`, 'serve_refused');
  return live.json as Record<string, unknown>;
}

/** The dead letters of a plugin, from the running serve when there is one. */
async function listLetters(stores: StoreOptions, ref: string): Promise<{ source: Source; letters: readonly DeadLetter[] }> {
  const live = await viaServe(stores, ref, 'list', []);
  if (live) return { source: 'serve', letters: (live['dead_letters'] as DeadLetter[]) ?? [] };
  // No serve: the workspace journal, opened here (a workspace that never had one has none).
  const letters = await withWorkspaceJournal(stores.workspace, async (journal) => (journal ? (await journal.deadLetters(ref)).map((l) => ({ plugin: ref, ...l })) : []), false);
  return { source: 'offline', letters };
}

/**
 * `yoi plugin dlq list|replay|drop <ref>`: through the running serve when there is one;
 * otherwise on the persisted store directly (replay then runs the plugin's service here,
 * delivers the events and stops it again). Ids given with `--id` must all exist, or nothing
 * is done (exit 1).
 */
export async function runDlq(io: CliIo, action: string, ref: string, options: DlqOptions): Promise<void> {
  if (!['list', 'replay', 'drop'].includes(action)) throw new UsageError('dlq action must be list, replay or drop');
  if (!parsePluginRef(ref).ok) throw new UsageError('the plugin ref must be source-qualified, e.g. project:example.bot');
  if (action !== 'list' && !options.all && (options.id?.length ?? 0) === 0) throw new UsageError(`dlq ${action} needs --id ID (repeatable) or --all`);
  if (action !== 'list' && options.all && (options.id?.length ?? 0) > 0) throw new UsageError(`dlq ${action} takes --id or --all, not both`);
  const ids: readonly string[] | 'all' = options.all ? 'all' : [...new Set(options.id ?? [])];
  const stores = storeOptions(io, options);

  const before = await listLetters(stores, ref);
  let source = before.source;
  let result: Record<string, unknown>;
  if (action === 'list') result = { plugin: ref, dead_letters: before.letters };
  else {
    if (ids !== 'all') {
      const unknown = ids.filter((id) => !before.letters.some((l) => l.id === id));
      if (unknown.length > 0) {
        throw new CommandFailure(`plugin \`${ref}\` has no dead letter with id ${unknown.slice(0, 5).map((id) => `\`${id.slice(0, 64)}\``).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}; nothing was ${action === 'drop' ? 'dropped' : 'replayed'}`, 'not_found');
      }
    }
    const live = await viaServe(stores, ref, action, ids);
    if (live) {
      source = 'serve';
      result = live;
    } else {
      source = 'offline';
      result = action === 'drop' ? await dropOffline(stores, ref, ids) : await replayOffline(io, stores, ref, ids);
    }
    const done = Number(result[action === 'drop' ? 'dropped' : 'replayed'] ?? 0);
    if (ids !== 'all' && action === 'drop' && done < ids.length) {
      throw new CommandFailure(`only ${done} of ${ids.length} dead letter(s) of \`${ref}\` were dropped (the others were gone by then)`, 'not_found', { details: { source, ...result } });
    }
  }
  if (options.json) {
    printJson(io, { command: `dlq ${action}`, status: 'ok', source, ...result });
    return;
  }
  if (action === 'list') {
    const letters = (result['dead_letters'] as DeadLetter[]) ?? [];
    io.stdout(term`dead letters of ${ref} (${source}): ${letters.length}` + '\n');
    for (const l of letters) io.stdout(term`- ${l.id} ingress=${l.ingress} kind=${l.event.kind} attempts=${l.attempts} at=${l.dead_lettered_at}` + '\n' + term`    last error: ${l.last_error}` + '\n');
  } else if (action === 'drop') io.stdout(term`dropped ${String(result['dropped'])} dead letter(s) of ${ref}` + '\n');
  else io.stdout(term`replayed ${String(result['replayed'])} dead letter(s) of ${ref}${result['refused'] ? `; refused: ${String(result['refused'])}` : ''}` + '\n');
}

async function dropOffline(stores: StoreOptions, ref: string, ids: readonly string[] | 'all'): Promise<Record<string, unknown>> {
  return withWorkspaceJournal(stores.workspace, async (journal) => {
    const existing = (await journal!.deadLetters(ref)).map((l) => l.id);
    const remove = ids === 'all' ? existing : existing.filter((id) => ids.includes(id));
    if (remove.length > 0) await journal!.commit(ref, { deadLetterRemove: remove });
    return { plugin: ref, dropped: remove.length };
  });
}

async function replayOffline(io: CliIo, stores: StoreOptions, ref: string, ids: readonly string[] | 'all'): Promise<Record<string, unknown>> {
  return withWorkspaceJournal(stores.workspace, async (journal) => {
    const host = await PluginHost.fromWorkspace(stores, { cacheDir: defaultCacheDir(io.env), journal: journal! });
    try {
      const service = host.services.get(ref);
      if (!service) throw new CommandFailure(`plugin \`${ref}\` has no enabled service or ingress in this workspace`, 'not_enabled');
      await service.start();
      const replay = await service.replay(ids);
      await service.idle();
      return { plugin: ref, ...replay, counters: { ...service.counters } };
    } finally {
      await host.close();
    }
  });
}
