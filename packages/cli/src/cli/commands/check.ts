import { resolve } from 'node:path';
import { checkPlugin } from '@yoi-plugins/host/internal/inventory/check.js';
import { packageReport } from '@yoi-plugins/host/internal/inventory/check.js';
import { INSPECTION_SAFETY } from '@yoi-plugins/host/internal/inventory/safety.js';
import { packPluginDirectory } from '@yoi-plugins/host/internal/package/pack.js';
import { CommandFailure, printJson, type CliIo } from '../io.js';
import { renderCheck } from '../render.js';
import { term } from '../terminal.js';

export async function runCheck(io: CliIo, input: string, options: { json?: boolean }): Promise<void> {
  const report = await checkPlugin(resolve(io.cwd, input));
  const rejected = report.status === 'rejected';
  const error = { code: 'plugin_rejected', message: 'plugin check failed; see diagnostics' } as const;
  // A rejected check is a failure whose report is its result: the report carries the error.
  if (options.json) printJson(io, rejected ? { ...report, error } : report);
  else io.stdout(renderCheck(report));
  if (rejected) throw new CommandFailure(options.json ? error.message : 'plugin check failed; see diagnostics above', error.code, { reported: true });
}

export async function runPack(io: CliIo, dir: string, options: { json?: boolean; output?: string }): Promise<void> {
  const input = resolve(io.cwd, dir);
  const result = await packPluginDirectory(input, ...(options.output ? [resolve(io.cwd, options.output)] : []));
  if (!result.ok) throw new CommandFailure(`plugin pack failed: ${result.diagnostic.message}`, 'pack_failed');
  const { outputPath, package: pkg, bytes } = result.value;
  const report = packageReport(pkg, outputPath);
  if (options.json) {
    printJson(io, { command: 'pack', status: 'packed', input_path: input, output_path: outputPath, bytes, package: report, safety: INSPECTION_SAFETY });
    return;
  }
  io.stdout(
    [
      term`plugin pack: ${outputPath} [packed]`,
      term`package: ${report.reference} version=${report.version} digest=${report.digest} entries=${report.entries.length} bytes=${bytes}`,
      'safety: deterministic stored .yoi-plugin archive; no plugin execution; no config mutation',
      '',
    ].join('\n'),
  );
}
