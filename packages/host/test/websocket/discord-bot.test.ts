import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { DiscordEmulator } from '../../src/devtools/discord-emulator.js';
import { PluginHost } from '../../src/host.js';
import { Secrets } from '../../src/secrets/secrets.js';
import { writeBotWorkspace } from '../../src/devtools/bot-workspace.js';
import { TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { tempDir } from '../helpers.js';

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

async function until<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function botHost(t: TestContext, emulator: DiscordEmulator, policy: object = {}) {
  const root = tempDir(t);
  const workspace = join(root, 'ws');
  await writeBotWorkspace(workspace, BUILTIN, emulator, { ping_interval_ms: 200, pong_timeout_ms: 300, reconnect_base_ms: 50, reconnect_max_ms: 400, max_reconnects: 100, ...policy });
  const host = await PluginHost.fromWorkspace(
    { workspace, builtinDir: BUILTIN, env: { HOME: root } },
    { cacheDir: TEST_TRANSPILE_CACHE, secrets: new Secrets(new Map([['discord_token', TOKEN]])), servicePolicy: { retryBaseMs: 10, retryMaxMs: 50 } },
  );
  t.after(() => host.close());
  assert.deepEqual(host.diagnostics, []);
  assert.deepEqual(await host.startServices(), []);
  const botStatus = async () => JSON.parse((await host.callTool('bot_status', {})).content!) as { handled: number; handled_ids: string[]; identifies: number; resumes: number; duplicates: number; replies_ok: number; zombies: number; session_id: string | null };
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
    const status = await botStatus();
    assert.equal(status.identifies, 1);
    assert.equal(status.resumes, 1);
    const everything = JSON.stringify({ status: host.status(), seen: status });
    assert.ok(!everything.includes(TOKEN) && !everything.includes('s3cr3t'), 'the token appears nowhere in status');
  });

  it('survives chaos: every message handled exactly once, within the identify budget', { timeout: 120_000 }, async (t) => {
    const emulator = await DiscordEmulator.start({ token: TOKEN, heartbeatIntervalMs: 250 });
    t.after(() => emulator.stop());
    const { host, botStatus } = await botHost(t, emulator);
    await until(async () => (await botStatus()).session_id, 'READY');
    const random = rng(Number(process.env['CHAOS_SEED'] ?? 20261122));
    const faults = ['drop', 'zombie', 'silence', 'binary', 'oversized', 'close4000', 'reconnect', 'invalidResumable', 'invalidFresh', 'close4009', 'refuse'] as const;
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
        }
      }
      await new Promise((r) => setTimeout(r, 5 + Math.floor(random() * 25)));
    }
    await until(() => emulator.unanswered === 0, `every message answered (${emulator.unanswered} left)`, 90_000);
    const status = await botStatus();
    const replies = new Map<string, number>();
    for (const post of emulator.posted) replies.set(post.reference!, (replies.get(post.reference!) ?? 0) + 1);
    // one identify, plus one per fault that ends a session (and per resume the emulator refused because of one)
    const budget = 1 + (injected['invalidFresh'] ?? 0) + (injected['close4009'] ?? 0) + emulator.stats.resumesRejected;
    console.log(
      `chaos: ${N} messages, faults ${JSON.stringify(injected)}; bot handled ${status.handled}, duplicates recognised ${status.duplicates}, ` +
        `identifies ${status.identifies} (budget ${budget}), resumes ${status.resumes}, zombies ${status.zombies}; emulator connections ${emulator.stats.connections}, refused ${emulator.stats.refused}; ` +
        `replies ${emulator.posted.length}; connection ${JSON.stringify(host.status(BOT)[0]!.websocket_connections[0])}`,
    );
    assert.deepEqual([...status.handled_ids].sort(), [...ids].sort(), 'every message id handled');
    assert.equal(status.handled, N);
    for (const id of ids) assert.equal(replies.get(id), 1, `message ${id} answered exactly once`);
    assert.ok(emulator.stats.identifies <= budget, `identifies ${emulator.stats.identifies} > budget ${budget}`);
    assert.equal(host.status(BOT)[0]!.lifecycle, 'Running');
  });
});

describe('yoi plugin demo', () => {
  it('runs the builtin bot against the emulator, resumes after a drop and stops by itself', async () => {
    const { cli } = await import('../helpers.js');
    const run = await cli(['plugin', 'demo', '--messages', '2', '--json'], { env: { HOME: '/nonexistent', YOI_BUILTIN_DIR: BUILTIN, YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') } });
    assert.equal(run.code, 0, run.stderr);
    const report = run.json<{ replies: number; identifies: number; resumes: number; lifecycle: string }>();
    assert.deepEqual({ replies: report.replies, identifies: report.identifies, resumes: report.resumes, lifecycle: report.lifecycle }, { replies: 2, identifies: 1, resumes: 1, lifecycle: 'Running' });
  });
});
