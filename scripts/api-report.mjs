#!/usr/bin/env node
// The API report of @yoi-plugins/host: API Extractor reads the build's declarations of the
// library entry (packages/host/dist/src/index.d.ts) and writes packages/host/api/host.api.md.
// `npm run api` updates the report (commit it with the change that moved the API);
// `--check` writes nothing and exits 1 when the committed report is not what the build gives
// (test/structure/api-report.test.ts runs it, so CI fails on an unreported API change). Both
// also fail when an exported symbol has no TSDoc or names a type the entry does not export,
// beyond the internals listed below.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hostDir = join(root, 'packages', 'host');
const report = join(hostDir, 'api', 'host.api.md');

// Types that public signatures name but embedders never build themselves: the constructors of
// PluginService (built by PluginHost) and of the journal engines' base class (built by the
// engines' open functions) take them.
const INTERNAL_TYPES = new Set(['PluginRuntime', 'ServiceOptions', 'RecordStore']);

const check = process.argv.includes('--check');
const config = ExtractorConfig.loadFileAndPrepare(join(hostDir, 'api-extractor.json'));
const messages = [];
const result = Extractor.invoke(config, {
  localBuild: !check,
  messageCallback(message) {
    if (message.logLevel === 'error' || message.logLevel === 'warning') messages.push(message.formatMessageWithLocation(hostDir));
    message.handled = true;
  },
});

const problems = [];
if (check && result.apiReportChanged) {
  problems.push(`the API of @yoi-plugins/host changed and ${report} was not updated: run \`npm run api\` and commit the report (compare with ${join(hostDir, 'dist', 'api', 'host.api.md')})`);
}
for (const message of messages) {
  if (message.includes('You have changed the API signature') || message.includes('API report file was missing')) continue;
  problems.push(message);
}
const text = readFileSync(check ? join(hostDir, 'dist', 'api', 'host.api.md') : report, 'utf8');
const lines = text.split('\n');
lines.forEach((line, i) => {
  if (line.trim() === '// (undocumented)' && /^export /.test(lines[i + 1] ?? '')) problems.push(`no TSDoc on an exported symbol: ${lines[i + 1].slice(0, 120)}`);
  const forgotten = /ae-forgotten-export\) The symbol "([^"]+)"/.exec(line);
  if (forgotten && !INTERNAL_TYPES.has(forgotten[1])) problems.push(`the API names ${forgotten[1]}, which the entry does not export (export it, or list it as internal in scripts/api-report.mjs)`);
});

if (problems.length > 0) {
  for (const problem of problems) process.stderr.write(`api-report: ${problem}\n`);
  process.exit(1);
}
process.stdout.write(check ? 'api-report: the committed report matches the build\n' : `api-report: ${result.apiReportChanged ? 'updated' : 'unchanged'} ${report}\n`);
