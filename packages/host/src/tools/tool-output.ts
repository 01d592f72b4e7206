import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import { IO_LIMITS } from '../sandbox/limits.js';

/** What a tool call returns to the agent. */
export interface ToolOutput {
  readonly summary: string;
  readonly content: string | null;
}

/**
 * Decodes a guest's ToolOutput with Yoi's rules: a JSON object with a required non-empty
 * `summary` (≤ 1024 bytes) and an optional `content` string or null (≤ 64 KiB), nothing else.
 * An `{"error":{…}}` reply is a tool failure reported as such.
 */
export function decodeToolOutput(raw: string): ToolOutput {
  const fail = (message: string) => new PluginError('TOOL_OUTPUT_INVALID', message);
  if (raw.length === 0) throw fail('guest returned no output');
  if (utf8Over(raw, IO_LIMITS.guestOutputBytes)) throw fail(`guest output exceeds ${IO_LIMITS.guestOutputBytes} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw fail('guest output is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('guest output is not a JSON object');
  const record = value as Record<string, unknown>;
  if ('error' in record) {
    const error = record['error'] as { code?: unknown; message?: unknown } | null;
    const code = typeof error?.code === 'string' ? boundText(error.code, 64) : 'error';
    const message = typeof error?.message === 'string' ? boundText(redactText(error.message), 240) : '';
    throw new PluginError('TOOL_OUTPUT_INVALID', `tool error: ${code}${message ? `: ${message}` : ''}`);
  }
  for (const key of Object.keys(record)) {
    if (key !== 'summary' && key !== 'content') throw fail(`guest output contains unsupported key ${/^[\w-]{1,32}$/.test(key) ? `\`${key}\`` : '(name not shown)'}`);
  }
  const { summary, content } = record;
  if (typeof summary !== 'string' || summary.length === 0) throw fail('guest output summary must be a non-empty string');
  if (utf8Over(summary, IO_LIMITS.summaryBytes)) throw fail(`guest output summary exceeds ${IO_LIMITS.summaryBytes} bytes`);
  if (content !== undefined && content !== null && typeof content !== 'string') throw fail('guest output content must be a string or null');
  if (typeof content === 'string' && utf8Over(content, IO_LIMITS.guestOutputBytes)) throw fail(`guest output content exceeds ${IO_LIMITS.guestOutputBytes} bytes`);
  return { summary, content: content ?? null };
}

/** Whether `text` is over `limit` UTF-8 bytes; a string of at most limit/3 UTF-16 units never is (no encoding then). */
function utf8Over(text: string, limit: number): boolean {
  return text.length > limit / 3 && Buffer.byteLength(text, 'utf8') > limit;
}

/** A tool's own report of failure. */
export interface ToolErrorReport {
  readonly code: string;
  readonly message: string;
}

const TOOL_ERROR_SUMMARY = /^tool error: ([^\n]{1,128})$/;

/**
 * Whether a ToolOutput is a tool's report of its own failure, in the rendering Yoi's SDK and
 * our PDK both use: summary `tool error: <code>`, content the message (ours) or
 * `{"error":{"code","message",…}}` (Yoi's). Such a call completed, but callers that report
 * success or failure (`yoi plugin call`'s exit code, MCP's `isError`) report a failure.
 */
export function toolErrorOf(output: ToolOutput): ToolErrorReport | null {
  const match = TOOL_ERROR_SUMMARY.exec(output.summary);
  if (!match) return null;
  const code = match[1]!.trim();
  let message = output.content ?? '';
  if (message.startsWith('{')) {
    try {
      const parsed = JSON.parse(message) as { error?: { message?: unknown } };
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    } catch {
      // plain text that starts with a brace
    }
  }
  return { code, message: boundText(redactText(message)) };
}
