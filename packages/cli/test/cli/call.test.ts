import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cli, tempDir } from '@yoi-plugins/host/test/helpers.js';
import { manifestToml } from '@yoi-plugins/host/test/fixtures/manifest.js';
import { assemble, componentWat, TOOL_WATS } from '@yoi-plugins/host/test/fixtures/wat.js';
import { pluginWorkspace, watToolManifest, type PluginSpec } from '@yoi-plugins/host/test/fixtures/workspace.js';

// Compiled to packages/cli/dist/test/cli/call.test.js: packages/cli is three folders up.
const CLI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TEST_CACHE = join(CLI_DIR, '.yoi-test-cache');

// The in-process `call` command transpiles through `defaultCacheDir()`, which reads
// `process.env` rather than the CLI's `io.env` (a test below checks the CLI uses io.env): point this test
// process at the shared test cache so nothing lands in the real ~/.cache.
process.env['YOI_CACHE_DIR'] = TEST_CACHE;

/** A tool-world component whose `call` always returns `reply` (ASCII, no backslashes). */
function replyWat(reply: string): string {
  return componentWat({
    extra: `(data (i32.const 64) "${reply.replace(/"/g, '\\"')}")`,
    exports: { call: { sig: 'ss_s', body: `(i32.store (i32.const 8) (i32.const 64)) (i32.store (i32.const 12) (i32.const ${Buffer.byteLength(reply)})) (i32.const 8)` } },
  });
}

const SAY_MANIFEST = manifestToml({
  id: 'say',
  tools: [{ name: 'say', inputSchema: '{ type = "object", properties = { summary = { type = "string" }, content = { type = "string" }, text = { type = "string" } } }' }],
});

interface Setup {
  readonly workspace: string;
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  readonly call: (args: string[], cwd?: string) => ReturnType<typeof cli>;
}

function setup(t: TestContext, plugins: readonly PluginSpec[]): Setup {
  const ws = pluginWorkspace(t, plugins);
  const env = { HOME: join(ws.root, 'home'), YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: TEST_CACHE };
  return {
    workspace: ws.workspace,
    root: ws.root,
    env,
    call: (args, cwd) => cli(['plugin', 'call', ...args, '--workspace', ws.workspace], { env, ...(cwd ? { cwd } : {}) }),
  };
}

/** What `call` says on stderr when no serve runs for the workspace. */
const IN_PROCESS = 'yoi: in-process (no serve is running for this workspace)\n';

