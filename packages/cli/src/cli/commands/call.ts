import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PluginHost, pluginRuntimeOf } from '@yoi-plugins/host/internal/host.js';
import { PluginError } from '@yoi-plugins/host/internal/errors.js';
import type { JsonValue } from '@yoi-plugins/host/internal/manifest/types.js';
import { toolErrorOf, type ToolOutput } from '@yoi-plugins/host/internal/tools/tool-output.js';
import type { GuestLogLine } from '@yoi-plugins/host/internal/runtime/guest-log.js';
import { CommandFailure, hostFailure, printJson, UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { parsePluginRef } from '@yoi-plugins/host/internal/manifest/ids.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import { escapeTerminal } from '../terminal.js';
import { toolCallProblem } from '@yoi-plugins/host/internal/tools/call-check.js';
import { discoverServe, reportVia, serveRequest, type ServeConnection, type Via } from '../serve-client.js';
import type { FailureCode } from '../io.js';

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
 * `yoi plugin call`: through the workspace's running serve when there is one (a service's
 * tool then answers from its live instance), else in a host started here; `--json` says which
 * (`via`). Exit 0 only when the tool ran and did not report an error. A tool's own
 * error report (`tool error: <code>`) still prints its output, and exits 1; with `--json` the
 * failure document carries the output.
 */
export async function runCall(io: CliIo, ref: string, tool: string, options: CallOptions): Promise<void> {
  if (options.input !== undefined && options.inputFile !== undefined) throw new UsageError('use either --input or --input-file, not both');
  if (!parsePluginRef(ref).ok) throw new UsageError('the plugin ref must be source-qualified, e.g. project:example.echo');
  const input = await readInput(io, options);
  const stores = storeOptions(io, options);
  const discovery = await discoverServe(stores.workspace);
  const via: Via = discovery.serve ? 'serve' : 'in-process';
  reportVia(io, via, discovery, options.json);
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  const { output, printed } = discovery.serve ? await callThroughServe(discovery.serve) : await callInProcess();
  const durationMs = elapsed();
  const reported = toolErrorOf(output);
  if (reported) {
    if (!options.json) printOutput(io, output);
    throw new CommandFailure(`tool \`${tool.slice(0, 128)}\` reported an error: ${reported.code}${reported.message ? `: ${reported.message}` : ''}`, 'tool_error', {
      details: { plugin: ref, tool, via, output, duration_ms: durationMs, ...printed },
    });
  }
  if (options.json) printJson(io, { command: 'call', status: 'ok', plugin: ref, tool, via, output, duration_ms: durationMs, ...printed });
  else printOutput(io, output);

  function failed(message: string, code: FailureCode, printed: { logs?: unknown[]; logs_dropped?: number } = {}): CommandFailure {
    return new CommandFailure(message, code, { details: { plugin: ref, tool, via, output: null, duration_ms: elapsed(), ...printed } });
  }

  /** The output, and what the guest printed during the call (its `console` / stdout / stderr). */
  async function callInProcess(): Promise<{ output: ToolOutput; printed: { logs: GuestLogLine[]; logs_dropped: number } }> {
    // One call, then the host closes: no spare instances made ahead for calls that never come.
    const host = await PluginHost.fromWorkspace(stores, { cacheDir: defaultCacheDir(io.env), spareInstances: 0 });
    try {
      const problem = toolCallProblem(host, ref, tool);
      if (problem) throw new CommandFailure(problem.message, problem.code);
      const log = pluginRuntimeOf(host, ref)!.log;
      const mark = log.written;
      try {
        const output = await host.tools.callQualified(ref, tool, input);
        return { output, printed: callLogs(log.since(mark)) };
      } catch (error) {
        if (!(error instanceof PluginError)) throw error;
        const failure = hostFailure(error);
        throw failed(failure.message, failure.code, callLogs(log.since(mark)));
      }
    } finally {
      await host.close();
    }
  }

  /** The output, and what the guest printed during the call as serve reports it. */
  async function callThroughServe(serve: ServeConnection): Promise<{ output: ToolOutput; printed: { logs?: unknown[]; logs_dropped?: number } }> {
    const answer = await serveRequest(serve, 'POST', '/v1/tools/call', { plugin: ref, tool, input });
    if (!answer) throw failed(`the running serve (${serve.url}) did not answer the call`, 'serve_refused');
    const body = answer.json as { output?: ToolOutput; logs?: unknown[]; logs_dropped?: number; error?: { code?: string; message?: string } } | null;
    if (answer.status === 200 && body?.output) return { output: body.output, printed: Array.isArray(body.logs) ? { logs: body.logs, logs_dropped: body.logs_dropped ?? 0 } : {} };
    const code = body?.error?.code ?? 'failed';
    const message = body?.error?.message ?? `serve answered ${answer.status}`;
    // The pre-call checks answer with the CLI's own codes; a host error with its code, as in-process.
    if (/^[a-z_]+$/.test(code)) throw new CommandFailure(message, code as FailureCode);
    throw failed(`${message} [${code}]`, code.toLowerCase() as FailureCode);
  }
}
