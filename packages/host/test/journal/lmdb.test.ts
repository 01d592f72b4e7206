import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { JournalWriteError, type Journal, type JournalLimits } from '../../src/journal/journal.js';
import { journalDir, LmdbJournal, openLmdbJournal } from '../../src/journal/lmdb-journal.js';
import { tempDir } from '../helpers.js';
import { journalConformance, newEvent } from './conformance.js';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});
const limitsOf = new WeakMap<Journal, Partial<JournalLimits> | undefined>();

journalConformance({
  name: 'lmdb',
  async open(limits) {
    const root = mkdtempSync(join(tmpdir(), 'yoi-journal-'));
    roots.push(root);
    const journal = await openLmdbJournal({ dir: join(root, 'journal'), ...(limits ? { limits } : {}) });
    limitsOf.set(journal, limits);
    return journal;
  },
  async reopen(journal) {
    await journal.close();
    const limits = limitsOf.get(journal);
    const again = await openLmdbJournal({ dir: (journal as LmdbJournal).dir, ...(limits ? { limits } : {}) });
    limitsOf.set(again, limits);
    return again;
  },
});

describe('lmdb journal', () => {
  it('lives in <workspace>/.yoi/state/journal', (t) => {
    const ws = tempDir(t);
    assert.equal(journalDir(ws), join(ws, '.yoi', 'state', 'journal'));
  });

  it('has one writer: a second open in this process is refused until the first is closed', async (t) => {
    const dir = join(tempDir(t), 'journal');
    const journal = await openLmdbJournal({ dir });
    await assert.rejects(openLmdbJournal({ dir }), (error: unknown) => {
      assert.ok(error instanceof JournalWriteError);
      assert.equal(error.code, 'YOI_JOURNAL_IN_USE');
      assert.match(error.message, /already open in this process/);
      return true;
    });
    await journal.append('p', [newEvent(1)]);
    await journal.close();
    const again = await openLmdbJournal({ dir });
    assert.deepEqual((await again.unacked('p')).map((e) => e.seq), [1]);
    await again.close();
  });

  it('is refused while another live process owns it, and taken over from a process that is gone', async (t) => {
    const dir = join(tempDir(t), 'journal');
    const journal = await openLmdbJournal({ dir });
    await journal.close();
    const lockFile = join(dir, 'writer.pid');
    assert.equal(existsSync(lockFile), false, 'close releases the claim');

    const child = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    t.after(() => child.kill('SIGKILL'));
    writeFileSync(lockFile, `${child.pid}\n`);
    await assert.rejects(openLmdbJournal({ dir }), (error: unknown) => {
      assert.ok(error instanceof JournalWriteError);
      assert.equal(error.code, 'YOI_JOURNAL_IN_USE');
      assert.match(error.message, new RegExp(`in use by process ${child.pid}`));
      return true;
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const taken = await openLmdbJournal({ dir });
    assert.equal(readFileSync(lockFile, 'utf8').trim(), String(process.pid));
    await taken.close();
  });

  it('lets a state kept under higher bounds shrink after the bounds were lowered, but not grow', async (t) => {
    const dir = join(tempDir(t), 'journal');
    const journal = await openLmdbJournal({ dir, limits: { stateKeys: 3 } });
    await journal.commit('p', { state: { a: 'aaaa', b: 2, c: 3 } });
    await journal.close();
    const lowered = await openLmdbJournal({ dir, limits: { stateKeys: 1, stateBytes: 4 } });
    t.after(() => lowered.close());
    await assert.rejects(lowered.commit('p', { state: { d: 4 } }), /4 keys, more than its bound of 1/);
    await assert.rejects(lowered.commit('p', { state: { a: 'aaaaa' } }), /bytes, more than its bound of 4/);
    await lowered.commit('p', { state: { b: null, a: 'a' } });
    assert.deepEqual(await lowered.state('p'), { a: 'a', c: 3 });
  });

  it('fails to open where the directory cannot be made, with a clear error', async (t) => {
    const file = join(tempDir(t), 'not-a-directory');
    writeFileSync(file, 'x');
    await assert.rejects(openLmdbJournal({ dir: join(file, 'journal') }), (error: unknown) => {
      assert.ok(error instanceof JournalWriteError);
      assert.equal(error.code, 'YOI_JOURNAL_OPEN');
      assert.match(error.message, /cannot create the journal directory/);
      return true;
    });
  });

  it('refuses bounds that are not positive integers before touching the disk', async (t) => {
    const dir = join(tempDir(t), 'journal');
    await assert.rejects(openLmdbJournal({ dir, limits: { stateKeys: 0 } }), /stateKeys must be a positive integer/);
    assert.equal(existsSync(dir), false);
  });
});
