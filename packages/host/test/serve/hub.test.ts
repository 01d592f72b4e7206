/**
 * Acceptance (issue I, "serve is the hub"): an agent's MCP client over Streamable HTTP and the
 * CLI reach the same live service instances through a running serve; without serve the CLI
 * falls back to a host of its own and says so.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { runCli } from '@yoi-plugins/cli/internal/cli/program.js';
import type { CliIo } from '@yoi-plugins/cli/internal/cli/io.js';
import { YOI_BIN } from '../fixtures/cli-package.js';
import { pluginRuntimeOf } from '../../src/host.js';
import { startServe, type RunningServer } from '../../src/serve/server.js';
import { createMcpHttpEndpoint } from '../../src/serve/mcp-http.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildJsComponent } from '../fixtures/js.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, type TestWorkspace } from '../fixtures/workspace.js';
import { until } from '../helpers.js';

const BIN = YOI_BIN;
const run = promisify(execFile);

interface CallResult {
  readonly content: { type: string; text?: string }[];
  readonly structuredContent?: { summary: string; content: string | null };
  readonly isError?: boolean;
}

function childEnv(ws: TestWorkspace): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '', HOME: ws.root, YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
}

/** `yoi plugin …` as a child process; resolves with its exit code and output whatever the code. */
async function yoi(ws: TestWorkspace, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'plugin', ...args, '--workspace', ws.workspace], { env: childEnv(ws), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function workspaceWithServices(t: TestContext): Promise<TestWorkspace> {
  const first = serviceManifest('svc');
  const second = serviceManifest('svc2');
  return pluginWorkspace(t, [
    { manifest: first, component: await buildJsComponent(SERVICE_SOURCE, first) },
    // the same tool names: svc2's are listed under their qualified names
    { manifest: second, component: await buildJsComponent(SERVICE_SOURCE, second) },
  ]);
}

function serve(ws: TestWorkspace): Promise<RunningServer> {
  return startServe({ stores: { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } }, cacheDir: TEST_TRANSPILE_CACHE, log: () => undefined });
}

async function mcpClient(t: TestContext, url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'hub-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  t.after(() => client.close());
  return client;
}

