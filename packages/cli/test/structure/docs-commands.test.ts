/**
 * Every command a reader is shown (each line of a fenced `sh` block in README.md and
 * docs/*.md) is run here, the way the docs say, in a fresh copy of `examples/` under the
 * repository (so `npx yoi` is this checkout's CLI, never the registry's; `yoi` is too, through
 * PATH). Commands that need
 * state get it from SETUP; a long-running one runs bounded (serve: until it serves, then
 * SIGTERM after the block's other commands ran against it). A command that cannot run here
 * is listed with the reason. A new command without an entry fails this test, and so does
 * an entry no document uses any more.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildFixturePlugin } from '@yoi-plugins/host/test/fixtures/pdk-plugin.js';
import { TEST_TRANSPILE_CACHE } from '@yoi-plugins/host/test/fixtures/workspace.js';
import { until } from '@yoi-plugins/host/test/helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

type Plan =
  /** Run as written; `exit` is the expected exit code (default 0), `rewrite` what is run instead, with the reason. */
  | { readonly run: true; readonly exit?: number; readonly why?: string; readonly rewrite?: { readonly to: string; readonly why: string } }
  /** A server: started, waited for until it serves, stopped with SIGTERM after the other commands of its document. */
  | { readonly background: 'serve' }
  | { readonly skip: string };

const COMMANDS: Readonly<Record<string, Plan>> = {
  'npm ci && npx yoi plugin demo && npx yoi plugin list --workspace examples/workspace': {
    run: true,
    rewrite: { to: 'npx yoi plugin demo && npx yoi plugin list --workspace examples/workspace', why: 'the test runs in an installed checkout; a second `npm ci` would reinstall it' },
  },
  'npm test': { skip: 'it is the test suite this test is part of' },
  'npx yoi plugin call builtin:example.echo echo --input \'{"text":"hello"}\' --workspace examples/workspace': { run: true },
  'npx yoi plugin check examples/plugins/weather': { run: true },
  'npx yoi plugin pack examples/plugins/echo --output /tmp/echo.yoi-plugin': { run: true },
  'npx yoi plugin show builtin:example.weather --workspace examples/workspace': { run: true },
  'npx yoi plugin show builtin:example.weather --workspace examples/workspace --json': { run: true },
  'yoi plugin new ts-tool hello': { run: true },
  'yoi plugin build hello': { run: true },
  'yoi plugin check hello': { run: true },
  'yoi plugin pack hello': { run: true },
  'yoi plugin enable hello --workspace . --grant-all-requested --yes': { run: true },
  'yoi plugin call project:hello greet --input \'{"name":"Ada"}\' --workspace .': { run: true },
  'yoi plugin enable ./my-plugin --workspace . --grant-all-requested --yes': { run: true },
  'yoi plugin enable builtin:example.weather --grant surfaces.tool --grant tool.forecast --grant host_api.request --yes': { run: true },
  'yoi plugin disable builtin:example.weather': { run: true },
  'npx yoi plugin list --workspace examples/workspace': { run: true },
  'npx yoi plugin mcp --workspace examples/workspace': { run: true, why: 'with stdin closed the MCP server ends at once' },
  'apt-get install -y nats-server': { skip: 'installs a system package as root from the network; CI installs it (.ci/run)' },
  'nats-server -js -a 127.0.0.1 -p 4222 -sd /var/lib/yoi-nats': { skip: 'a system server outside this repository; test/journal/jetstream*.test.ts start their own on a free port' },
  'yoi plugin dlq list project:my.bot --workspace .': { run: true },
  'yoi plugin dlq replay project:my.bot --all --workspace .': { run: true },
  'yoi plugin dlq drop project:my.bot --id <id> --workspace .': {
    run: true,
    exit: 1,
    rewrite: { to: "yoi plugin dlq drop project:my.bot --id '<id>' --workspace .", why: '`<id>` stands for an id from `dlq list`; an id that does not exist drops nothing and exits 1' },
  },
  'yoi plugin serve --workspace .': { background: 'serve' },
  'yoi plugin status --workspace .': { run: true },
  'node --test --test-reporter=spec packages/host/dist/test/conformance/*.test.js packages/cli/dist/test/conformance/*.test.js': { skip: 'runs the conformance suites, which the test run runs itself' },
  'npm pack --workspace packages/host --workspace packages/pdk --workspace packages/cli --pack-destination ./packed': {
    skip: 'with the install below: packages/cli/test/install/tarballs.test.ts packs the three packages and installs them into a temporary prefix',
  },
  'npm install -g ./packed/yoi-plugins-host-0.1.0.tgz ./packed/yoi-plugins-pdk-0.1.0.tgz ./packed/yoi-plugins-cli-0.1.0.tgz': { skip: 'installs globally; packages/cli/test/install/tarballs.test.ts installs the same tarballs into a temporary prefix' },
  'yoi --version': { run: true },
  // Added by the hot-reload work as this test landed; run bounded by their own tests, not yet here.
  'yoi plugin serve --workspace ./shop --engine nats://10.0.0.5:4222 --host-id edge-1': { skip: 'an operator example against a NATS server on another machine; packages/host/test/cluster/failover.test.ts runs three serve hosts with --engine on a loopback nats-server' },
  'yoi plugin serve --workspace ./ws': { skip: 'the serve half of the watch-loop example; packages/cli/test/cli/dev.test.ts runs serve and dev together, bounded' },
  'yoi plugin dev ./my-plugin --workspace ./ws': { skip: 'a watch loop that runs until stopped; packages/cli/test/cli/dev.test.ts runs it bounded against a running serve' },
  'yoi plugin new ts-tool hello && yoi plugin build hello': { run: true },
  'mkdir -p workspace/.yoi/plugins': { run: true },
  'cp echo.yoi-plugin workspace/.yoi/plugins/example.echo.yoi-plugin': { run: true },
  'yoi plugin enable project:example.echo --grant-all-requested --yes --workspace workspace': { run: true },
};

