import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PluginHost } from '../../src/host.js';
import { journalDir, openLmdbJournal } from '../../src/journal/lmdb-journal.js';
import { buildJsComponent } from '../fixtures/js.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { cli } from '../helpers.js';

describe('yoi plugin dlq (no serve running)', () => {
  it('lists, replays and drops persisted dead letters', async (t) => {
    const manifest = serviceManifest();
    const ws = pluginWorkspace(t, [{ manifest, component: await buildJsComponent(SERVICE_SOURCE, manifest) }]);
    const journal = await openLmdbJournal({ dir: journalDir(ws.workspace) });
    const host = await PluginHost.fromWorkspace(
      { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
      { cacheDir: TEST_TRANSPILE_CACHE, journal, servicePolicy: { maxAttempts: 1 } },
    );
    await host.startServices();
    const service = host.services.get('project:svc')!;
    await service.emit('events', 'job', 'test', { tag: 'flaky', fail_until: 2 });
    await service.emit('events', 'job', 'test', { tag: 'doomed', always_fail: true });
    await service.idle();
    await host.close();
    await journal.close();

    const env = { HOME: ws.root, YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const run = (...args: string[]) => cli(['plugin', 'dlq', ...args, 'project:svc', '--workspace', ws.workspace, '--json'], { env });
    const listed = await run('list');
    assert.equal(listed.code, 0, listed.stderr);
    const letters = listed.json<{ source: string; dead_letters: { id: string; event: { payload: { tag: string } }; attempts: number }[] }>();
    assert.equal(letters.source, 'offline');
    assert.deepEqual(letters.dead_letters.map((l) => [l.event.payload.tag, l.attempts]), [['flaky', 1], ['doomed', 1]]);

    const flaky = letters.dead_letters[0]!.id;
    const replayed = await run('replay', '--id', flaky);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.equal(replayed.json<{ replayed: number }>().replayed, 1);
    const after = (await run('list')).json<{ dead_letters: { event: { payload: { tag: string } } }[] }>();
    assert.deepEqual(after.dead_letters.map((l) => l.event.payload.tag), ['doomed'], 'the replayed event was delivered (attempt 2 succeeded)');

    assert.equal((await cli(['plugin', 'dlq', 'replay', 'project:svc', '--workspace', ws.workspace], { env })).code, 2, 'replay needs --id or --all');
    const dropped = await run('drop', '--all');
    assert.equal(dropped.json<{ dropped: number }>().dropped, 1);
    assert.deepEqual((await run('list')).json<{ dead_letters: unknown[] }>().dead_letters, []);
  });
});
