import { defineTools, ToolError } from '@yoi-plugins/pdk';
import { HostApiError, listDir, readFile } from '@yoi-plugins/pdk/fs';

// Reads notes from the folder an operator granted to the fs host API. The plugin sees only
// paths relative to that folder; a refusal comes back as a HostApiError, never a crash.
export const { call } = defineTools({
  notes_read: (input: { path: string }) => {
    try {
      const note = readFile(input.path);
      return { summary: `read ${note.path}${note.truncated ? ' (truncated)' : ''}`, content: note.content };
    } catch (error) {
      if (error instanceof HostApiError) throw new ToolError(error.code, error.message);
      throw error;
    }
  },
  notes_list: () => {
    const dir = listDir('.');
    return { summary: `${dir.entries.length} entries`, content: dir.entries.map((e) => `${e.kind === 'dir' ? 'd' : '-'} ${e.name}`).join('\n') };
  },
});
