#!/usr/bin/env node
// Failover time of several `serve` hosts on JetStream (issue H): two hosts share a workspace
// whose ticker service makes one REST request per 100 ms timer tick. The ticker's owner is
// SIGKILLed as a tick request arrives; the time until the first tick request of the new owner
// is the failover time (lease TTL + a renew interval + claim + service start). The killed host
// is started again before the next round. A nats-server is started on loopback and stopped by
// PID; skipped with a note when nats-server is not installed. Bounded: FAILOVER_ROUNDS rounds.
import { join } from 'node:path';
import { cpus } from 'node:os';
import { findNatsServer, startNatsServer } from '../packages/host/dist/test/journal/nats-server.js';
import { buildFixturePlugin, enableFixturePlugin } from '../packages/host/dist/test/fixtures/pdk-plugin.js';
import { RestRecorder } from '../packages/host/dist/test/fixtures/rest-recorder.js';
import { ServeChild, serveEnv } from '../packages/host/dist/test/fixtures/serve-child.js';
import { tempDir } from '../packages/host/dist/test/helpers.js';
import { loopback } from '../packages/host/dist/test/websocket/loopback.js';
import { hostWorkspaces, ownerOf, poll, ServeHost, warmTranspileCache, LEASE_TTL_MS, RENEW_MS } from '../packages/host/dist/test/cluster/harness.js';

const ROUNDS = Number(process.env.FAILOVER_ROUNDS ?? 6);
const json = process.argv.includes('--json');

if (findNatsServer() === null) {
  console.log(json ? JSON.stringify({ bench: 'failover', skipped: 'nats-server is not installed' }) : 'failover: skipped (nats-server is not installed)');
  process.exit(0);
}

const cleanups = [];
const t = { after: (fn) => cleanups.push(fn) };
const nats = await startNatsServer();
try {
  const ticker = await buildFixturePlugin('ticker');
  await warmTranspileCache([ticker]);
  const root = tempDir(t, 'yoi-bench-failover-');
  const env = serveEnv(root);
  let onRequest = () => undefined;
  const rest = await RestRecorder.start(t, { onRequest: (r) => onRequest(r) });
  const idle = await loopback(t);
  const template = join(root, 'template');
  const plugin = await enableFixturePlugin(template, ticker, { url: `ws://127.0.0.1:${idle.port}/idle`, rest_base: rest.url, interval_ms: 100 }, env);
  const places = hostWorkspaces(root, template, nats.url, 'bench', 2);
  const hosts = places.map(({ id, workspace }) => new ServeHost(id, workspace, ServeChild.spawn(t, workspace, env)));
  await Promise.all(hosts.map((h) => h.child.ready()));
  const samples = [];
  for (let round = 0; round < ROUNDS; round++) {
    await poll(async () => hosts.every((h) => h.alive) && (await ownerOf(hosts, plugin)) && rest.requests.length > 0, 'the ticker running', 60_000, 100);
    const victim = await ownerOf(hosts, plugin);
    const killed = await new Promise((resolve) => {
      onRequest = (r) => {
        onRequest = () => undefined;
        victim.child.kill('SIGKILL');
        resolve({ index: r.index, at: Date.now() });
      };
    });
    victim.killedAt = killed.at;
    await victim.child.exited;
    const first = await poll(async () => rest.requests.find((r) => r.index > killed.index), 'a tick from the new owner', 60_000, 10);
    samples.push(first.at - killed.at);
    process.stderr.write(`round ${round + 1}: ${first.at - killed.at} ms\n`);
    // The killed host comes back (a fresh process on its workspace).
    const index = hosts.indexOf(victim);
    hosts[index] = new ServeHost(victim.id, victim.workspace, ServeChild.spawn(t, victim.workspace, env));
    await hosts[index].child.ready();
  }
  await Promise.all(hosts.map((h) => h.child.stop()));
  const sorted = [...samples].sort((a, b) => a - b);
  const pick = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const result = { bench: 'failover', node: process.version, cpus: cpus().length, lease_ttl_ms: LEASE_TTL_MS, renew_ms: RENEW_MS, rounds: samples.length, p50_ms: pick(0.5), p99_ms: pick(0.99), samples_ms: samples };
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(`\nfailover — kill of the owner → first event handled by the new owner; 2 serve hosts, one nats-server, lease TTL ${LEASE_TTL_MS} ms, renew ${RENEW_MS} ms, ${samples.length} rounds\n`);
    console.log(`p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms (samples: ${samples.join(', ')})`);
  }
} finally {
  for (const fn of cleanups.reverse()) await fn();
  await nats.stop();
}