/** A GET with a chosen Host header (fetch does not let a caller set it). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve is the hub', () => {
  it('MCP over Streamable HTTP and `yoi plugin call` see the live state of a service; without serve the CLI falls back in-process', { timeout: 240_000 }, async (t) => {
    const ws = await workspaceWithServices(t);
    const running = await serve(ws);
    t.after(() => running.stop());
    const service = running.host.services.get('project:svc')!;
    for (let i = 0; i < 3; i++) await service.emit('events', 'job', 'test', { tag: `e${i}` });
    await service.idle();

    // an agent: the official SDK client over Streamable HTTP
    const client = await mcpClient(t, running.mcpUrl, running.mcpToken);
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    assert.deepEqual(names, ['handled', 'config', 'restored', 'project:svc2/handled', 'project:svc2/config', 'project:svc2/restored']);
    assert.equal(tools[3]!.description, '(project:svc2) what the service handled');
    const live = (await client.callTool({ name: 'handled', arguments: {} })) as unknown as CallResult;
    assert.equal(live.isError, undefined);
    assert.equal(live.structuredContent?.summary, '3', 'the live instance, not a fresh one');
    assert.deepEqual(
      (JSON.parse(live.structuredContent!.content!) as { tag: string }[]).map((h) => h.tag),
      ['e0', 'e1', 'e2'],
    );
    const other = (await client.callTool({ name: 'project:svc2/handled', arguments: {} })) as unknown as CallResult;
    assert.equal(other.structuredContent?.summary, '0');
    const unknown = (await client.callTool({ name: 'nope', arguments: {} })) as unknown as CallResult;
    assert.equal(unknown.isError, true);
    assert.match(unknown.content[0]!.text!, /^TOOL_NOT_FOUND: /);

    // the MCP endpoint wants a token; the MCP token opens nothing else
    assert.equal((await fetch(running.mcpUrl, { method: 'POST', body: '{}' })).status, 401);
    assert.equal((await fetch(`${running.url}/v1/status`, { headers: { authorization: `Bearer ${running.mcpToken}` } })).status, 401);

    // the CLI on the same plugin, while serve runs: the same live state, via serve
    const viaServe = await yoi(ws, ['call', 'project:svc', 'handled', '--json']);
    assert.equal(viaServe.code, 0, viaServe.stderr);
    const viaServeJson = JSON.parse(viaServe.stdout) as { via: string; output: { summary: string }; logs: unknown[]; logs_dropped: number };
    assert.equal(viaServeJson.via, 'serve');
    assert.deepEqual([viaServeJson.logs, viaServeJson.logs_dropped], [[], 0], 'what the guest printed during the call (nothing)');
    assert.equal(viaServeJson.output.summary, '3');
    const human = await captured(['plugin', 'call', 'project:svc', 'handled', '--workspace', ws.workspace]);
    assert.equal(human.code, 0);
    assert.match(human.stderr, /via the running serve/);
    const missing = await captured(['plugin', 'call', 'project:nope', 'handled', '--workspace', ws.workspace, '--json']);
    assert.equal(missing.code, 1);
    assert.deepEqual((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'not_enabled');

    // `yoi plugin mcp` (stdio) proxies to serve: the same live instance
    const stdio = new Client({ name: 'hub-stdio', version: '0.0.0' });
    await stdio.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'plugin', 'mcp', '--workspace', ws.workspace], env: childEnv(ws) as Record<string, string>, stderr: 'ignore' }));
    t.after(() => stdio.close());
    assert.deepEqual(
      (await stdio.listTools()).tools.map((tool) => tool.name),
      names,
    );
    await service.emit('events', 'job', 'test', { tag: 'e3' });
    await service.idle();
    assert.equal(((await stdio.callTool({ name: 'handled', arguments: {} })) as unknown as CallResult).structuredContent?.summary, '4');
    await stdio.close();

    const status = await captured(['plugin', 'status', 'project:svc', '--workspace', ws.workspace, '--json']);
    assert.equal((JSON.parse(status.stdout) as { via: string }).via, 'serve');
    const letters = await captured(['plugin', 'dlq', 'list', 'project:svc', '--workspace', ws.workspace, '--json']);
    assert.equal((JSON.parse(letters.stdout) as { via: string }).via, 'serve');

    // serve stopped: the CLI runs the plugin itself (a fresh instance) and says so
    await running.stop();
    const fallback = await yoi(ws, ['call', 'project:svc', 'handled', '--json']);
    assert.equal(fallback.code, 0, fallback.stderr);
    const fallbackJson = JSON.parse(fallback.stdout) as { via: string; output: { summary: string } };
    assert.equal(fallbackJson.via, 'in-process');
    assert.equal(fallbackJson.output.summary, '0');

    // a control file left by a serve that is gone is stale: fallback, and the reason on stderr
    writeFileSync(join(ws.workspace, '.yoi', 'serve.json'), JSON.stringify({ pid: 2 ** 30, host: '127.0.0.1', port: 9, token: 'x', started_at: new Date().toISOString() }), { mode: 0o600 });
    const stale = await captured(['plugin', 'call', 'project:svc', 'handled', '--workspace', ws.workspace]);
    assert.equal(stale.code, 0, stale.stderr);
    assert.match(stale.stderr, /in-process \(\.yoi\/serve\.json names process \d+, which is not running; no serve is running/);
  });

  it('a control file of another workspace is not used', async (t) => {
    const ws = await workspaceWithServices(t);
    const other = await workspaceWithServices(t);
    const running = await serve(other);
    t.after(() => running.stop());
    writeFileSync(join(ws.workspace, '.yoi', 'serve.json'), JSON.stringify({ pid: process.pid, host: '127.0.0.1', port: Number(new URL(running.url).port), token: running.token, started_at: 'x' }), { mode: 0o600 });
    const result = await captured(['plugin', 'status', '--workspace', ws.workspace, '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { via: string }).via, 'in-process');
  });

  it('MCP sessions are bounded: one more evicts the least recently used, counted and logged', async (t) => {
    const ws = await workspaceWithServices(t);
    const host = await ws.open();
    t.after(() => host.close());
    const lines: string[] = [];
    const endpoint = createMcpHttpEndpoint(host, ['secret'], (_level, msg) => void lines.push(msg), 1);
    const server = createServer((req, res) => void endpoint.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      await endpoint.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    const first = await mcpClient(t, url, 'secret');
    assert.equal((await first.listTools()).tools.length, 6);
    const second = await mcpClient(t, url, 'secret');
    assert.equal((await second.listTools()).tools.length, 6);
    assert.deepEqual(endpoint.status(), { sessions: 1, sessions_opened: 2, sessions_evicted: 1 });
    assert.deepEqual(lines, ['mcp session opened', 'mcp session evicted', 'mcp session opened']);
    await assert.rejects(first.listTools(), /Session not found|404/);
  });

  it('/metrics is scrapeable from this machine without a token, and refuses a foreign Host name', async (t) => {
    const ws = await workspaceWithServices(t);
    const running = await serve(ws);
    t.after(() => running.stop());
    const metrics = await fetch(`${running.url}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /^yoi_sandbox_background_rewrite_failures_total \d+$/m);
    assert.match(text, /yoi_plugin_lifecycle_state\{plugin="project:svc",state="Running"\} 1/);
    assert.match(text, /yoi_serve_mcp_sessions 0/);
    assert.equal(await getWithHost(`${running.url}/metrics`, `localhost:${new URL(running.url).port}`), 200);
    // DNS rebinding: a page served under another name that resolves to 127.0.0.1
    assert.equal(await getWithHost(`${running.url}/metrics`, 'attacker.example'), 401);
    // everything else still wants the control token
    assert.equal((await fetch(`${running.url}/v1/status`)).status, 401);
    assert.equal((await fetch(`${running.url}/metrics`, { method: 'POST' })).status, 401);
  });

  it('`yoi plugin logs --follow` reads the live guest log through serve: every line once, in order, ring drops counted', async (t) => {
    const ws = await workspaceWithServices(t);
    const running = await serve(ws);
    t.after(() => running.stop());
    // The sandbox's guest output sink appends here (how guest console output reaches it is the sandbox's part).
    const log = pluginRuntimeOf(running.host, 'project:svc')!.log;
    log.append('stdout', 'first\nsecond');

    const once = await captured(['plugin', 'logs', 'project:svc', '--workspace', ws.workspace, '--json']);
    assert.equal(once.code, 0, once.stderr);
    const page = JSON.parse(once.stdout) as { via: string; lines: { seq: number; text: string; stream: string }[]; next: number; missed: number };
    assert.equal(page.via, 'serve');
    assert.deepEqual(
      page.lines.map((l) => [l.seq, l.stream, l.text]),
      [
        [1, 'stdout', 'first'],
        [2, 'stdout', 'second'],
      ],
    );
    assert.equal(page.next, 2);
    // a follower of an earlier serve (another ring) starts again from the oldest line, and is told so
    const auth = { authorization: `Bearer ${running.token}` };
    const other = (await (await fetch(`${running.url}/v1/plugins/project:svc/logs?after=7&log=an-earlier-serve`, { headers: auth })).json()) as { restarted: boolean; lines: unknown[] };
    assert.equal(other.restarted, true);
    assert.equal(other.lines.length, 2);
    assert.equal((await fetch(`${running.url}/v1/plugins/project:nope/logs`, { headers: auth })).status, 404);

    let out = '';
    const follow = captured(['plugin', 'logs', 'project:svc', '--workspace', ws.workspace, '--follow', '--json'], (text) => (out += text));
    const seen = () => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq?: number; text?: string; missed?: number });
    await until(() => seen().length === 2, () => `the first page: ${out}`);
    log.append('stderr', 'third');
    await until(() => seen().length === 3, () => `the long poll wakes up: ${out}`);
    // more than the ring keeps (200 lines) before the follower reads again: the drop is counted
    log.append('stdout', Array.from({ length: 250 }, (_, i) => `bulk ${i}`).join('\n'));
    await until(() => seen().some((l) => l.text === 'bulk 249'), () => `the bulk: ${out.slice(-300)}`);
    const lines = seen();
    const missed = lines.find((l) => l.missed !== undefined)?.missed ?? 0;
    const seqs = lines.filter((l) => l.seq !== undefined).map((l) => l.seq!);
    assert.equal(missed, 50, 'lines 4..53 left the ring (200 lines) before they were read');
    assert.deepEqual(seqs, [1, 2, 3, ...Array.from({ length: 200 }, (_, i) => 54 + i)], 'no duplicate, no gap other than the counted one');
    await running.stop();
    const ended = await follow;
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stderr, /serve stopped/);

    // no serve: there is no live log, and the command says so
    const offline = await captured(['plugin', 'logs', 'project:svc', '--workspace', ws.workspace, '--json']);
    assert.equal(offline.code, 0, offline.stderr);
    assert.deepEqual((JSON.parse(offline.stdout) as { via: string; live: boolean; lines: unknown[] }).via, 'in-process');
  });
});

/** The CLI in-process, with stdout optionally streamed to `onStdout`. */
async function captured(argv: string[], onStdout?: (text: string) => void): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
      onStdout?.(text);
    },
    stderr: (text) => void (stderr += text),
    cwd: process.cwd(),
    env: { HOME: '/nonexistent-home', YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') },
    interactive: false,
    prompt: async () => '',
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}
