import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { PluginError } from '@yoi-plugins/host/internal/errors.js';
import type { JsonValue } from '@yoi-plugins/host/internal/manifest/types.js';
import { toolErrorOf, type ToolOutput } from '@yoi-plugins/host/internal/tools/tool-output.js';
import type { GuestLogLine } from '@yoi-plugins/host/internal/runtime/guest-log.js';
import { CommandFailure, hostFailure, printJson, UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { parsePluginRef } from '@yoi-plugins/host/internal/manifest/ids.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import { escapeTerminal } from '../terminal.js';

const GUEST_TEXT = { multiline: true, limit: Infinity } as const;

export interface CallOptions extends CommonOptions {
  readonly input?: string;
  readonly inputFile?: string;
}

async function readInput(io: CliIo, options: CallOptions): Promise<JsonValue> {
  let text = options.input ?? '{}';
  let what = '--input';
  if (options.inputFile !== undefined) {
    what = '--input-file';
    try {
      text = await readFile(resolve(io.cwd, options.inputFile), 'utf8');
    } catch {
      throw new CommandFailure('the --input-file could not be read', 'io');
    }
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new UsageError(`${what} is not valid JSON`);
  }
}

/** What the guest printed during the call (its `console` / stdout / stderr), as `--json` reports it. */
function callLogs(read: { readonly lines: readonly GuestLogLine[]; readonly dropped: number }): { logs: GuestLogLine[]; logs_dropped: number } {
  return { logs: [...read.lines], logs_dropped: read.dropped };
}

function printOutput(io: CliIo, output: ToolOutput): void {
  // Guest output: shown escaped (newlines and tabs kept), never interpreted by the terminal.
  io.stdout(`${escapeTerminal(output.summary, GUEST_TEXT)}\n${output.content !== null ? `\n${escapeTerminal(output.content, GUEST_TEXT)}\n` : ''}`);
}

/**
 * `yoi plugin call`: exit 0 only when the tool ran and did not report an error. A tool's own
 * error report (`tool error: <code>`) still prints its output, and exits 1; with `--json` the
 * failure document carries the output.
 */
export async function runCall(io: CliIo, ref: string, tool: string, options: CallOptions): Promise<void> {
  if (options.input !== undefined && options.inputFile !== undefined) throw new UsageError('use either --input or --input-file, not both');
  if (!parsePluginRef(ref).ok) throw new UsageError('the plugin ref must be source-qualified, e.g. project:example.echo');
  const input = await readInput(io, options);
  const host = await PluginHost.fromWorkspace(storeOptions(io, options), { cacheDir: defaultCacheDir(io.env) });
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const runtime = host.runtimes.get(ref);
    if (!runtime) {
      const why = host.diagnostics.find((d) => d.identity === ref);
      throw new CommandFailure(`plugin \`${ref}\` is not enabled and resolved in this workspace${why ? `: ${why.message}` : ''}`, 'not_enabled');
    }
    const issue = host.registrationIssues.find((i) => i.plugin_ref === ref && i.tool === tool && i.kind !== 'collision');
    if (issue) throw new CommandFailure(issue.message, issue.kind === 'denied' ? 'tool_denied' : 'tool_invalid');
    if (!host.tools.getQualified(ref, tool)) throw new CommandFailure(`plugin \`${ref}\` has no tool \`${tool.slice(0, 128)}\``, 'tool_not_found');
    const mark = runtime.log.written;
    const logs = () => callLogs(runtime.log.since(mark));
    let output: ToolOutput;
    try {
      output = await host.tools.callQualified(ref, tool, input);
    } catch (error) {
      if (!(error instanceof PluginError)) throw error;
      const failure = hostFailure(error);
      throw new CommandFailure(failure.message, failure.code, { details: { plugin: ref, tool, output: null, duration_ms: elapsed(), ...logs() } });
    }
    const durationMs = elapsed();
    const reported = toolErrorOf(output);
    if (reported) {
      if (!options.json) printOutput(io, output);
      throw new CommandFailure(`tool \`${tool.slice(0, 128)}\` reported an error: ${reported.code}${reported.message ? `: ${reported.message}` : ''}`, 'tool_error', {
        details: { plugin: ref, tool, output, duration_ms: durationMs, ...logs() },
      });
    }
    if (options.json) printJson(io, { command: 'call', status: 'ok', plugin: ref, tool, output, duration_ms: durationMs, ...logs() });
    else printOutput(io, output);
  } finally {
    await host.close();
  }
}
