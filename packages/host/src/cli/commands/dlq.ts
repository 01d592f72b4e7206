import { join } from 'node:path';
import { callControl } from '../../serve/control-file.js';
import { DeadLetterStore, deadLetterFile, type DeadLetter } from '../../service/dead-letters.js';
import { DEFAULT_SERVICE_POLICY } from '../../service/policy.js';
import { PluginHost } from '../../host.js';
import { parsePluginRef } from '../../manifest/ids.js';
import { defaultCacheDir } from '../../sandbox/transpile-cache.js';
import { CommandFailure, printJson, UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { term } from '../terminal.js';

export interface DlqOptions extends CommonOptions {
  readonly id?: readonly string[];
  readonly all?: boolean;
}

/**
 * `yoi plugin dlq list|replay|drop <ref>`: through the running serve when there is one;
 * otherwise on the persisted store directly (replay then runs the plugin's service here,
 * delivers the events and stops it again).
 */
export async function runDlq(io: CliIo, action: string, ref: string, options: DlqOptions): Promise<void> {
  if (!['list', 'replay', 'drop'].includes(action)) throw new UsageError('dlq action must be list, replay or drop');
  if (!parsePluginRef(ref).ok) throw new UsageError('the plugin ref must be source-qualified, e.g. project:example.bot');
  if (action !== 'list' && !options.all && (options.id?.length ?? 0) === 0) throw new UsageError(`dlq ${action} needs --id ID (repeatable) or --all`);
  const ids: readonly string[] | 'all' = options.all ? 'all' : (options.id ?? []);
  const stores = storeOptions(io, options);
  const path = `/v1/dlq/${encodeURIComponent(ref)}`;

  const live = await callControl(stores.workspace, action === 'list' ? 'GET' : 'POST', action === 'list' ? path : `${path}/${action}`, action === 'list' ? undefined : { ids: ids === 'all' ? undefined : ids });
  let result: Record<string, unknown>;
  let source: 'serve' | 'offline';
  if (live && live.status !== 404) {
    if (live.status >= 400) throw new CommandFailure(`serve refused: ${JSON.stringify(live.json).slice(0, 300)}`);
    result = live.json as Record<string, unknown>;
    source = 'serve';
  } else {
    source = 'offline';
    const store = new DeadLetterStore(DEFAULT_SERVICE_POLICY.deadLetterCapacity, deadLetterFile(join(stores.workspace, '.yoi', 'state', 'dead-letters'), ref));
    await store.load();
    if (action === 'list') result = { plugin: ref, dead_letters: store.list() };
    else if (action === 'drop') {
      const removed = store.remove(ids);
      await store.flush();
      result = { plugin: ref, dropped: removed.length };
    } else {
      const host = await PluginHost.fromWorkspace(stores, { cacheDir: defaultCacheDir(io.env), stateDir: join(stores.workspace, '.yoi', 'state', 'dead-letters') });
      try {
        const service = host.services.get(ref);
        if (!service) throw new CommandFailure(`plugin \`${ref}\` has no enabled service or ingress in this workspace`);
        await service.start();
        const replay = await service.replay(ids);
        await service.idle();
        result = { plugin: ref, ...replay, counters: { ...service.counters } };
      } finally {
        await host.close();
      }
    }
  }
  if (options.json) {
    printJson(io, { command: `dlq ${action}`, source, ...result });
    return;
  }
  if (action === 'list') {
    const letters = (result['dead_letters'] as DeadLetter[]) ?? [];
    io.stdout(term`dead letters of ${ref} (${source}): ${letters.length}` + '\n');
    for (const l of letters) io.stdout(term`- ${l.id} ingress=${l.ingress} kind=${l.event.kind} attempts=${l.attempts} at=${l.dead_lettered_at}` + '\n' + term`    last error: ${l.last_error}` + '\n');
  } else if (action === 'drop') io.stdout(term`dropped ${String(result['dropped'])} dead letter(s) of ${ref}` + '\n');
  else io.stdout(term`replayed ${String(result['replayed'])} dead letter(s) of ${ref}${result['refused'] ? `; refused: ${String(result['refused'])}` : ''}` + '\n');
}
