import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { JournalWriteError } from './journal.js';

const JOURNAL_IN_USE = 'YOI_JOURNAL_IN_USE';
const WRITER_LOCK_FILE = 'writer.pid';

/** Journal directories this process has open: a second writer would reuse sequence numbers. */
const openHere = new Set<string>();

export interface WriterLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims a journal directory for this process: one writer per journal, in this process and
 * across processes (`writer.pid` names the owner; a file left by a process that is gone, e.g.
 * after a crash, is taken over).
 */
export function acquireWriterLock(dir: string): WriterLock {
  const key = resolve(dir);
  if (openHere.has(key)) throw new JournalWriteError(`the journal at ${key} is already open in this process`, JOURNAL_IN_USE);
  const path = join(key, WRITER_LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      openHere.add(key);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          openHere.delete(key);
          rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner: number;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch {
      continue; // removed meanwhile: try again
    }
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new JournalWriteError(`the journal at ${key} is in use by process ${owner} (remove ${WRITER_LOCK_FILE} there if that process is not a yoi host)`, JOURNAL_IN_USE);
    }
    rmSync(path, { force: true });
  }
  throw new JournalWriteError(`could not claim the journal at ${key}`, JOURNAL_IN_USE);
}
