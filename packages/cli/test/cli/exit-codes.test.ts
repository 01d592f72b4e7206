/**
 * Exit codes and JSON that scripts can trust: 0 ok, 1 failure, 2 usage error, for every
 * command; with `--json` every failure is one JSON document on stdout,
 * `{command, status: "error", error: {code, message}}`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { createMcpServer } from '@yoi-plugins/host/internal/tools/mcp-server.js';
import { CLI_FAILURE_CODES } from '../../src/cli/io.js';
import { LEGACY_MANIFEST } from '@yoi-plugins/host/test/fixtures/manifest.js';
import { cli, echoManifest, tempDir, writePluginDir } from '@yoi-plugins/host/test/helpers.js';
import { assemble, TOOL_WATS } from '@yoi-plugins/host/test/fixtures/wat.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, watToolManifest } from '@yoi-plugins/host/test/fixtures/workspace.js';

// Compiled to packages/cli/dist/test/cli/exit-codes.test.js: packages/cli is three folders up.
const CLI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = join(CLI_DIR, 'bin', 'yoi.js');
const VERSION = (JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string }).version;
process.env['YOI_CACHE_DIR'] = join(TEST_TRANSPILE_CACHE, '..');

interface Failure {
  command: string | null;
  status: string;
  error: { code: string; message: string };
}

function env(root: string): NodeJS.ProcessEnv {
  return { HOME: join(root, 'home'), XDG_DATA_HOME: join(root, 'data'), YOI_BUILTIN_DIR: join(root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
}

const SAY = watToolManifest('say', { tools: ['say'] });

describe('yoi plugin call: a tool that reports an error', () => {
  it('prints the output, exits 1, and with --json prints the failure with the output', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: SAY, component: await assemble(TOOL_WATS.echo) }]);
    const args = ['plugin', 'call', 'project:say', 'say', '--workspace', ws.workspace, '--input', '{"summary":"tool error: not_found","content":"no such city"}'];
    const human = await cli(args, { env: env(ws.root) });
    assert.equal(human.code, 1, human.stderr);
    assert.equal(human.stdout, 'tool error: not_found\n\nno such city\n');
    assert.equal(human.stderr, 'yoi: in-process (no serve is running for this workspace)\nyoi plugin: tool `say` reported an error: not_found: no such city\n');

    const json = await cli([...args, '--json'], { env: env(ws.root) });
    assert.equal(json.code, 1);
    const doc = json.json<Failure & { plugin: string; tool: string; output: unknown; duration_ms: number }>();
    assert.deepEqual({ ...doc, duration_ms: 0 }, {
      command: 'call',
      status: 'error',
      plugin: 'project:say',
      tool: 'say',
      via: 'in-process',
      output: { summary: 'tool error: not_found', content: 'no such city' },
      duration_ms: 0,
      logs: [],
      logs_dropped: 0,
      error: { code: 'tool_error', message: 'tool `say` reported an error: not_found: no such city' },
    });
    // Yoi's rendering (content `{"error":{…}}`) is recognised too.
    const yoi = await cli(['plugin', 'call', 'project:say', 'say', '--workspace', ws.workspace, '--json', '--input', JSON.stringify({ summary: 'tool error: invalid_input', content: JSON.stringify({ error: { code: 'invalid_input', message: 'city is required' } }) })], { env: env(ws.root) });
    assert.equal(yoi.code, 1);
    assert.equal(yoi.json<Failure>().error.message, 'tool `say` reported an error: invalid_input: city is required');
  });

  it('a successful call has status ok; a trap is a JSON failure with the host error code', async (t) => {
    const ws = pluginWorkspace(t, [
      { manifest: SAY, component: await assemble(TOOL_WATS.echo) },
      { manifest: watToolManifest('trap', { tools: ['boom'] }), component: await assemble(TOOL_WATS.trap) },
    ]);
    const ok = await cli(['plugin', 'call', 'project:say', 'say', '--workspace', ws.workspace, '--json', '--input', '{"summary":"fine"}'], { env: env(ws.root) });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.json<{ status: string }>().status, 'ok');
    const trap = await cli(['plugin', 'call', 'project:trap', 'boom', '--workspace', ws.workspace, '--json'], { env: env(ws.root) });
    assert.equal(trap.code, 1);
    const doc = trap.json<Failure & { output: unknown }>();
    assert.equal(doc.command, 'call');
    assert.equal(doc.status, 'error');
    assert.equal(doc.output, null);
    assert.equal(doc.error.code, 'sandbox_trap');
  });

  it('over MCP, a tool error report is an MCP tool error (isError)', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: SAY, component: await assemble(TOOL_WATS.echo) }]);
    const host = await ws.open();
    t.after(() => host.close());
    const client = await mcpClient(t, host);
    const failed = (await client.callTool({ name: 'say', arguments: { summary: 'tool error: not_found', content: 'no such city' } })) as { isError?: boolean };
    assert.equal(failed.isError, true);
    const fine = (await client.callTool({ name: 'say', arguments: { summary: 'fine' } })) as { isError?: boolean };
    assert.equal(fine.isError, undefined);
  });
});

async function mcpClient(t: TestContext, host: PluginHost): Promise<Client> {
  const server = createMcpServer(host);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1' });
  await client.connect(clientSide);
  t.after(async () => {
    await client.close();
    await server.close();
  });
  return client;
}

describe('--json failures of every command', () => {
  it('are one JSON document on stdout with a stable code, and the exit code says which kind', async (t) => {
    const root = tempDir(t);
    const ws = join(root, 'ws');
    mkdirSync(ws);
    mkdirSync(join(root, 'full'));
    writeFileSync(join(root, 'full', 'x'), 'x');
    const legacy = writePluginDir(join(root, 'legacy'), LEGACY_MANIFEST);
    const cases: [string[], number, string][] = [
      [['list', '--workspace', join(root, 'nope')], 2, 'usage'],
      [['show', 'project:nothing', '--workspace', ws], 1, 'not_found'],
      [['check', legacy], 1, 'plugin_rejected'],
      [['pack', legacy], 1, 'pack_failed'],
      [['enable', 'project:nothing', '--workspace', ws, '--yes'], 1, 'not_found'],
      [['disable', 'project:nothing', '--workspace', ws], 1, 'not_enabled'],
      [['call', 'project:nothing', 'run', '--workspace', ws], 1, 'not_enabled'],
      [['call', 'project:nothing', 'run', '--workspace', ws, '--input', '{oops'], 2, 'usage'],
      [['status', 'project:nothing', '--workspace', ws], 1, 'not_enabled'],
      [['dlq', 'purge', 'project:nothing', '--workspace', ws], 2, 'usage'],
      [['new', 'rust-tool', join(root, 'x')], 2, 'usage'],
      [['new', 'ts-tool', join(root, 'full')], 1, 'template_failed'],
      [['build', join(root, 'nothing-here')], 1, 'build_failed'],
      [['demo', '--messages', '0'], 2, 'usage'],
      [['list', '--bogus-option'], 2, 'usage'],
    ];
    for (const [args, exit, code] of cases) {
      const result = await cli(['plugin', ...args, '--json'], { env: env(root), cwd: root });
      const what = args.join(' ');
      assert.equal(result.code, exit, `${what}: ${result.stderr}`);
      let doc: Failure;
      try {
        doc = result.json<Failure>();
      } catch {
        assert.fail(`${what}: stdout is not one JSON document: ${result.stdout}`);
      }
      assert.equal(doc.command, args[0], what);
      assert.equal(doc.error.code, code, `${what}: ${JSON.stringify(doc.error)}`);
      assert.equal(typeof doc.error.message, 'string');
      // check's report is its result: its status stays the verdict
      assert.equal(doc.status, args[0] === 'check' ? 'rejected' : 'error', what);
    }
  });

  it('without --json, failures print nothing on stdout (a one-line reason on stderr)', async (t) => {
    const root = tempDir(t);
    const result = await cli(['plugin', 'show', 'project:nothing', '--workspace', root], { env: env(root) });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^yoi plugin: plugin package `project:nothing` was not found\n$/);
  });
});

describe('usage errors exit 2 everywhere', () => {
  it('for missing arguments, unknown options, commands and templates, and bad option values', async (t) => {
    const root = tempDir(t);
    for (const args of [
      ['plugin'],
      ['plugin', 'nope'],
      ['plugin', 'check'],
      ['plugin', 'list', '--bogus'],
      ['plugin', 'new', 'rust-tool', join(root, 'x')],
      ['plugin', 'serve', '--port', '99999', '--workspace', root],
      ['plugin', 'call', 'project:x', 'run', '--workspace', root, '--input', 'not json'],
      ['plugin', 'enable', join(root, 'nothing'), '--limit', 'nonsense', '--yes', '--workspace', root],
      ['plugin', 'dlq', 'drop', 'project:x', '--workspace', root],
    ]) {
      const result = await cli(args, { env: env(root), cwd: root });
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    }
  });
});

describe('--version', () => {
  it('prints the host package version for yoi and yoi plugin', async () => {
    for (const args of [['--version'], ['-V'], ['plugin', '--version']]) {
      const result = await cli(args);
      assert.equal(result.code, 0, args.join(' '));
      assert.equal(result.stdout, `${VERSION}\n`);
    }
  });
});

describe('a closed stdout pipe (yoi … | head)', () => {
  it('ends the output quietly: no EPIPE stack trace, the command keeps its exit code', async (t) => {
    const root = tempDir(t);
    const ws = join(root, 'ws');
    mkdirSync(join(ws, '.yoi', 'plugins'), { recursive: true });
    for (let i = 0; i < 40; i++) {
      const dir = writePluginDir(join(root, `p${i}`), echoManifest({ id: `plugin.number.${i}` }));
      assert.equal((await cli(['plugin', 'pack', dir, '--output', join(ws, '.yoi', 'plugins', `plugin.number.${i}.yoi-plugin`)])).code, 0);
    }
    const child = spawn(process.execPath, [BIN, 'plugin', 'list', '--workspace', ws, '--json'], { env: { PATH: process.env['PATH'] ?? '', HOME: root }, stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader goes away before the command writes anything, as `head` does after its lines.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolveExit) => child.on('close', (c) => resolveExit(c)));
    assert.equal(stderr, '', 'nothing on stderr');
    assert.equal(code, 0);
  });
});

describe('docs/cli.md', () => {
  it('lists every failure code the CLI uses, and only codes the CLI or the host can report', () => {
    const doc = readFileSync(join(CLI_DIR, '..', '..', 'docs', 'cli.md'), 'utf8');
    const table = doc.slice(doc.indexOf('`error.code` is one of:'), doc.indexOf('## Pipes'));
    const firstCells = table.split('\n').filter((l) => l.startsWith('| `')).map((l) => l.split(' | ')[0]!);
    const documented = new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!)));
    for (const code of CLI_FAILURE_CODES) assert.ok(documented.has(code), `${code} is not in docs/cli.md`);
    // Host errors reach --json as their code in lower case: each one is listed too.
    const errorsSource = readFileSync(join(CLI_DIR, '..', 'host', 'src', 'errors.ts'), 'utf8');
    const union = errorsSource.slice(errorsSource.indexOf('export type ErrorCode'), errorsSource.indexOf(';', errorsSource.indexOf('export type ErrorCode')));
    const hostCodes = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]!.toLowerCase());
    assert.ok(hostCodes.length > 10);
    for (const code of hostCodes) assert.ok(documented.has(code), `host error ${code} is not in docs/cli.md`);
    for (const code of documented) {
      const known = (CLI_FAILURE_CODES as readonly string[]).includes(code) || hostCodes.includes(code);
      assert.ok(known, `docs/cli.md lists ${code}, which nothing reports`);
    }
  });
});
