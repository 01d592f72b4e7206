/**
 * Acceptance: an official MCP client (the SDK's Client over stdio) lists and calls tools
 * through the real `yoi plugin mcp` process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readPackageFile } from '../../src/package/archive-file.js';
import { detectComponentFormat } from '../../src/package/component-format.js';
import { computePackageDigest } from '../../src/package/digest.js';
import { tempDir } from '../helpers.js';
import { buildJsComponent, JS_TOOL_MANIFEST, JS_TOOL_SOURCE } from '../fixtures/js.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { SHIPPED_BUILTIN, YOI_BIN } from '../fixtures/cli-package.js';

// Compiled to packages/host/dist/test/tools/mcp.test.js: the repository root is five folders up.
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');
const BIN = YOI_BIN;
const TEST_CACHE = join(REPO_ROOT, 'packages', 'host', '.yoi-test-cache');
const EXAMPLE_WORKSPACE = join(REPO_ROOT, 'examples', 'workspace');
const EXAMPLE_BUILTIN = SHIPPED_BUILTIN;
const EXAMPLE_ECHO = join(EXAMPLE_BUILTIN, 'example.echo.yoi-plugin');
const REQUEST = { timeout: 30_000 };

interface TextResult {
  readonly content: { type: string; text?: string }[];
  readonly structuredContent?: Record<string, unknown>;
  readonly isError?: boolean;
}

/** The child's environment: no user store, an empty builtin store, the shared transpile cache. */
function childEnv(t: TestContext, builtinDir?: string): Record<string, string> {
  const home = tempDir(t, 'yoi-mcp-home-');
  const builtin = builtinDir ?? join(home, 'builtin');
  if (!builtinDir) mkdirSync(builtin);
  return { PATH: process.env['PATH'] ?? '', HOME: home, YOI_BUILTIN_DIR: builtin, YOI_CACHE_DIR: TEST_CACHE };
}

