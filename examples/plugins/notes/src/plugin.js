// Example Notes: reads a note from the folder an operator granted (fs host API). The plugin
// never sees host paths, only paths relative to the grant; failures come back as values.
import { read } from 'yoi:host/fs@1.0.0';

export function call(toolName, inputJson) {
  const { path } = JSON.parse(inputJson);
  const reply = JSON.parse(read(JSON.stringify({ path })));
  if (reply.error) return JSON.stringify({ summary: `notes_read failed: ${reply.error.code}`, content: reply.error.message });
  return JSON.stringify({ summary: `read ${reply.path}${reply.truncated ? ' (truncated)' : ''}`, content: reply.content });
}
