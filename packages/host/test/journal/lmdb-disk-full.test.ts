import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { JournalWriteError, type JournalStats } from '../../src/journal/journal.js';
import { openLmdbJournal, type LmdbJournal } from '../../src/journal/lmdb-journal.js';
import { tempDir } from '../helpers.js';
import { CHILD_PLUGIN, CHILD_SCRIPT, crashEvent } from './child-protocol.js';

const P = 'project:full';

function isWriteFailure(pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof JournalWriteError, `expected a JournalWriteError, got ${String(error)}`);
    assert.equal(error.code, 'YOI_JOURNAL_WRITE');
    assert.match(error.message, pattern);
    assert.match(error.message, /nothing of this write was stored/);
    assert.ok(error.message.length <= 301);
    return true;
  };
}

describe('lmdb journal when the disk is full', () => {
  it('fails writes past a process file-size limit (EFBIG or a short write) with nothing stored, and writes again once the limit is lifted, without reopening', async (t) => {
    const probe = spawnSync('prlimit', ['--version']);
    if (probe.error || probe.status !== 0) {
      t.skip(`prlimit (util-linux) is not available: ${probe.error?.message ?? probe.stderr.toString().trim()}`);
      return;
    }
    const dir = join(tempDir(t, 'yoi-journal-fsize-'), 'journal');
    // Only the soft limit: lifting it back up to the hard one needs no privilege.
    const hard = spawnSync('prlimit', ['--pid', String(process.pid), '--fsize', '--noheadings', '--raw', '--output=HARD']).stdout.toString().trim();
    const child = spawn('prlimit', [`--fsize=${256 * 1024}:`, '--', process.execPath, fileURLToPath(CHILD_SCRIPT), 'fill', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 10_000) stderr += chunk.toString();
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const full = await lines.next();
    assert.ok(!full.done && full.value.startsWith('FULL '), `the child reports the failure: ${String(full.value)} ${stderr}`);
    const report = JSON.parse(full.value.slice('FULL '.length)) as { last: number; code: string; message: string; commitFailed: boolean; stats: JournalStats };
    const { last, stats } = report;
    // A write that starts past the limit fails with EFBIG; one that crosses it is cut short (EIO).
    isWriteFailure(/^journal write failed \(lmdb\): (file too large .*\(EFBIG|.*the disk may be full \(EIO)/)(Object.assign(new JournalWriteError(report.message), { code: report.code }));
    assert.equal(report.commitFailed, true, 'a commit during the failure fails too');
    assert.ok(stats.write_errors >= 9, 'each failed call is counted');
    assert.match(stats.last_write_error ?? '', /EFBIG|EIO/);
    assert.ok(last > 8, `the journal accepted ${last} events before the limit`);

    const lifted = spawnSync('prlimit', ['--pid', String(child.pid), `--fsize=${hard}:`]);
    assert.equal(lifted.status, 0, lifted.stderr.toString());
    child.stdin.write('GO\n');
    const ok = await lines.next();
    assert.ok(!ok.done && ok.value.startsWith('OK '), `the child writes again: ${String(ok.value)} ${stderr}`);
    const resumed = JSON.parse(ok.value.slice('OK '.length)) as { seq: number; stats: JournalStats };
    assert.equal(resumed.seq, last + 1, 'the failed appends took no sequence number that was stored');
    assert.equal(resumed.stats.last_write_error, null);
    assert.equal(await exited, 0, stderr);

    const journal = await openLmdbJournal({ dir });
    t.after(() => journal.close());
    const unacked = await journal.unacked(CHILD_PLUGIN);
    assert.deepEqual(unacked.map((e) => e.seq), Array.from({ length: last }, (_, i) => i + 2), 'every accepted event is there, no failed one');
    assert.deepEqual(unacked.at(-1)!.event, crashEvent(0));
    assert.deepEqual(await journal.state(CHILD_PLUGIN), { resumed: true });
  });

  it('fails writes on a full file system (tmpfs, ENOSPC) with nothing stored, and writes again once space is freed, without reopening', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'yoi-journal-tmpfs-'));
    const mountPoint = join(root, 'mnt');
    mkdirSync(mountPoint);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint]);
    if (mounted.error || mounted.status !== 0) {
      rmSync(root, { recursive: true, force: true });
      t.skip(`mounting a small tmpfs is not permitted here: ${mounted.error?.message ?? mounted.stderr.toString().trim()}`);
      return;
    }
    const dir = join(mountPoint, 'journal');
    const journals: LmdbJournal[] = [];
    try {
      const journal = await openLmdbJournal({ dir });
      journals.push(journal);
      await journal.append(P, [{ ingress: 'events', event: crashEvent(1) }]);
      await journal.commit(P, { state: { before: 1 } });
      const { bavail, bsize } = statfsSync(mountPoint);
      const filler = join(mountPoint, 'filler');
      writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 96 * 1024)));

      const accepted = [1];
      let failure: unknown = null;
      for (let round = 0; round < 500 && failure === null; round++) {
        try {
          const results = await Promise.all(Array.from({ length: 8 }, (_, i) => journal.append(P, [{ ingress: 'events', event: { ...crashEvent(round * 8 + i), payload: { text: 'y'.repeat(2000) } } }])));
          accepted.push(...results.map(([e]) => e!.seq));
        } catch (error) {
          failure = error;
        }
      }
      assert.ok(failure !== null, 'the journal filled the file system');
      isWriteFailure(/no space left on the device \(ENOSPC|the disk may be full \(EIO/)(failure);
      await assert.rejects(journal.commit(P, { ack: [1], state: { big: 'z'.repeat(200_000) } }), isWriteFailure(/ENOSPC|EIO/));
      assert.deepEqual((await journal.unacked(P)).map((e) => e.seq), accepted, 'nothing of the failed writes is stored');
      assert.deepEqual(await journal.state(P), { before: 1 });
      assert.ok(journal.stats().write_errors >= 9);

      rmSync(filler);
      const [next] = await journal.append(P, [{ ingress: 'events', event: crashEvent(0) }]);
      assert.equal(next!.seq, accepted.at(-1)! + 1);
      await journal.commit(P, { ack: [1], state: { after: 2 } });
      assert.equal(journal.stats().last_write_error, null);
      await journal.close();

      const again = await openLmdbJournal({ dir });
      journals.push(again);
      assert.deepEqual((await again.unacked(P)).map((e) => e.seq), [...accepted.slice(1), next!.seq]);
      assert.deepEqual(await again.state(P), { before: 1, after: 2 });
    } finally {
      for (const journal of journals) await journal.close();
      spawnSync('umount', [mountPoint]);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
