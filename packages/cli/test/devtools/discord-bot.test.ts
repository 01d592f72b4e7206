import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { DiscordEmulator, INTENTS } from '../../src/devtools/discord-emulator.js';
import { PluginHost, pluginRuntimeOf } from '@yoi-plugins/host/internal/host.js';
import { Secrets } from '@yoi-plugins/host/internal/secrets/secrets.js';
import { writeBotWorkspace } from '../../src/devtools/bot-workspace.js';
import { TEST_TRANSPILE_CACHE } from '@yoi-plugins/host/test/fixtures/workspace.js';
import type { JsonValue } from '@yoi-plugins/host/internal/manifest/types.js';
import { tempDir, until } from '@yoi-plugins/host/test/helpers.js';

const BUILTIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'builtin');
const BOT = 'builtin:example.discord-bot';
const TOKEN = 'MTIz.bot-token.s3cr3t';

/** A seeded generator, so a failing chaos run can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}


async function botHost(t: TestContext, emulator: DiscordEmulator, policy: object = {}, config: Record<string, JsonValue> = {}, execution?: 'worker') {
  const root = tempDir(t);
  const workspace = join(root, 'ws');
  await writeBotWorkspace(workspace, BUILTIN, emulator, { ping_interval_ms: 200, pong_timeout_ms: 300, reconnect_base_ms: 50, reconnect_max_ms: 400, max_reconnects: 100, ...policy }, config);
  const host = await PluginHost.fromWorkspace(
    { workspace, builtinDir: BUILTIN, env: { HOME: root } },
    { cacheDir: TEST_TRANSPILE_CACHE, secrets: new Secrets(new Map([['discord_token', TOKEN]])), servicePolicy: { retryBaseMs: 10, retryMaxMs: 50 }, ...(execution ? { execution } : {}) },
  );
  t.after(() => host.close());
  assert.deepEqual(host.diagnostics, []);
  assert.deepEqual(await host.startServices(), []);
  const botStatus = async () =>
    JSON.parse((await host.callTool('bot_status', {})).content!) as {
      handled: number;
      handled_ids: string[];
      pending: number;
      identifies: number;
      resumes: number;
      duplicates: number;
      replies_ok: number;
      replies_failed: number;
      replies_retried: number;
      rate_limited: number;
      zombies: number;
      session_id: string | null;
    };
  return { host, botStatus };
}

describe('the Discord-style gateway bot against the emulator', () => {
  it('identifies with a secret it never sees, answers messages over REST, and resumes after a drop', async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, heartbeatIntervalMs: 300 });
    t.after(() => emulator.stop());
    const { host, botStatus } = await botHost(t, emulator);
    await until(async () => (await botStatus()).session_id, 'READY');
    const id = emulator.createMessage('hello bot');
    await until(() => emulator.posted.length === 1, 'a reply');
    assert.deepEqual(emulator.posted[0], { channel_id: 'general', content: 'echo: hello bot', reference: id, authorization: 'Bot <token>' });
    emulator.drop();
    await until(() => emulator.stats.resumes === 1, 'a resume');
    emulator.createMessage('after resume');
    await until(() => emulator.posted.length === 2, 'a second reply');
    await until(async () => (await botStatus()).handled === 2, 'the second reply acknowledged');
    const status = await botStatus();
    assert.equal(status.identifies, 1);
    assert.equal(status.resumes, 1);
    assert.deepEqual(emulator.violations, [], 'resumed on the resume URL, identified once, with the intents it needs');
    const everything = JSON.stringify({ status: host.status(), seen: status });
    assert.ok(!everything.includes(TOKEN) && !everything.includes('s3cr3t'), 'the token appears nowhere in status');
  });

  it('survives chaos: every message handled exactly once, within the identify budget', { timeout: 120_000 }, async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, heartbeatIntervalMs: 250, identifyWindowMs: 500 });
    t.after(() => emulator.stop());
    const { host, botStatus } = await botHost(t, emulator);
    // The sessions the bot learned: the READY frames it handled (the emulator counts every IDENTIFY it answered).
    const learned = new Set<string>();
    const runtime = pluginRuntimeOf(host, BOT)!;
    const callIngress = runtime.callIngress.bind(runtime);
    runtime.callIngress = async (name, eventJson) => {
      const event = JSON.parse(eventJson) as { kind: string; payload: { text?: string } };
      if (event.kind === 'websocket_text') {
        const frame = JSON.parse(event.payload.text!) as { t?: string; d?: { session_id?: string } };
        if (frame.t === 'READY' && frame.d?.session_id) learned.add(frame.d.session_id);
      }
      return callIngress(name, eventJson);
    };
    learned.add(await until(async () => (await botStatus()).session_id, 'READY'));
    const random = rng(Number(process.env['CHAOS_SEED'] ?? 20261122));
    const faults = ['drop', 'zombie', 'silence', 'binary', 'oversized', 'close4000', 'reconnect', 'invalidResumable', 'invalidFresh', 'close4009', 'refuse', 'rest503', 'rest429', 'restLost'] as const;
    const injected: Record<string, number> = {};
    const N = 120;
    const ids: string[] = [];
    for (let n = 1; n <= N; n++) {
      ids.push(emulator.createMessage(`msg ${n}`));
      if (n % 8 === 0) {
        const fault = faults[Math.floor(random() * faults.length)]!;
        injected[fault] = (injected[fault] ?? 0) + 1;
        switch (fault) {
          case 'drop': emulator.drop(); break;
          case 'zombie': emulator.zombie(); break;
          case 'silence': emulator.silence(); break;
          case 'binary': emulator.sendBinary(); break;
          case 'oversized': emulator.sendOversized(); break;
          case 'close4000': emulator.closeWith(4000, 'Unknown error'); break;
          case 'reconnect': emulator.requestReconnect(); break;
          case 'invalidResumable': emulator.invalidateSession(true); break;
          case 'invalidFresh': emulator.invalidateSession(false); break;
          case 'close4009': emulator.closeWith(4009, 'Session timed out'); break;
          case 'refuse': emulator.refuseFor(300); emulator.drop(); break;
          case 'rest503': emulator.failNextPosts(2, 503); break;
          case 'rest429': emulator.rateLimitNextPost(200); break;
          case 'restLost': emulator.dropNextResponse(); break;
        }
      }
      await new Promise((r) => setTimeout(r, 5 + Math.floor(random() * 25)));
    }
    await until(() => emulator.unanswered === 0, `every message answered (${emulator.unanswered} left)`, 90_000);
    // A reply counts as handled once its 2xx reached the bot, a moment after the emulator saw the post.
    await until(async () => (await botStatus()).handled === N, 'every reply acknowledged to the bot');
    const status = await botStatus();
    const replies = new Map<string, number>();
    for (const post of emulator.posted) replies.set(post.reference!, (replies.get(post.reference!) ?? 0) + 1);
    // One session, plus one per fault that ends a session (and per resume the emulator refused because of one). Counted
    // are the sessions the bot learned: an IDENTIFY whose READY never reached it (a fault between the two cut it off,
    // e.g. an oversized frame ahead of the READY, after which the host closes with 1009 and reads no further) leaves it
    // no session to resume, so it identifies again, as it must on Discord too.
    const budget = 1 + (injected['invalidFresh'] ?? 0) + (injected['close4009'] ?? 0) + emulator.stats.resumesRejected;
    console.log(
      `chaos: ${N} messages, faults ${JSON.stringify(injected)}; bot handled ${status.handled}, duplicates recognised ${status.duplicates}, ` +
        `sessions learned ${learned.size} (budget ${budget}), identifies answered ${emulator.stats.identifies} (READY lost ${emulator.stats.identifies - learned.size}), sent ${status.identifies}, ` +
        `resumes ${status.resumes}, zombies ${status.zombies}; emulator connections ${emulator.stats.connections}, refused ${emulator.stats.refused}; ` +
        `replies ${emulator.posted.length}; connection ${JSON.stringify(host.status(BOT)[0]!.websocket_connections[0])}`,
    );
    assert.deepEqual([...status.handled_ids].sort(), [...ids].sort(), 'every message id handled');
    assert.equal(status.handled, N);
    for (const id of ids) assert.equal(replies.get(id), 1, `message ${id} answered exactly once`);
    assert.ok(learned.size <= budget, `sessions learned ${learned.size} > budget ${budget} (identifies answered ${emulator.stats.identifies})`);
    assert.deepEqual(emulator.violations, [], 'nothing Discord would refuse: resume URL, identify window, intents, retry_after');
    assert.equal(host.status(BOT)[0]!.lifecycle, 'Running');
  });

  it('identifies on a fresh connection after an Invalid Session (d=false) ends the session of a live one', async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, heartbeatIntervalMs: 300, identifyWindowMs: 200 });
    t.after(() => emulator.stop());
    const { botStatus } = await botHost(t, emulator);
    const first = await until(async () => (await botStatus()).session_id, 'READY');
    const connections = emulator.stats.connections;
    emulator.invalidateSession(false);
    const second = await until(async () => {
      const id = (await botStatus()).session_id;
      return id !== null && id !== first ? id : null;
    }, 'a new session');
    assert.notEqual(second, first);
    assert.equal(emulator.stats.identifies, 2);
    assert.ok(emulator.stats.connections > connections, 'the second IDENTIFY went on a new connection');
    const id = emulator.createMessage('on the new session');
    await until(async () => (await botStatus()).handled_ids.includes(id), 'a message answered on the new session');
    assert.deepEqual(emulator.violations, [], 'no second IDENTIFY on the socket that carried the invalidated session (4005)');
  });

  it('never authenticates twice on one socket: a Hello handled after its socket was replaced sends nothing on the successor', async (t) => {
    // Heartbeats far apart: the only frames are the ones this interleaving makes.
    const emulator = await DiscordEmulator.start({ token: TOKEN, heartbeatIntervalMs: 60_000 });
    t.after(() => emulator.stop());
    // In a worker every ingress call goes through `callIngress`, where the gate below can hold one
    // (an in-thread batch answers synchronously, with no point to wait at).
    const { host, botStatus } = await botHost(t, emulator, {}, {}, 'worker');
    await until(async () => (await botStatus()).session_id, 'READY');
    emulator.drop();
    await until(() => emulator.stats.resumes === 1, 'a resume on the resume URL');

    // The gate: the bot's handling of the next Hello waits until the test opens it.
    const runtime = pluginRuntimeOf(host, BOT)!;
    const callIngress = runtime.callIngress.bind(runtime);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let held = false;
    runtime.callIngress = async (name, eventJson) => {
      const event = JSON.parse(eventJson) as { kind: string; payload: { text?: string } };
      if (!held && event.kind === 'websocket_text' && (JSON.parse(event.payload.text!) as { op: number }).op === 10) {
        held = true;
        await gate;
      }
      return callIngress(name, eventJson);
    };
    const connection = () => host.status(BOT)[0]!.websocket_connections[0] as Record<string, unknown>;
    const connections = emulator.stats.connections;
    const staleBefore = connection()['stale_sends'] as number;
    emulator.drop(); // socket A: the host dials B, whose Hello the bot is about to handle
    await until(() => held, 'the Hello of socket B in the bot');
    emulator.drop(); // B goes before the bot answered its Hello: the host dials C
    await until(() => emulator.stats.connections === connections + 2 && connection()['state'] === 'Connected', 'socket C open');
    open(); // the bot answers B's Hello (a RESUME) while C is the host's socket

    await until(() => emulator.stats.resumes === 2, 'the session resumed on C');
    const id = emulator.createMessage('after the race');
    await until(async () => (await botStatus()).handled_ids.includes(id), 'the message answered on C');
    assert.deepEqual(emulator.violations, [], 'one RESUME on C: the one for B was not sent there');
    assert.equal(connection()['stale_sends'], staleBefore + 1, 'the RESUME for B was refused and counted');
    assert.equal(emulator.stats.identifies, 1);
  });

  it('reads message content only with the MESSAGE_CONTENT intent, as on Discord', async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, heartbeatIntervalMs: 300 });
    t.after(() => emulator.stop());
    const { botStatus } = await botHost(t, emulator, {}, { intents: INTENTS.GUILDS | INTENTS.GUILD_MESSAGES });
    await until(async () => (await botStatus()).session_id, 'READY');
    emulator.createMessage('can you read me?');
    await until(() => emulator.posted.length === 1, 'a reply');
    assert.equal(emulator.posted[0]!.content, 'echo: ', 'Discord sends no content without MESSAGE_CONTENT');
    await until(async () => (await botStatus()).handled === 1, 'the reply acknowledged');
    assert.deepEqual(emulator.violations, []);
  });

  it('fails closed on intents the application is not approved for (close 4014 is fatal)', async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, heartbeatIntervalMs: 300 });
    t.after(() => emulator.stop());
    const { host } = await botHost(t, emulator, {}, { intents: INTENTS.GUILDS | INTENTS.GUILD_MEMBERS });
    await until(() => host.status(BOT)[0]!.websocket_connections[0]?.['state'] === 'Failed', 'a failed connection');
    assert.equal(host.status(BOT)[0]!.websocket_connections[0]!['last_close_code'], 4014);
    assert.deepEqual(emulator.violations.map((v) => v.rule), ['disallowed_intents']);
  });

  it('marks a message handled only after a 2xx: retries 5xx with backoff, waits out a 429, never posts twice', async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, heartbeatIntervalMs: 300 });
    t.after(() => emulator.stop());
    const { botStatus } = await botHost(t, emulator, {}, { reply_backoff_ms: 100, reply_backoff_max_ms: 200, reply_max_attempts: 3 });
    await until(async () => (await botStatus()).session_id, 'READY');

    emulator.failNextPosts(2, 503);
    const first = emulator.createMessage('after two 503s');
    await until(async () => (await botStatus()).handled === 1, 'the reply after retries');
    let status = await botStatus();
    assert.equal(status.replies_retried, 2);
    assert.deepEqual(status.handled_ids, [first]);

    emulator.rateLimitNextPost(300);
    const second = emulator.createMessage('after a 429');
    const third = emulator.createMessage('queued behind the rate limit');
    await until(async () => (await botStatus()).handled === 3, 'both replies after the rate limit');
    status = await botStatus();
    assert.equal(status.rate_limited, 1);

    emulator.dropNextResponse();
    const fourth = emulator.createMessage('response lost');
    await until(async () => (await botStatus()).handled === 4, 'the lost reply retried');
    assert.equal(emulator.stats.nonceReplays, 1, 'the retry carried the same nonce');

    emulator.failNextPosts(3, 502);
    const fifth = emulator.createMessage('gives up');
    await until(async () => (await botStatus()).replies_failed === 1, 'the reply given up after its attempts');
    status = await botStatus();
    assert.ok(!status.handled_ids.includes(fifth), 'a reply that never succeeded is not handled');
    assert.equal(status.pending, 0);
    for (const id of [first, second, third, fourth]) assert.equal(emulator.posted.filter((p) => p.reference === id).length, 1, `${id} posted once`);
    assert.deepEqual(emulator.violations, [], 'no request before retry_after elapsed');
  });
});

describe('the Gateway emulator refuses what Discord refuses', () => {
  interface Client {
    readonly frames: { op: number; d: unknown; t?: string }[];
    closed: { code: number } | null;
    send(frame: unknown): void;
    next(op: number, t?: string): Promise<{ op: number; d: unknown }>;
    close(): void;
  }

  async function client(t: TestContext, url: string, hello = true): Promise<Client> {
    const { WebSocket } = await import('ws');
    const socket = new WebSocket(url);
    const c: Client = {
      frames: [],
      closed: null,
      send: (frame) => socket.send(JSON.stringify(frame)),
      next: (op, type) => until(() => c.frames.find((f) => f.op === op && (type === undefined || f.t === type)) as { op: number; d: unknown } | undefined, `op ${op} ${type ?? ''}`, 5_000),
      close: () => socket.terminate(),
    };
    socket.on('message', (data) => c.frames.push(JSON.parse(data.toString()) as Client['frames'][number]));
    socket.on('close', (code) => (c.closed = { code }));
    t.after(() => socket.terminate());
    if (hello) await c.next(10);
    return c;
  }

  const identify = (intents = INTENTS.GUILDS | INTENTS.GUILD_MESSAGES) => ({ op: 2, d: { token: TOKEN, intents, properties: { os: 'x', browser: 'x', device: 'x' } } });

  it('records a resume on the original URL, a second identify, identifies inside the window and a missing version', async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, identifyWindowMs: 60_000 });
    t.after(() => emulator.stop());
    const a = await client(t, emulator.url);
    a.send(identify());
    const ready = (await a.next(0, 'READY')) as { d: { resume_gateway_url: string; session_id: string } };
    assert.equal(ready.d.resume_gateway_url, emulator.resumeUrl);
    a.send(identify());
    await until(() => a.closed, 'close');
    assert.equal(a.closed!.code, 4005);

    const b = await client(t, emulator.url);
    b.send({ op: 6, d: { token: TOKEN, session_id: ready.d.session_id, seq: 1 } });
    assert.equal((await b.next(9)).d, false, 'resume on the original URL is refused');

    const c = await client(t, `${emulator.resumeUrl}?v=10&encoding=json`);
    c.send(identify());
    assert.equal((await c.next(9)).d, false, 'a second session start inside the identify window');

    const d = await client(t, emulator.resumeUrl, false);
    await until(() => d.closed, 'close');
    assert.equal(d.closed!.code, 4012);
    assert.deepEqual(emulator.violations.map((v) => v.rule), ['already_authenticated', 'resume_on_gateway_url', 'identify_rate_limited', 'api_version']);
  });

  it('resumes on the resume URL and refuses invalid and unapproved intents', async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, identifyWindowMs: 0 });
    t.after(() => emulator.stop());
    const a = await client(t, emulator.url);
    a.send(identify());
    const ready = (await a.next(0, 'READY')) as { d: { resume_gateway_url: string; session_id: string } };
    a.close();
    const b = await client(t, `${emulator.resumeUrl}?v=10&encoding=json`);
    b.send({ op: 6, d: { token: TOKEN, session_id: ready.d.session_id, seq: 1 } });
    await b.next(0, 'RESUMED');
    assert.equal(emulator.violations.length, 0);
    for (const [intents, code, rule] of [[-1, 4013, 'invalid_intents'], [1 << 30, 4013, 'invalid_intents'], [INTENTS.GUILD_PRESENCES, 4014, 'disallowed_intents']] as const) {
      const c = await client(t, emulator.url);
      c.send(identify(intents));
      await until(() => c.closed, 'close');
      assert.equal(c.closed!.code, code);
      assert.equal(emulator.violations.at(-1)!.rule, rule);
    }
  });

  it('records a REST request sent before retry_after elapsed', async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN });
    t.after(() => emulator.stop());
    emulator.rateLimitNextPost(60_000);
    const post = () =>
      fetch(`${emulator.restBase}/channels/general/messages`, { method: 'POST', headers: { authorization: `Bot ${TOKEN}`, 'content-type': 'application/json' }, body: '{"content":"x"}' });
    const limited = await post();
    assert.equal(limited.status, 429);
    assert.ok(((await limited.json()) as { retry_after: number }).retry_after > 0);
    assert.equal((await post()).status, 429);
    assert.deepEqual(emulator.violations.map((v) => v.rule), ['rest_rate_limit_ignored']);
    assert.equal(emulator.posted.length, 0);
  });
});

describe('yoi plugin demo', () => {
  it('runs the builtin bot against the emulator, resumes after a drop and stops by itself', async () => {
    const { cli } = await import('@yoi-plugins/host/test/helpers.js');
    const run = await cli(['plugin', 'demo', '--messages', '2', '--json'], { env: { HOME: '/nonexistent', YOI_BUILTIN_DIR: BUILTIN, YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') } });
    assert.equal(run.code, 0, run.stderr);
    const report = run.json<{ replies: number; identifies: number; resumes: number; lifecycle: string; violations: unknown[] }>();
    assert.deepEqual(
      { replies: report.replies, identifies: report.identifies, resumes: report.resumes, lifecycle: report.lifecycle, violations: report.violations },
      { replies: 2, identifies: 1, resumes: 1, lifecycle: 'Running', violations: [] },
    );
  });
});
