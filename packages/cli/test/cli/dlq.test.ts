import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { newIngressEvent } from '@yoi-plugins/host/internal/service/ingress-event.js';
import { journalDir, openLmdbJournal } from '@yoi-plugins/host/internal/journal/lmdb-journal.js';
import { cli, tempDir } from '@yoi-plugins/host/test/helpers.js';

describe('yoi plugin dlq drop|replay with --id (no serve running)', () => {
  it('refuses an id that does not exist (exit 1, nothing done) and drops the ones that do', async (t) => {
    const workspace = tempDir(t);
    // Two dead letters in the workspace journal, as a service would have left them.
    const journal = await openLmdbJournal({ dir: journalDir(workspace) });
    const letter = (id: string, n: number) => ({ id, ingress: 'events', event: newIngressEvent('events', 'job', 'test', { n }), attempts: 3, last_error: 'boom', dead_lettered_at: new Date().toISOString() });
    const kept = letter('letter-1', 1);
    const other = letter('letter-2', 2);
    await journal.commit('project:svc', { deadLetterAdd: [kept, other] });
    await journal.close();
    const env = { HOME: workspace, YOI_BUILTIN_DIR: join(workspace, 'none') };
    const run = (...args: string[]) => cli(['plugin', 'dlq', ...args, '--workspace', workspace], { env });

    for (const action of ['drop', 'replay']) {
      const missing = await run(action, 'project:svc', '--id', kept.id, '--id', 'no-such-letter');
      assert.equal(missing.code, 1, `${action}: ${missing.stderr}`);
      assert.match(missing.stderr, new RegExp(`plugin \`project:svc\` has no dead letter with id \`no-such-letter\`; nothing was ${action === 'drop' ? 'dropped' : 'replayed'}`));
      const json = await run(action, 'project:svc', '--id', 'no-such-letter', '--json');
      assert.equal(json.code, 1);
      assert.deepEqual(json.json<{ command: string; error: { code: string } }>().error.code, 'not_found');
    }
    const listed = await run('list', 'project:svc', '--json');
    assert.deepEqual(listed.json<{ dead_letters: { id: string }[] }>().dead_letters.map((l) => l.id), [kept.id, other.id], 'nothing was dropped');

    const dropped = await run('drop', 'project:svc', '--id', other.id, '--json');
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.equal(dropped.json<{ dropped: number; status: string }>().dropped, 1);
    assert.deepEqual((await run('list', 'project:svc', '--json')).json<{ dead_letters: { id: string }[] }>().dead_letters.map((l) => l.id), [kept.id]);
    assert.equal((await run('drop', 'project:svc', '--id', kept.id, '--all')).code, 2, '--id and --all together');
  });
});