describe('yoi plugin call', () => {
  it('prints the summary and the content of the ToolOutput', async (t) => {
    const s = setup(t, [{ manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.echo) }]);
    const withContent = await s.call(['project:say', 'say', '--input', '{"summary":"hello","content":"line 1\\nline 2"}']);
    assert.equal(withContent.code, 0, withContent.stderr);
    assert.equal(withContent.stdout, 'hello\n\nline 1\nline 2\n');
    assert.equal(withContent.stderr, IN_PROCESS, 'only which host ran it');
    const summaryOnly = await s.call(['project:say', 'say', '--input', '{"summary":"just this"}']);
    assert.equal(summaryOnly.code, 0, summaryOnly.stderr);
    assert.equal(summaryOnly.stdout, 'just this\n');
  });

  it('prints stable JSON with --json', async (t) => {
    const s = setup(t, [{ manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.echo) }]);
    const result = await s.call(['project:say', 'say', '--input', '{"summary":"hi","content":"there"}', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const json = result.json<{ command: string; status: string; plugin: string; tool: string; output: unknown; duration_ms: number }>();
    assert.deepEqual(Object.keys(json).sort(), ['command', 'duration_ms', 'logs', 'logs_dropped', 'output', 'plugin', 'status', 'tool', 'via']);
    assert.deepEqual({ ...json, duration_ms: 0 }, { command: 'call', status: 'ok', plugin: 'project:say', tool: 'say', via: 'in-process', output: { summary: 'hi', content: 'there' }, duration_ms: 0, logs: [], logs_dropped: 0 });
    assert.equal(typeof json.duration_ms, 'number');
    assert.ok(json.duration_ms >= 0 && json.duration_ms < 60_000, String(json.duration_ms));
    const nullContent = await s.call(['project:say', 'say', '--input', '{"summary":"only"}', '--json']);
    assert.deepEqual(nullContent.json<{ output: unknown }>().output, { summary: 'only', content: null });
  });

  it('uses {} as the input when none is given', async (t) => {
    const s = setup(t, [{ manifest: watToolManifest('fixed'), component: await assemble(replyWat('{"summary":"fixed reply"}')) }]);
    const result = await s.call(['project:fixed', 'run']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'fixed reply\n');
  });

  it('reads the input from --input-file (relative to the current directory)', async (t) => {
    const s = setup(t, [{ manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.echo) }]);
    writeFileSync(join(s.root, 'input.json'), '{"summary":"from file","content":"file content"}\n');
    const relative = await s.call(['project:say', 'say', '--input-file', 'input.json'], s.root);
    assert.equal(relative.code, 0, relative.stderr);
    assert.equal(relative.stdout, 'from file\n\nfile content\n');
    const absolute = await s.call(['project:say', 'say', '--input-file', join(s.root, 'input.json'), '--json']);
    assert.equal(absolute.code, 0, absolute.stderr);
    assert.deepEqual(absolute.json<{ output: unknown }>().output, { summary: 'from file', content: 'file content' });
    const missing = await s.call(['project:say', 'say', '--input-file', join(s.root, 'nope.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /the --input-file could not be read/);
    assert.equal(missing.stdout, '');
  });

  it('exits 2 when both --input and --input-file are given', async (t) => {
    const s = setup(t, [{ manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.echo) }]);
    writeFileSync(join(s.root, 'input.json'), '{"summary":"x"}');
    const result = await s.call(['project:say', 'say', '--input', '{"summary":"x"}', '--input-file', join(s.root, 'input.json')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /use either --input or --input-file, not both/);
    assert.equal(result.stdout, '');
  });

  it('exits 2 on a ref that is not source-qualified (or not a ref at all)', async (t) => {
    const s = setup(t, [{ manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.echo) }]);
    for (const ref of ['say', 'global:say', 'project:', 'project:.bad']) {
      const result = await s.call([ref, 'say', '--input', '{"summary":"x"}']);
      assert.equal(result.code, 2, `${ref}: ${result.stderr}`);
      assert.match(result.stderr, /the plugin ref must be source-qualified, e\.g\. project:example\.echo/);
    }
  });

  it('exits 2 when the workspace is not a directory, and on missing arguments', async (t) => {
    const home = tempDir(t);
    const env = { HOME: home, YOI_BUILTIN_DIR: join(home, 'none'), YOI_CACHE_DIR: TEST_CACHE };
    const noWorkspace = await cli(['plugin', 'call', 'project:say', 'say', '--workspace', join(home, 'missing')], { env });
    assert.equal(noWorkspace.code, 2);
    assert.match(noWorkspace.stderr, /is not a directory/);
    const noTool = await cli(['plugin', 'call', 'project:say'], { env });
    assert.equal(noTool.code, 2);
    assert.match(noTool.stderr, /missing required argument 'tool'/);
  });

  it('exits 1 with the reason when the plugin is not enabled and resolved', async (t) => {
    const s = setup(t, [
      { manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.echo) },
      { manifest: watToolManifest('stored.only'), component: await assemble(TOOL_WATS.echo) },
      { manifest: watToolManifest('pinned'), component: await assemble(TOOL_WATS.echo) },
    ]);
    const file = join(s.workspace, '.yoi', 'plugins.toml');
    const entries = readFileSync(file, 'utf8').split(/(?=^\[\[plugins\.enabled\]\]$)/m);
    assert.equal(entries.length, 3);
    // `stored.only` stays in the store but is not enabled; `pinned` is enabled with a wrong digest pin
    const wrongPin = entries[2]!.replace(/sha256:[0-9a-f]{64}/g, `sha256:${'0'.repeat(64)}`);
    writeFileSync(file, entries[0]! + '\n' + wrongPin);

    const notEnabled = await s.call(['project:stored.only', 'run', '--input', '{"summary":"x"}']);
    assert.equal(notEnabled.code, 1);
    assert.match(notEnabled.stderr, /plugin `project:stored\.only` is not enabled and resolved in this workspace/);
    assert.equal(notEnabled.stdout, '');

    const mismatch = await s.call(['project:pinned', 'run', '--input', '{"summary":"x"}']);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /plugin `project:pinned` is not enabled and resolved in this workspace: enabled plugin digest pin does not match discovered package digest/);

    const unknown = await s.call(['project:nothing.here', 'run']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /plugin `project:nothing\.here` is not enabled and resolved/);

    // the enabled one still runs
    const ok = await s.call(['project:say', 'say', '--input', '{"summary":"still here"}']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('exits 1 on a tool the plugin does not have', async (t) => {
    const s = setup(t, [{ manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.echo) }]);
    const result = await s.call(['project:say', 'nope', '--input', '{"summary":"x"}']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /plugin `project:say` has no tool `nope`/);
    assert.equal(result.stdout, '');
  });

  it('exits 1 when the plugin\'s tool surface is not enabled', async (t) => {
    const s = setup(t, [{ manifest: watToolManifest('wasm.only'), component: await assemble(replyWat('{"summary":"ran"}')), surfaces: ['wasm'] }]);
    const result = await s.call(['project:wasm.only', 'run']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /project:wasm\.only/);
    assert.equal(result.stdout, '');
  });

  it('exits 1 with the registration denial for a tool that is not granted', async (t) => {
    const s = setup(t, [
      {
        manifest: watToolManifest('partial', { tools: ['run', 'secret'] }),
        component: await assemble(TOOL_WATS.echo),
        grants: { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'run' }] },
      },
    ]);
    const result = await s.call(['project:partial', 'secret', '--input', '{"summary":"x"}']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /tool secret registration denied: granted tool permission for `secret` is missing/);
    assert.equal((await s.call(['project:partial', 'run', '--input', '{"summary":"granted"}'])).stdout, 'granted\n');
  });

  it(
    'calls the tool of the named plugin even when another plugin registered the name first',
    async (t) => {
      const s = setup(t, [
        { manifest: watToolManifest('a.first'), component: await assemble(replyWat('{"summary":"from a"}')) },
        { manifest: watToolManifest('b.second'), component: await assemble(replyWat('{"summary":"from b"}')) },
      ]);
      const a = await s.call(['project:a.first', 'run']);
      assert.equal(a.stdout, 'from a\n', a.stderr);
      const b = await s.call(['project:b.second', 'run']);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(b.stdout, 'from b\n');
    },
  );

  it(
    'is not redirected to another plugin whose tool is literally named `<ref>/<tool>`',
    async (t) => {
      const s = setup(t, [
        { manifest: watToolManifest('a.first', { tools: ['project:b.second/run'] }), component: await assemble(replyWat('{"summary":"hijacked by a"}')) },
        { manifest: watToolManifest('b.second'), component: await assemble(replyWat('{"summary":"from b"}')) },
      ]);
      const b = await s.call(['project:b.second', 'run', '--json']);
      assert.equal(b.code, 0, b.stderr);
      assert.deepEqual(b.json<{ output: unknown }>().output, { summary: 'from b', content: null });
    },
  );

  it('exits 1 with [SANDBOX_TRAP] when the tool traps', async (t) => {
    const s = setup(t, [{ manifest: watToolManifest('trap', { tools: ['boom'] }), component: await assemble(TOOL_WATS.trap) }]);
    const result = await s.call(['project:trap', 'boom']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^yoi: in-process [^\n]*\nyoi plugin: .*component trapped.*\[SANDBOX_TRAP\]\n$/);
    assert.equal(result.stdout, '');
    const json = await s.call(['project:trap', 'boom', '--json']);
    assert.equal(json.code, 1);
    assert.equal(json.json<{ status: string; error: { code: string } }>().error.code, 'sandbox_trap', 'the failure is a JSON document');
    assert.match(json.stderr, /\[SANDBOX_TRAP\]/);
  });

  it('exits 1 with [TOOL_INPUT_INVALID] on input that fails the schema, and 2 on input that is not JSON', async (t) => {
    const s = setup(t, [{ manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.trap) }]);
    const wrongType = await s.call(['project:say', 'say', '--input', '{"text":5}']);
    assert.equal(wrongType.code, 1);
    assert.match(wrongType.stderr, /plugin tool `say` input does not match its input_schema at \$\.text: must be string \[TOOL_INPUT_INVALID\]/);
    const notJson = await s.call(['project:say', 'say', '--input', '{text: 5}']);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /--input is not valid JSON/);
    writeFileSync(join(s.root, 'bad.json'), '[1,2]');
    const fromFile = await s.call(['project:say', 'say', '--input-file', join(s.root, 'bad.json')]);
    assert.equal(fromFile.code, 1);
    assert.match(fromFile.stderr, /at \$: must be object \[TOOL_INPUT_INVALID\]/);
  });

  it('exits 1 with [TOOL_OUTPUT_INVALID] when the guest output breaks the ToolOutput rules', async (t) => {
    const s = setup(t, [{ manifest: SAY_MANIFEST, component: await assemble(TOOL_WATS.echo) }]);
    const result = await s.call(['project:say', 'say', '--input', '{"text":"no summary"}']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /guest output contains unsupported key `text` \[TOOL_OUTPUT_INVALID\]/);
  });

  it(
    'transpiles into the YOI_CACHE_DIR of the environment it was given',
    async (t) => {
      const cache = tempDir(t, 'yoi-cache-');
      // a component no other test uses, so nothing is cached for it yet
      const unique = `{"summary":"cache probe ${process.pid}-${Date.now()}"}`;
      const ws = pluginWorkspace(t, [{ manifest: watToolManifest('probe'), component: await assemble(replyWat(unique)) }]);
      const result = await cli(['plugin', 'call', 'project:probe', 'run', '--workspace', ws.workspace], {
        env: { HOME: join(ws.root, 'home'), YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: cache },
      });
      assert.equal(result.code, 0, result.stderr);
      let entries: string[];
      try {
        entries = readdirSync(join(cache, 'transpile'));
      } catch {
        entries = [];
      }
      assert.ok(entries.length > 0, 'nothing was written to the given YOI_CACHE_DIR');
    },
  );
});
