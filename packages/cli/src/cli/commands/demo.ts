import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscordEmulator } from '../../devtools/discord-emulator.js';
import { DISCORD_BOT_REF as BOT, writeBotWorkspace } from '../../devtools/bot-workspace.js';
import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import { Secrets } from '@yoi-plugins/host/internal/secrets/secrets.js';
import { CommandFailure, printJson, UsageError, type CliIo } from '../io.js';
import { shippedBuiltinDir } from '../builtin-store.js';
import { escapeTerminal } from '../terminal.js';


async function until<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new CommandFailure(`demo: timed out waiting for ${what}`, 'demo_failed');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * `yoi plugin demo`: the builtin Discord-style bot against a local Gateway emulator, all on
 * loopback, for a few seconds. Shows identify, replies through host requests, a dropped
 * connection and the resume, then the status; then stops everything.
 */
export async function runDemo(io: CliIo, options: { messages?: string; json?: boolean }): Promise<void> {
  const count = options.messages === undefined ? 5 : Number(options.messages);
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new UsageError('--messages must be between 1 and 100');
  // Lines carry text from the emulator and the bot (remote and guest): escaped.
  const say = (line: string) => !options.json && io.stdout(escapeTerminal(line, { limit: Infinity }) + '\n');
  const builtin = io.env['YOI_BUILTIN_DIR'] || shippedBuiltinDir();

  const token = `demo.${randomBytes(12).toString('hex')}`;
  const emulator = await DiscordEmulator.start({ token, heartbeatIntervalMs: 500 });
  const root = mkdtempSync(join(tmpdir(), 'yoi-demo-'));
  let host: PluginHost | null = null;
  try {
    try {
      await writeBotWorkspace(root, builtin, emulator);
    } catch (error) {
      throw new CommandFailure(error instanceof Error ? error.message : String(error), 'demo_failed');
    }
    say(`gateway emulator on ${emulator.url} (REST ${emulator.restBase}); bot token held by the host only`);
    host = await PluginHost.fromWorkspace({ workspace: root, builtinDir: builtin, env: { HOME: root } }, { cacheDir: defaultCacheDir(io.env), secrets: new Secrets(new Map([['discord_token', token]])) });
    const failures = await host.startServices();
    if (failures.length > 0) throw new CommandFailure(`demo: the bot did not start: ${failures[0]!.error}`, 'demo_failed');
    const status = async () => JSON.parse((await host!.callTool('bot_status', {})).content!) as { session_id: string | null; identifies: number; resumes: number; handled: number };
    await until(async () => (await status()).session_id, 'the bot to identify', 15_000);
    say(`bot identified: session ${(await status()).session_id}`);
    for (let n = 1; n <= count; n++) {
      if (n === Math.ceil(count / 2) + 1) {
        emulator.drop();
        say('-- the emulator drops the TCP connection --');
        await until(() => emulator.stats.resumes > 0, 'the bot to resume', 15_000);
        say('bot reconnected to the resume_gateway_url from READY and resumed its session (no re-identify)');
      }
      const id = emulator.createMessage(`hello #${n}`);
      await until(() => emulator.posted.some((p) => p.reference === id), `the reply to message ${n}`, 15_000);
      const reply = emulator.posted.find((p) => p.reference === id)!;
      say(`user: hello #${n}   →   bot: ${reply.content}`);
    }
    // A message counts as handled once its reply's 2xx reached the bot.
    await until(async () => (await status()).handled === count, 'the bot to acknowledge every reply', 15_000);
    const final = await status();
    const [plugin] = host.status(BOT);
    const connection = plugin!.websocket_connections[0] ?? {};
    const report = {
      command: 'demo',
      messages: count,
      replies: emulator.posted.length,
      identifies: final.identifies,
      resumes: final.resumes,
      lifecycle: plugin!.lifecycle,
      connection,
      counters: plugin!.counters,
      // What Discord would have refused (resume URL, identify window, intents, rate limits): none.
      violations: emulator.violations,
    };
    const broken = report.violations.length > 0 ? `demo: the bot broke ${report.violations.length} Gateway rule(s): ${report.violations[0]!.rule}` : null;
    if (options.json) printJson(io, broken ? { ...report, status: 'error', error: { code: 'demo_failed', message: broken } } : { ...report, status: 'ok' });
    else {
      say(`status: ${plugin!.lifecycle}; ${final.handled} handled, ${final.identifies} identify, ${final.resumes} resume; connection ${String(connection['state'])} after ${String(connection['reconnects'])} reconnect(s)`);
      say(`events: ${JSON.stringify(plugin!.counters)}`);
      say(`gateway rules broken: ${report.violations.length === 0 ? 'none' : report.violations.map((v) => `${v.rule} (${v.detail})`).join('; ')}`);
    }
    if (broken) throw new CommandFailure(broken, 'demo_failed', { reported: true });
  } finally {
    await host?.close();
    await emulator.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
