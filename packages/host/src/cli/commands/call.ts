import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PluginHost } from '../../host.js';
import { PluginError } from '../../errors.js';
import { CommandFailure, printJson, UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { parsePluginRef } from '../../manifest/ids.js';
import { defaultCacheDir } from '../../sandbox/transpile-cache.js';
import { escapeTerminal } from '../terminal.js';

const GUEST_TEXT = { multiline: true, limit: Infinity } as const;

export interface CallOptions extends CommonOptions {
  readonly input?: string;
  readonly inputFile?: string;
}

export async function runCall(io: CliIo, ref: string, tool: string, options: CallOptions): Promise<void> {
  if (options.input !== undefined && options.inputFile !== undefined) throw new UsageError('use either --input or --input-file, not both');
  if (!parsePluginRef(ref).ok) throw new UsageError('the plugin ref must be source-qualified, e.g. project:example.echo');
  let input = options.input ?? '{}';
  if (options.inputFile !== undefined) {
    try {
      input = await readFile(resolve(io.cwd, options.inputFile), 'utf8');
    } catch {
      throw new CommandFailure('the --input-file could not be read');
    }
  }
  const host = await PluginHost.fromWorkspace(storeOptions(io, options), { cacheDir: defaultCacheDir(io.env) });
  try {
    const runtime = host.runtimes.get(ref);
    if (!runtime) {
      const why = host.diagnostics.find((d) => d.identity === ref);
      throw new CommandFailure(`plugin \`${ref}\` is not enabled and resolved in this workspace${why ? `: ${why.message}` : ''}`);
    }
    const issue = host.registrationIssues.find((i) => i.plugin_ref === ref && i.tool === tool && i.kind !== 'collision');
    if (issue) throw new CommandFailure(issue.message);
    if (!host.tools.getQualified(ref, tool)) throw new CommandFailure(`plugin \`${ref}\` has no tool \`${tool.slice(0, 128)}\``);
    const started = performance.now();
    const output = await host.tools.callQualified(ref, tool, input);
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    if (options.json) printJson(io, { command: 'call', plugin: ref, tool, output, duration_ms: durationMs });
    // Guest output: shown escaped (newlines and tabs kept), never interpreted by the terminal.
    else io.stdout(`${escapeTerminal(output.summary, GUEST_TEXT)}\n${output.content !== null ? `\n${escapeTerminal(output.content, GUEST_TEXT)}\n` : ''}`);
  } catch (error) {
    if (error instanceof PluginError) throw new CommandFailure(`${error.message} [${error.code}]`);
    throw error;
  } finally {
    await host.close();
  }
}
