/**
 * Issue H item 2 and 4 through every surface: three `yoi plugin serve` hosts share a workspace
 * over JetStream. A scheduled service (instance world: its tool reads the live instance's tick
 * count) runs on one host; a tool-world plugin runs anywhere. A call of the service's tool on a
 * host that does not own it — control API, MCP over HTTP, `yoi plugin call` — answers with the
 * owner's live state (a fresh instance would have counted nothing). `yoi plugin status` on a
 * non-owner shows the owner, the lease age and the owner's counters; dead letters change from
 * any host. The owner is SIGKILLed: a call fails with `CLUSTER_NO_OWNER` while its lease is
 * still held, and succeeds again once a survivor took the service over.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { natsSkipReason, startNatsServer, type NatsServer } from '../journal/nats-server.js';
import { buildFixturePlugin, enableFixturePlugin } from '../fixtures/pdk-plugin.js';
import { buildJsComponent, JS_TOOL_MANIFEST, JS_TOOL_SOURCE } from '../fixtures/js.js';
import { pluginWorkspace } from '../fixtures/workspace.js';
import { serveEnv, YOI_BIN } from '../fixtures/serve-child.js';
import { hostWorkspaces, ownerOf, poll, spawnHosts, warmTranspileCache, type ServeHost } from './harness.js';

const skip = natsSkipReason();
const run = promisify(execFile);
/** Long enough that the calls right after the kill meet the dead owner's lease still held, even on a loaded machine. */
const LEASE = { ttlMs: 8000, renewMs: 1000 };

interface CallAnswer {
  readonly status: number;
  readonly body: { output?: { summary: string; content: string | null }; host?: string; logs?: { text: string }[]; error?: { code: string; message: string } };
}

