import type { PluginHost } from '../host.js';

/** Why a named tool of a plugin cannot be called in this host, as `yoi plugin call` reports it. */
export interface ToolCallProblem {
  readonly code: 'not_enabled' | 'tool_denied' | 'tool_invalid' | 'tool_not_found';
  readonly message: string;
}

/** The same answer in-process and through serve: not enabled, denied, invalid, or no such tool. */
export function toolCallProblem(host: PluginHost, ref: string, tool: string): ToolCallProblem | null {
  if (!host.runtimes.has(ref)) {
    const why = host.diagnostics.find((d) => d.identity === ref);
    return { code: 'not_enabled', message: `plugin \`${ref}\` is not enabled and resolved in this workspace${why ? `: ${why.message}` : ''}` };
  }
  const issue = host.registrationIssues.find((i) => i.plugin_ref === ref && i.tool === tool && i.kind !== 'collision');
  if (issue) return { code: issue.kind === 'denied' ? 'tool_denied' : 'tool_invalid', message: issue.message };
  if (!host.tools.getQualified(ref, tool)) return { code: 'tool_not_found', message: `plugin \`${ref}\` has no tool \`${tool.slice(0, 128)}\`` };
  return null;
}
