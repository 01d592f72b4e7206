import { byteLength, CONTENT_MAX_BYTES, OUTPUT_MAX_BYTES, SUMMARY_MAX_BYTES, cleanText, truncateBytes } from './bounds.js';
import type { JsonValue, ToolOutput } from './types.js';

/**
 * A failure a tool reports on purpose. Rendered as `{"summary":"tool error: <code>","content":"<message>"}`
 * (Yoi's rendering), so the agent sees what went wrong and the call still completes.
 */
export class ToolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- authors type their handler's input; `unknown` here would reject those handlers (parameter contravariance)
export type ToolHandler<I = any> = (input: I) => ToolOutput | string;
export type ToolHandlers = Record<string, ToolHandler>;

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Keeps an output within the host's bounds: summary ≤ 1024 bytes, content ≤ 60 416 bytes
 * (Yoi's bound), and the whole output ≤ 64 KiB as JSON; text that is cut ends with `…`.
 * A summary or content that is not a string is a tool error (`invalid_output`), never a
 * silent null: return `JSON.stringify(data)` as content.
 */
export function boundToolOutput(output: ToolOutput): { summary: string; content: string | null } {
  if (typeof output !== 'object' || output === null) throw new ToolError('invalid_output', `a tool must return a string or { summary, content? }, not ${typeName(output)}`);
  if (typeof output.summary !== 'string') throw new ToolError('invalid_output', `the tool output summary must be a string, not ${typeName(output.summary)}`);
  const raw: unknown = output.content;
  if (raw !== undefined && raw !== null && typeof raw !== 'string') {
    throw new ToolError('invalid_output', `the tool output content must be a string or null, not ${typeName(raw)}; use JSON.stringify(…) for data`);
  }
  const summary = truncateBytes(output.summary.length > 0 ? output.summary : 'tool completed', SUMMARY_MAX_BYTES);
  let content = typeof raw === 'string' ? truncateBytes(raw, CONTENT_MAX_BYTES) : null;
  // JSON escapes (quotes, control characters) can still push the whole output over the bound.
  for (let size = byteLength(JSON.stringify({ summary, content })); content !== null && size > OUTPUT_MAX_BYTES; size = byteLength(JSON.stringify({ summary, content }))) {
    content = content === '…' ? '' : truncateBytes(content, Math.max(3, byteLength(content) - Math.max(size - OUTPUT_MAX_BYTES, 1) - 3));
  }
  return { summary, content };
}

/** Renders any thrown value as a ToolOutput; never throws itself. */
export function renderToolError(error: unknown): { summary: string; content: string | null } {
  try {
    if (error instanceof ToolError) return boundToolOutput({ summary: `tool error: ${cleanText(error.code, 64)}`, content: cleanText(error.message) });
    const message = error instanceof Error ? error.message : String(error);
    return boundToolOutput({ summary: 'tool error: internal', content: cleanText(message) });
  } catch {
    return { summary: 'tool error: internal', content: null };
  }
}

/** Runs one tool call: parses the input, calls the handler, bounds and serialises the output. */
export function runTool(handlers: ToolHandlers, name: string, inputJson: string): string {
  let output: { summary: string; content: string | null };
  try {
    const handler = Object.prototype.hasOwnProperty.call(handlers, name) ? handlers[name] : undefined;
    if (!handler) throw new ToolError('unknown_tool', `this plugin has no tool named ${name}`);
    let input: JsonValue;
    try {
      input = JSON.parse(inputJson) as JsonValue;
    } catch {
      throw new ToolError('invalid_input', 'tool input is not valid JSON');
    }
    const result = handler(input);
    output = boundToolOutput(typeof result === 'string' ? { summary: result } : result);
  } catch (error) {
    output = renderToolError(error);
  }
  return JSON.stringify(output);
}

/**
 * The `tool` world's export: map tool names to handlers.
 *
 * @example
 * export const { call } = defineTools({
 *   echo: (input: { text: string }) => ({ summary: `echo: ${input.text}`, content: input.text }),
 * });
 */
export function defineTools(handlers: ToolHandlers): { call(toolName: string, inputJson: string): string } {
  return { call: (toolName, inputJson) => runTool(handlers, toolName, inputJson) };
}
