import { CONTENT_MAX_BYTES, SUMMARY_MAX_BYTES, cleanText, truncateBytes } from './bounds.js';
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

export type ToolHandler<I = any> = (input: I) => ToolOutput | string;
export type ToolHandlers = Record<string, ToolHandler>;

/** Keeps an output within the host's bounds (summary ≤ 1024 bytes, content ≤ 64 KiB). */
export function boundToolOutput(output: ToolOutput): { summary: string; content: string | null } {
  const summary = typeof output.summary === 'string' && output.summary.length > 0 ? output.summary : '(no summary)';
  const content = typeof output.content === 'string' ? output.content : null;
  return { summary: truncateBytes(summary, SUMMARY_MAX_BYTES), content: content === null ? null : truncateBytes(content, CONTENT_MAX_BYTES) };
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