/** State a document's commands need before they run, in the document's own directory. */
const SETUP: Readonly<Record<string, (dir: string, run: (command: string) => Promise<Result>) => Promise<void>>> = {
  'docs/runtime.md': async (dir, run) => {
    const packed = await run('yoi plugin pack examples/plugins/echo --output echo.yoi-plugin');
    assert.equal(packed.code, 0, packed.output);
  },
  'docs/operators.md': async (dir) => {
    cpSync(join(dir, 'examples', 'plugins', 'echo'), join(dir, 'my-plugin'), { recursive: true });
  },
  'docs/services.md': async (dir, run) => {
    // `project:my.bot`: a schedule-only service (no WebSocket, no config), so serve runs it here.
    cpSync(await buildFixturePlugin('scheduled'), join(dir, 'my-bot'), { recursive: true });
    const manifest = join(dir, 'my-bot', 'plugin.toml');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('id = "test.scheduled"', 'id = "my.bot"'));
    const enabled = await run('npx yoi plugin enable ./my-bot --workspace . --grant-all-requested --yes');
    assert.equal(enabled.code, 0, enabled.output);
  },
};

/** The commands of a document: each non-comment line of its fenced `sh` blocks, comments cut. */
function fencedCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.replace(/\\\n\s*/g, ' ').split('\n')) {
      const command = line.replace(/\s+#\s.*$/, '').trim();
      if (command !== '' && !command.startsWith('#')) commands.push(command);
    }
  }
  return commands;
}

interface Result {
  readonly code: number | null;
  readonly output: string;
}

function shell(command: string, cwd: string, env: NodeJS.ProcessEnv): { done: Promise<Result>; pid: number } {
  const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return { pid: child.pid!, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, output }))) };
}

describe('every command in README.md and docs/*.md', () => {
  const byDoc = new Map(DOCS.map((doc) => [doc, fencedCommands(readFileSync(join(ROOT, doc), 'utf8'))]));

  it('has an entry here: run (as written, or rewritten with a reason), bounded, or skipped with a reason', () => {
    const all = new Set([...byDoc.values()].flat());
    const missing = [...all].filter((command) => !(command in COMMANDS));
    assert.deepEqual(missing, [], 'commands shown in the docs without an entry in COMMANDS');
    const stale = Object.keys(COMMANDS).filter((command) => !all.has(command));
    assert.deepEqual(stale, [], 'entries no document shows any more');
  });

  for (const [doc, commands] of byDoc) {
    const runnable = commands.filter((command) => !('skip' in (COMMANDS[command] ?? { skip: '' })));
    if (runnable.length === 0) continue;
    it(`${doc}: ${runnable.length} command(s) work as documented`, { timeout: 600_000 }, async (t) => {
      const scratch = join(ROOT, '.yoi-test-cache', 'docs-commands');
      mkdirSync(scratch, { recursive: true });
      const dir = join(scratch, `${doc.replace(/\W+/g, '-')}-${process.pid}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true, filter: (src) => !src.includes(`${join('.yoi', 'state')}`) });
      // `yoi` is this checkout's CLI, as `npm install -g` of its tarballs would make it.
      const env: NodeJS.ProcessEnv = { PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env['PATH'] ?? ''}`, HOME: dir, XDG_DATA_HOME: join(dir, '.xdg'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..'), npm_config_update_notifier: 'false' };
      const run = (command: string) => shell(command, dir, env).done;
      await SETUP[doc]?.(dir, run);
      const servers: { command: string; pid: number; done: Promise<Result> }[] = [];
      try {
        for (const command of runnable) {
          const plan = COMMANDS[command]!;
          if ('background' in plan) {
            const server = shell(command, dir, env);
            servers.push({ command, ...server });
            await until(() => existsSync(join(dir, '.yoi', 'serve.json')), `${command} to serve`, 60_000, 50);
            continue;
          }
          if (!('run' in plan)) continue;
          const result = await run(plan.rewrite?.to ?? command);
          assert.equal(result.code, plan.exit ?? 0, `${doc}: \`${command}\`\n${result.output}`);
        }
      } finally {
        for (const server of servers) process.kill(-server.pid, 'SIGTERM');
      }
      for (const server of servers) {
        const result = await server.done;
        assert.match(result.output, /stopped: \d+ service\(s\)/, `${doc}: \`${server.command}\` stops gracefully on SIGTERM\n${result.output}`);
        assert.equal(existsSync(join(dir, '.yoi', 'serve.json')), false, 'its control file is removed');
      }
    });
  }
});
