import { readFile } from 'node:fs/promises';
import { logFilePaths, type LogFileRecord } from '@yoi-plugins/host/internal/serve/log-file.js';
import type { GuestLogLine } from '@yoi-plugins/host/internal/runtime/guest-log.js';

/** What the last serve kept of a plugin's guest output in `.yoi/logs/` (the rotated part first). */
export interface PersistedLog {
  readonly files: readonly string[];
  readonly lines: readonly GuestLogLine[];
  /** Lines the ring dropped before serve wrote them. */
  readonly missed: number;
}

export async function readPersistedLog(workspace: string, ref: string): Promise<PersistedLog> {
  const { current, rotated } = logFilePaths(workspace, ref);
  const files: string[] = [];
  const lines: GuestLogLine[] = [];
  let missed = 0;
  for (const path of [rotated, current]) {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) continue;
    files.push(path);
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      let record: LogFileRecord;
      try {
        record = JSON.parse(raw) as LogFileRecord;
      } catch {
        continue; // a line cut by a crash mid-write
      }
      if ('missed' in record) missed += record.missed;
      else lines.push({ seq: record.seq, at: record.at, stream: record.stream, text: record.text });
    }
  }
  return { files, lines, missed };
}