async function callOn(host: ServeHost, body: unknown): Promise<CallAnswer> {
  const info = await host.child.ready();
  const response = await fetch(`http://${info.host}:${info.port}/v1/tools/call`, { method: 'POST', headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
  return { status: response.status, body: (await response.json()) as CallAnswer['body'] };
}

const ticksOf = (summary: string | undefined): number => Number(/^(\d+) ticks$/.exec(summary ?? '')?.[1] ?? NaN);

let nats: NatsServer;

describe('several serve hosts: instance-world calls routed to the owner, one view of the cluster (issue H)', { skip }, () => {
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats?.stop();
  });

  it('a service tool called on a non-owner answers with the owner’s live state; status and dlq work from any host; a killed owner fails calls clearly until taken over', { timeout: 240_000 }, async (t) => {
    const scheduledDir = await buildFixturePlugin('scheduled');
    await warmTranspileCache([scheduledDir]);
    const ws = pluginWorkspace(t, [{ manifest: JS_TOOL_MANIFEST, component: await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST) }]);
    const env = serveEnv(ws.root);
    const scheduled = await enableFixturePlugin(ws.workspace, scheduledDir, {}, env);
    const hosts = spawnHosts(t, hostWorkspaces(ws.root, ws.workspace, nats.url, 'route', 3, LEASE), env);
    await Promise.all(hosts.map((h) => h.child.ready()));
    if (process.env['YOI_CLUSTER_DEBUG']) t.after(() => hosts.forEach((h) => console.log(`--- ${h.id}\n${h.child.stderr.slice(-8000)}`)));

    const owner = await poll(() => ownerOf(hosts, scheduled), 'the scheduled service placed and running', 90_000);
    const [a, b] = hosts.filter((h) => h !== owner) as [ServeHost, ServeHost];
    // The owner's own instance counts ticks (its start timer and the schedule).
    const ownTicks = await poll(async () => {
      const answer = await callOn(owner, { plugin: scheduled, tool: 'ticks', input: {} });
      return answer.status === 200 && ticksOf(answer.body.output?.summary) >= 2 && ticksOf(answer.body.output?.summary);
    }, 'the owner to count two ticks');

    // Control API on a non-owner: the owner ran it (its live state, its log lines).
    const routed = await callOn(a, { plugin: scheduled, tool: 'ticks', input: {} });
    assert.equal(routed.status, 200, JSON.stringify(routed.body));
    assert.equal(routed.body.host, owner.id);
    assert.ok(ticksOf(routed.body.output?.summary) >= ownTicks, `routed call saw ${routed.body.output?.summary}, the owner had ${ownTicks} ticks`);
    assert.ok(routed.body.logs?.some((l) => l.text.includes('ticks asked')), 'the guest’s lines of the call come back with it');
    assert.match(owner.child.stderr, /routed tool call/);
    // A tool-world tool runs on the host asked.
    const echo = await callOn(a, { tool: 'echo', input: { text: 'here' } });
    assert.equal(echo.status, 200, JSON.stringify(echo.body));
    assert.deepEqual([echo.body.output?.summary, echo.body.host], ['echo: here', undefined]);

    // MCP over HTTP on the other non-owner.
    const info = await b.child.ready();
    const client = new Client({ name: 'routing-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(info.mcp_url!), { requestInit: { headers: { authorization: `Bearer ${info.mcp_token}` } } }));
    t.after(() => client.close());
    const viaMcp = (await client.callTool({ name: 'ticks', arguments: {} })) as { isError?: boolean; structuredContent?: { summary: string } };
    assert.equal(viaMcp.isError, undefined);
    assert.ok(ticksOf(viaMcp.structuredContent?.summary) >= ownTicks, `MCP saw ${viaMcp.structuredContent?.summary}`);

    // `yoi plugin call` through a non-owner's serve.
    const cliEnv = { PATH: process.env['PATH'] ?? '', ...env };
    const cli = await run(process.execPath, [YOI_BIN, 'plugin', 'call', scheduled, 'ticks', '--workspace', a.workspace, '--json'], { env: cliEnv, timeout: 90_000 });
    const cliJson = JSON.parse(cli.stdout) as { via: string; output: { summary: string } };
    assert.equal(cliJson.via, 'serve');
    assert.ok(ticksOf(cliJson.output.summary) >= ownTicks, `yoi plugin call saw ${cliJson.output.summary}`);

    // One view: a non-owner's status names the owner and carries the owner's counters.
    const view = await poll(async () => {
      const { plugins } = await a.child.api<{ plugins: { plugin: string; counters: { dispatched: number } | null; cluster?: { owner: string; here: boolean; lease_age_ms: number; figures_from: string | null; stale: boolean | null } }[] }>('GET', '/v1/status');
      const entry = plugins.find((p) => p.plugin === scheduled);
      return entry?.cluster?.figures_from === owner.id && (entry.counters?.dispatched ?? 0) >= 2 && entry;
    }, 'the non-owner’s status to show the owner’s figures');
    assert.deepEqual([view.cluster!.owner, view.cluster!.here, view.cluster!.stale], [owner.id, false, false]);
    assert.ok(view.cluster!.lease_age_ms >= 0);
    const human = await run(process.execPath, [YOI_BIN, 'plugin', 'status', scheduled, '--workspace', b.workspace], { env: cliEnv, timeout: 90_000 });
    assert.match(human.stdout, new RegExp(`cluster: owner ${owner.id}, lease age [0-9.]+ s; figures from ${owner.id}`));
    // Dead letters change from any host: forwarded to the owner.
    const dropped = await a.child.api<{ dropped: number; host?: string }>('POST', `/v1/dlq/${encodeURIComponent(scheduled)}/drop`, {});
    assert.deepEqual(dropped, { plugin: scheduled, dropped: 0, host: owner.id });
    const cliDlq = await run(process.execPath, [YOI_BIN, 'plugin', 'dlq', 'replay', scheduled, '--all', '--workspace', b.workspace, '--json'], { env: cliEnv, timeout: 90_000 });
    assert.deepEqual(JSON.parse(cliDlq.stdout) as unknown, { command: 'dlq replay', status: 'ok', via: 'serve', source: 'serve', plugin: scheduled, replayed: 0, refused: null, host: owner.id });

    // The owner dies; its lease is still held: calls fail with a clear code, and never run on a non-owner.
    owner.child.kill('SIGKILL');
    owner.killedAt = Date.now();
    // (A call that reaches the owner as it dies waits for its deadline: CLUSTER_OWNER_TIMEOUT. Asked after it is gone, its subscription is gone too.)
    await owner.child.exited;
    const orphaned = await callOn(a, { plugin: scheduled, tool: 'ticks', input: {} });
    assert.equal(orphaned.status, 503, JSON.stringify(orphaned.body));
    assert.equal(orphaned.body.error?.code, 'CLUSTER_NO_OWNER');
    // Its published figures turn stale (three rounds without an update) while its lease is still held.
    await poll(async () => {
      const { plugins } = await a.child.api<{ plugins: { plugin: string; cluster?: { owner: string | null; stale: boolean | null } }[] }>('GET', '/v1/status');
      const c = plugins.find((p) => p.plugin === scheduled)?.cluster;
      return c?.owner === owner.id && c.stale === true;
    }, 'the dead owner’s figures to be marked stale', 30_000);
    // Tool-world calls go on.
    assert.equal((await callOn(b, { tool: 'echo', input: { text: 'still' } })).status, 200);
    // A survivor takes the service over; the same call on a succeeds again.
    const successor = await poll(() => ownerOf([a, b], scheduled), 'a survivor to take the service over', 90_000);
    const again = await poll(async () => {
      const answer = await callOn(a, { plugin: scheduled, tool: 'ticks', input: {} });
      return answer.status === 200 && answer;
    }, 'the call on a to succeed again');
    assert.equal(again.body.host, successor === a ? undefined : successor.id);
    const routing = (await a.child.api<{ cluster: { routing: { forward_failures: Record<string, number> } } }>('GET', '/v1/status')).cluster.routing;
    assert.ok((routing.forward_failures['CLUSTER_NO_OWNER'] ?? 0) >= 1);
    const metrics = await a.metrics();
    const failures = metrics.split('\n').find((line) => line.startsWith('yoi_cluster_route_failures_total{') && line.includes('code="CLUSTER_NO_OWNER"') && line.includes(`host="${a.id}"`));
    assert.match(failures ?? '', / [1-9][0-9]*$/);

    const exits = await Promise.all([a, b].map((h) => h.child.stop()));
    for (const exit of exits) assert.equal(exit.code, 0);
  });
});
