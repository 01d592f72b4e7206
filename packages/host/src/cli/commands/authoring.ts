import { resolve } from 'node:path';
import { buildPlugin, BuildError } from '../../build/build.js';
import { newPlugin, TemplateError } from '../../build/templates.js';
import { CommandFailure, printJson, type CliIo } from '../io.js';
import { term } from '../terminal.js';

export async function runNew(io: CliIo, template: string, destination: string, options: { json?: boolean }): Promise<void> {
  let result;
  try {
    result = await newPlugin(template, resolve(io.cwd, destination));
  } catch (error) {
    if (error instanceof TemplateError) throw new CommandFailure(error.message);
    throw error;
  }
  const nextSteps = [
    `yoi plugin build ${destination}`,
    `yoi plugin check ${destination}`,
    `yoi plugin pack ${destination}`,
    `yoi plugin enable ${destination} --workspace <workspace>`,
  ];
  if (options.json) {
    printJson(io, { command: 'new', template, destination: result.destination, id: result.id, files: result.files, next_steps: nextSteps });
    return;
  }
  io.stdout(
    [term`created ${template} plugin \`${result.id}\` in ${result.destination}`, ...result.files.map((f) => term`  ${f}`), 'next:', ...nextSteps.map((s) => term`  ${s}`)].join('\n') + '\n',
  );
}

export async function runBuild(io: CliIo, dir: string | undefined, options: { json?: boolean; force?: boolean }): Promise<void> {
  const target = resolve(io.cwd, dir ?? '.');
  let result;
  try {
    result = await buildPlugin(target, { ...(options.force ? { force: true } : {}), onProgress: options.json ? undefined : (message) => io.stderr(term`yoi plugin build: ${message}` + '\n') });
  } catch (error) {
    if (error instanceof BuildError) throw new CommandFailure(`build failed: ${error.message}`);
    throw error;
  }
  if (options.json) {
    printJson(io, { command: 'build', status: result.skipped ? 'up_to_date' : 'built', output_path: result.outputPath, bytes: result.bytes, entry: result.entry, duration_ms: Math.round(result.durationMs) });
    return;
  }
  io.stdout(term`${result.skipped ? 'up to date' : 'built'}: ${result.outputPath} (${result.bytes} bytes, ${Math.round(result.durationMs)} ms)` + '\n');
}
