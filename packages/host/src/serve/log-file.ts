import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { pluginRuntimeOf, type PluginHost } from '../host.js';
import type { GuestLogLine } from '../runtime/guest-log.js';
import type { Logger } from './log.js';
import { registerSnapshotCounters } from '../status/snapshot-counters.js';

/** A plugin's log file grows to this, then becomes `<name>.1.jsonl` (replacing the older one): at most twice this per plugin. */
const LOG_FILE_MAX_BYTES = 1024 * 1024;
/** How often serve writes the new lines of every plugin's bounded log to its file. */
const FLUSH_INTERVAL_MS = 1_000;

/** One line of a plugin's log file: a guest log line, or how many lines the ring dropped before they were written. */
export type LogFileRecord = (GuestLogLine & { readonly log_id: string }) | { readonly log_id: string; readonly missed: number };

/** `<workspace>/.yoi/logs/<ref with : as _>.jsonl` (and `.1.jsonl`, the rotated older part). */
export function logFilePaths(workspace: string, ref: string): { current: string; rotated: string } {
  const base = join(workspace, '.yoi', 'logs', ref.replace(/[^\w.-]/g, '_'));
  return { current: `${base}.jsonl`, rotated: `${base}.1.jsonl` };
}

export interface LogFilesStatus {
  readonly lines_written_total: number;
  /** Lines the bounded ring pushed out between two writes (recorded in the file as `{missed}`). */
  readonly missed_total: number;
  /** Times a file reached its bound and replaced the older rotated one (whose lines are gone). */
  readonly rotations_total: number;
  readonly write_failures_total: number;
}

/**
 * serve keeps each plugin's guest output beyond the in-memory ring: every second it appends the
 * new lines to the plugin's JSON-lines file under `.yoi/logs/`, bounded by rotation, so
 * `yoi plugin logs` can show what the last serve printed when none runs. Every loss is counted
 * (status `log_files`, `yoi_guest_log_file_*` metrics) and logged.
 */
export class GuestLogFiles {
  readonly #host: PluginHost;
  readonly #workspace: string;
  readonly #log: Logger;
  readonly #maxBytes: number;
  readonly #cursors = new Map<string, { logId: string; after: number }>();
  /** Open files by plugin: appends go to the open file (nothing is created again under a folder being removed). */
  readonly #files = new Map<string, { handle: FileHandle; size: number }>();
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #written = 0;
  #missed = 0;
  #rotations = 0;
  #failures = 0;

  constructor(host: PluginHost, workspace: string, log: Logger, options: { maxBytes?: number } = {}) {
    this.#host = host;
    this.#workspace = workspace;
    this.#log = log;
    this.#maxBytes = options.maxBytes ?? LOG_FILE_MAX_BYTES;
  }

  every(ms = FLUSH_INTERVAL_MS): this {
    this.#timer = setInterval(() => void this.flush(), ms);
    this.#timer.unref();
    return this;
  }

  /** Writes every plugin's lines not written yet (one flush at a time). */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushAll().finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  /** Stops the timer after a last flush, and closes the files. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#flushing;
    await this.flush();
    for (const file of this.#files.values()) await file.handle.close().catch(() => undefined);
    this.#files.clear();
  }

  status(): LogFilesStatus {
    return { lines_written_total: this.#written, missed_total: this.#missed, rotations_total: this.#rotations, write_failures_total: this.#failures };
  }

  async #flushAll(): Promise<void> {
    for (const ref of [...this.#host.runtimes.keys()]) {
      const log = pluginRuntimeOf(this.#host, ref)?.log;
      if (!log) continue;
      const cursor = this.#cursors.get(ref);
      const after = cursor?.logId === log.id ? cursor.after : 0;
      const slice = log.since(after);
      if (slice.lines.length === 0 && slice.dropped === 0) continue;
      const records: LogFileRecord[] = [...(slice.dropped > 0 ? [{ log_id: log.id, missed: slice.dropped }] : []), ...slice.lines.map((l) => ({ ...l, log_id: log.id }))];
      try {
        await this.#append(ref, records.map((r) => JSON.stringify(r) + '\n').join(''));
      } catch (error) {
        this.#failures++;
        this.#log('warn', 'guest log file write failed (the lines stay in the bounded log)', { plugin: ref, error: error instanceof Error ? error.message : String(error) });
        continue;
      }
      this.#cursors.set(ref, { logId: log.id, after: slice.next });
      this.#written += slice.lines.length;
      if (slice.dropped > 0) {
        this.#missed += slice.dropped;
        this.#log('warn', 'guest log lines dropped before they were written to the log file', { plugin: ref, missed: slice.dropped });
      }
    }
  }

  async #append(ref: string, text: string): Promise<void> {
    const { current, rotated } = logFilePaths(this.#workspace, ref);
    let file = this.#files.get(ref);
    const bytes = Buffer.byteLength(text);
    if (file && file.size > 0 && file.size + bytes > this.#maxBytes) {
      this.#files.delete(ref);
      await file.handle.close();
      await rename(current, rotated);
      this.#rotations++;
      this.#log('info', 'guest log file rotated (the older rotated part is replaced)', { plugin: ref, file: current, bytes: file.size });
      file = undefined;
    }
    if (!file) {
      // `.yoi` itself is never created here: a workspace being removed stays removed.
      await mkdir(join(this.#workspace, '.yoi', 'logs')).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      const handle = await open(current, 'a', 0o600);
      file = { handle, size: (await handle.stat()).size };
      this.#files.set(ref, file);
    }
    await file.handle.appendFile(text);
    file.size += bytes;
  }
}

/** `yoi_guest_log_file_*`: lines written, lines missed, rotations, write failures. */
export function registerLogFileMetrics(registry: Registry, status: () => LogFilesStatus): void {
  registerSnapshotCounters(registry, [
    ['yoi_guest_log_file_lines_total', 'Guest log lines serve wrote to the plugins\' log files.', () => status().lines_written_total],
    ['yoi_guest_log_file_missed_lines_total', 'Guest log lines the bounded log dropped before serve wrote them to a file.', () => status().missed_total],
    ['yoi_guest_log_file_rotations_total', 'Log file rotations (each replaces the older rotated part).', () => status().rotations_total],
    ['yoi_guest_log_file_write_failures_total', 'Failed writes of guest log lines to a log file.', () => status().write_failures_total],
  ]);
}