interface Connection {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  readonly errors: Error[];
  readonly stderr: () => string;
  /** Resolves with the child's exit once it has exited (null if the child could not be observed). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null } | null>;
}

async function connect(t: TestContext, workspace: string, builtinDir?: string): Promise<Connection> {
  assert.ok(existsSync(BIN), `no bin at ${BIN}`);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'plugin', 'mcp', '--workspace', workspace],
    env: childEnv(t, builtinDir),
    cwd: REPO_ROOT,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'yoi-plugins-test', version: '0.0.0' });
  const errors: Error[] = [];
  // Anything on the child's stdout that is not a JSON-RPC message lands here.
  client.onerror = (error) => void errors.push(error);
  t.after(() => client.close());
  await client.connect(transport);
  // the SDK keeps the child private; observe its exit when it is reachable
  const child = (transport as unknown as { _process?: ChildProcess })._process;
  const exited = child
    ? new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) done({ code: child.exitCode, signal: child.signalCode });
        else child.once('exit', (code, signal) => done({ code, signal }));
      })
    : Promise.resolve(null);
  return { client, transport, errors, stderr: () => stderr, exited };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const TOOL_PERMISSIONS = (names: string[]) => [{ kind: 'surface', surface: 'tool' } as const, ...names.map((name) => ({ kind: 'tool', name }) as const)];

describe('yoi plugin mcp (official SDK client over stdio)', () => {
  it('lists and calls the tools of a workspace; tool failures are MCP tool errors', { timeout: 120_000 }, async (t) => {
    const ws = pluginWorkspace(t, [
      { manifest: JS_TOOL_MANIFEST, component: await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST) },
      {
        // `echo` collides with the JS plugin's; `wat_hidden` is not granted
        manifest: watToolManifest('wat.echo', { tools: ['wat_echo', 'echo', 'wat_hidden'] }),
        component: await assemble(TOOL_WATS.echo),
        grants: { permissions: TOOL_PERMISSIONS(['wat_echo', 'echo']) },
      },
      {
        manifest: watToolManifest('writer', {
          tools: ['wat_write'],
          extraPermissions: '  { kind = "external_write" },',
        }).replace('name = "wat_write"\ndescription = "wat_write"\ninput_schema = { type = "object" }', 'name = "wat_write"\ndescription = "wat_write"\ninput_schema = { type = "object" }\nexternal_write = true'),
        component: await assemble(TOOL_WATS.echo),
      },
    ]);
    const { client, transport, errors, stderr, exited } = await connect(t, ws.workspace);
    // nothing but JSON-RPC before and during the handshake (the banner goes to stderr)
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );

    assert.equal(client.getServerVersion()?.name, 'yoi-plugins');
    const capabilities = client.getServerCapabilities() ?? {};
    assert.ok(capabilities.tools, 'the server offers tools');
    // nothing else: no resources, prompts or anything that could change grants
    assert.deepEqual(
      Object.keys(capabilities).filter((k) => capabilities[k as keyof typeof capabilities] !== undefined),
      ['tools'],
    );

    const { tools } = await client.listTools(undefined, REQUEST);
    const names = tools.map((tool) => tool.name);
    assert.deepEqual(names, ['echo', 'clock', 'fetch', 'fs_read', 'fs_list', 'fs_write', 'throw', 'spin', 'hog', 'bad_output', 'wat_echo', 'wat_write']);
    const echo = tools.find((tool) => tool.name === 'echo')!;
    assert.equal(echo.description, 'echo');
    assert.deepEqual(echo.inputSchema, { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] });
    assert.equal(echo.annotations, undefined);
    assert.deepEqual(tools.find((tool) => tool.name === 'wat_echo')!.inputSchema, { type: 'object' });
    assert.deepEqual(tools.find((tool) => tool.name === 'wat_write')!.annotations, { readOnlyHint: false, destructiveHint: true });
    // registration problems and the banner go to stderr
    assert.match(stderr(), /yoi mcp: duplicate tool `echo` from project:wat\.echo; first registered by project:js\.tool/);
    assert.match(stderr(), /yoi mcp: plugin project:wat\.echo tool wat_hidden registration denied: granted tool permission for `wat_hidden` is missing/);
    assert.match(stderr(), /yoi mcp: serving 12 tool\(s\) on stdio/);

    const hi = (await client.callTool({ name: 'echo', arguments: { text: 'hi' } }, undefined, REQUEST)) as TextResult;
    assert.ok(!hi.isError, JSON.stringify(hi));
    assert.deepEqual(hi.content, [{ type: 'text', text: 'echo: hi\n\nhi' }]);
    assert.match(hi.content[0]!.text!, /echo: hi/);
    assert.deepEqual(hi.structuredContent, { summary: 'echo: hi', content: 'hi' });

    const wat = (await client.callTool({ name: 'wat_echo', arguments: { summary: 'from wat' } }, undefined, REQUEST)) as TextResult;
    assert.ok(!wat.isError, JSON.stringify(wat));
    assert.deepEqual(wat.content, [{ type: 'text', text: 'from wat' }]);
    assert.deepEqual(wat.structuredContent, { summary: 'from wat', content: null });

    // a trapping guest is a tool error, not a protocol error
    const thrown = (await client.callTool({ name: 'throw', arguments: {} }, undefined, REQUEST)) as TextResult;
    assert.equal(thrown.isError, true);
    assert.match(thrown.content[0]?.text ?? '', /^SANDBOX_TRAP: /);
    assert.equal(thrown.structuredContent, undefined);

    // arguments that do not match the input schema never reach the guest
    const invalid = (await client.callTool({ name: 'echo', arguments: { text: 5 } }, undefined, REQUEST)) as TextResult;
    assert.equal(invalid.isError, true);
    assert.match(invalid.content[0]?.text ?? '', /^TOOL_INPUT_INVALID: plugin tool `echo` input does not match its input_schema at \$\.text: must be string/);
    const missing = (await client.callTool({ name: 'echo', arguments: {} }, undefined, REQUEST)) as TextResult;
    assert.equal(missing.isError, true);
    assert.match(missing.content[0]?.text ?? '', /TOOL_INPUT_INVALID: .*required property 'text'/);

    // bad guest output, unknown and ungranted tools: tool errors too
    const badOutput = (await client.callTool({ name: 'bad_output', arguments: {} }, undefined, REQUEST)) as TextResult;
    assert.equal(badOutput.isError, true);
    assert.match(badOutput.content[0]?.text ?? '', /^TOOL_OUTPUT_INVALID: .*unsupported key `extra`/);
    for (const name of ['no_such_tool', 'wat_hidden']) {
      const result = (await client.callTool({ name, arguments: {} }, undefined, REQUEST)) as TextResult;
      assert.equal(result.isError, true, name);
      assert.match(result.content[0]?.text ?? '', /^TOOL_NOT_FOUND: /, name);
    }
    // the colliding tool of the second plugin is not what `echo` reaches
    const again = (await client.callTool({ name: 'echo', arguments: { text: 'still js' } }, undefined, REQUEST)) as TextResult;
    assert.deepEqual(again.structuredContent, { summary: 'echo: still js', content: 'still js' });

    // concurrent calls are answered each with its own result
    const texts = ['a', 'b', 'c', 'd', 'e'];
    const results = (await Promise.all(texts.map((text) => client.callTool({ name: 'echo', arguments: { text } }, undefined, REQUEST)))) as TextResult[];
    assert.deepEqual(
      results.map((r) => r.structuredContent?.['summary']),
      texts.map((text) => `echo: ${text}`),
    );

    // nothing but JSON-RPC was written to the child's stdout
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );

    // closing the client ends the server: stdin closes, the child exits by itself
    const pid = transport.pid;
    assert.ok(pid !== null && pid > 0);
    const started = performance.now();
    await client.close();
    const closeMs = performance.now() - started;
    assert.ok(closeMs < 1900, `the child took ${Math.round(closeMs)} ms to exit after stdin closed (the SDK sends SIGTERM at 2 s)`);
    const exit = await exited;
    if (exit) assert.deepEqual(exit, { code: 0, signal: null }, stderr());
    assert.equal(isAlive(pid!), false, 'the server process is gone');
  });

  it('writes only newline-delimited JSON-RPC to stdout and exits 0 when stdin ends', { timeout: 60_000 }, async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('wat.echo', { tools: ['wat_echo'] }), component: await assemble(TOOL_WATS.echo) }]);
    const child = spawn(process.execPath, [BIN, 'plugin', 'mcp', '--workspace', ws.workspace], { cwd: REPO_ROOT, env: childEnv(t), stdio: ['pipe', 'pipe', 'pipe'] });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    const send = (message: object) => child.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');
    /** Waits until the response with this id has arrived on stdout. */
    const response = async (id: number) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const line = stdout.split('\n').find((l) => l.includes(`"id":${id}`));
        if (line) return JSON.parse(line) as { result?: Record<string, unknown>; error?: unknown };
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no response ${id}; stdout: ${stdout.slice(0, 500)}; stderr: ${stderr.slice(0, 500)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
    const init = await response(1);
    assert.equal((init.result?.['serverInfo'] as { name: string }).name, 'yoi-plugins');
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/list' });
    assert.deepEqual(
      ((await response(2)).result?.['tools'] as { name: string }[]).map((tool) => tool.name),
      ['wat_echo'],
    );
    send({ id: 3, method: 'tools/call', params: { name: 'wat_echo', arguments: { summary: 'raw call' } } });
    assert.deepEqual((await response(3)).result?.['structuredContent'], { summary: 'raw call', content: null });
    // a protocol-level error for an unknown method, still JSON-RPC
    send({ id: 4, method: 'resources/list' });
    assert.ok((await response(4)).error, 'resources are not offered');

    child.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([exited, new Promise<'still running'>((done) => (timer = setTimeout(() => done('still running'), 10_000)))]);
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null }, `the server did not exit cleanly 10 s after stdin ended; stderr: ${stderr}`);
    const lines = stdout.split('\n');
    assert.equal(lines.pop(), '', 'stdout ends with a newline');
    for (const line of lines) {
      const message = JSON.parse(line) as { jsonrpc?: string };
      assert.equal(message.jsonrpc, '2.0', line);
    }
    assert.equal(lines.length, 4);
    assert.match(stderr, /yoi mcp: serving 1 tool\(s\) on stdio/);
  });

  it('serves the bundled example workspace', { timeout: 120_000 }, async (t) => {
    const skip = await exampleSkipReason();
    if (skip) {
      t.skip(skip);
      return;
    }
    const { client, errors, stderr } = await connect(t, EXAMPLE_WORKSPACE, EXAMPLE_BUILTIN);
    const { tools } = await client.listTools(undefined, REQUEST);
    const names = tools.map((tool) => tool.name);
    // echo is active; weather is partial (forecast granted, alerts not); notes is not enabled
    assert.ok(names.includes('echo'), `tools: ${names.join(', ')}; stderr: ${stderr()}`);
    assert.ok(names.includes('forecast'), names.join(', '));
    assert.ok(!names.includes('alerts'), names.join(', '));
    const echo = tools.find((tool) => tool.name === 'echo')!;
    assert.equal(echo.description, 'Echo input text.');
    assert.deepEqual(echo.inputSchema, {
      type: 'object',
      properties: { text: { type: 'string', description: 'Text to echo' } },
      required: ['text'],
      additionalProperties: false,
    });

    const hi = (await client.callTool({ name: 'echo', arguments: { text: 'hi' } }, undefined, REQUEST)) as TextResult;
    assert.ok(!hi.isError, JSON.stringify(hi));
    assert.match(hi.content[0]?.text ?? '', /echo: hi/);
    assert.deepEqual(hi.structuredContent, { summary: 'echo: hi', content: 'hi' });

    const extra = (await client.callTool({ name: 'echo', arguments: { text: 'hi', loud: true } }, undefined, REQUEST)) as TextResult;
    assert.equal(extra.isError, true);
    assert.match(extra.content[0]?.text ?? '', /^TOOL_INPUT_INVALID: .*additional properties \(`loud`\)/);
    assert.match(stderr(), /yoi mcp: serving \d+ tool\(s\) on stdio/);
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  });
});

/** Why the example workspace cannot be served yet, or null when its echo package holds a real component. */
async function exampleSkipReason(): Promise<string | null> {
  if (!existsSync(EXAMPLE_ECHO)) return `${EXAMPLE_ECHO} does not exist (npm run build packs the example plugins)`;
  const files = await readPackageFile(EXAMPLE_ECHO);
  if (!files.ok) return `example.echo package cannot be read: ${files.diagnostic.message}`;
  const component = files.value.get('plugin.component.wasm');
  if (!component) return 'example.echo package has no plugin.component.wasm';
  const format = detectComponentFormat(component);
  if (format !== 'component') return `example.echo package holds a ${format}, not a real component`;
  // a real component with a stale pin is a broken example, not a reason to skip
  const digest = computePackageDigest(files.value);
  const enablement = readFileSync(join(EXAMPLE_WORKSPACE, '.yoi', 'plugins.toml'), 'utf8');
  assert.ok(enablement.includes(digest), `examples/workspace/.yoi/plugins.toml does not pin example.echo's digest ${digest}: run npm run build`);
  return null;
}
