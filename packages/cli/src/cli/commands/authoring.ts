import { resolve } from 'node:path';
import { buildPlugin, BuildError } from '../../build/build.js';
import { newPlugin, TEMPLATES, TemplateError } from '../../build/templates.js';
import { CommandFailure, printJson, UsageError, type CliIo } from '../io.js';
import { term } from '../terminal.js';

export async function runNew(io: CliIo, template: string, destination: string, options: { json?: boolean }): Promise<void> {
  if (!(TEMPLATES as readonly string[]).includes(template)) throw new UsageError(`unknown template \`${template.slice(0, 40)}\` (available: ${TEMPLATES.join(', ')})`);
  let result;
  try {
    result = await newPlugin(template, resolve(io.cwd, destination));
  } catch (error) {
    if (error instanceof TemplateError) throw new CommandFailure(error.message, 'template_failed');
    throw error;
  }
  const nextSteps = [
    `yoi plugin build ${destination}`,
    `yoi plugin check ${destination}`,
    `yoi plugin pack ${destination}`,
    `yoi plugin enable ${destination} --workspace <workspace>`,
  ];
  if (options.json) {
    printJson(io, { command: 'new', status: 'created', template, destination: result.destination, id: result.id, files: result.files, editor_types: result.editorTypes, next_steps: nextSteps });
    return;
  }
  const types = result.editorTypes === 'written' ? 'the PDK types for your editor: node_modules/@yoi-plugins/pdk' : result.editorTypes === 'resolved' ? 'the PDK types resolve from a parent folder' : null;
  io.stdout(
    [term`created ${template} plugin \`${result.id}\` in ${result.destination}`, ...result.files.map((f) => term`  ${f}`), ...(types ? [`  (${types})`] : []), 'next:', ...nextSteps.map((s) => term`  ${s}`)].join('\n') + '\n',
  );
}

export async function runBuild(io: CliIo, dir: string | undefined, options: { json?: boolean; force?: boolean }): Promise<void> {
  const target = resolve(io.cwd, dir ?? '.');
  let result;
  try {
    result = await buildPlugin(target, { ...(options.force ? { force: true } : {}), ...(options.json ? {} : { onProgress: (message: string) => io.stderr(term`yoi plugin build: ${message}` + '\n') }) });
  } catch (error) {
    if (error instanceof BuildError) {
      throw new CommandFailure(`build failed: ${error.message}`, error.kind === 'type' ? 'type_error' : 'build_failed', { lines: error.lines, ...(error.lines.length > 0 ? { details: { errors: error.lines } } : {}) });
    }
    throw error;
  }
  if (options.json) {
    printJson(io, {
      command: 'build',
      status: result.skipped ? 'up_to_date' : 'built',
      output_path: result.outputPath,
      bytes: result.bytes,
      entry: result.entry,
      duration_ms: Math.round(result.durationMs),
      type_check: { status: result.typeCheck.status, duration_ms: Math.round(result.typeCheck.durationMs), files: result.typeCheck.files },
      editor_types: result.editorTypes,
    });
    return;
  }
  const check = result.typeCheck;
  const typeLine = check.status === 'passed' ? `type check: passed (${check.files} file${check.files === 1 ? '' : 's'}, ${Math.round(check.durationMs)} ms)` : check.status === 'unchanged' ? 'type check: sources unchanged since the last check that passed' : 'type check: skipped (JavaScript entry)';
  io.stdout(term`${result.skipped ? 'up to date' : 'built'}: ${result.outputPath} (${result.bytes} bytes, ${Math.round(result.durationMs)} ms)` + '\n' + typeLine + '\n');
}
