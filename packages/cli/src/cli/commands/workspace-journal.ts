import { existsSync } from 'node:fs';
import type { LmdbJournal } from '@yoi-plugins/host/internal/journal/lmdb-journal.js';
import { CommandFailure } from '../io.js';

/**
 * Runs `fn` with the workspace's journal when no serve is reachable (one process writes a
 * journal at a time). With `create: false`, a workspace that never had one gets `null`.
 */
export async function withWorkspaceJournal<T>(workspace: string, fn: (journal: LmdbJournal | null) => Promise<T>, create = true): Promise<T> {
  // Loaded when needed: the native LMDB binding is not a cost of every CLI command.
  const { journalDir, openLmdbJournal } = await import('@yoi-plugins/host/internal/journal/lmdb-journal.js');
  const dir = journalDir(workspace);
  if (!create && !existsSync(dir)) return fn(null);
  let journal: LmdbJournal;
  try {
    journal = await openLmdbJournal({ dir });
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new CommandFailure(code === 'YOI_JOURNAL_IN_USE' ? 'the workspace journal is in use by another process (is a serve running whose control API is not reachable?)' : `cannot open the workspace journal: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return await fn(journal);
  } finally {
    await journal.close();
  }
}
