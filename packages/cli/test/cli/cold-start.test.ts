/**
 * A cold process loads only what its work needs: the library entry and `yoi plugin call`
 * never load the MCP SDK, the HTTP/WebSocket clients, metrics, the journal engines (LMDB, the
 * NATS clients), binaryen or the build tools, and a second `call` of a tool finds its compiled
 * input validator in the cache instead of loading ajv; a call of a tool-only plugin loads none
 * of the service machinery, serve or the cluster code either. (How fast that is, is measured by
 * bench/cold-start.mjs.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { assemble, TOOL_WATS } from '@yoi-plugins/host/test/fixtures/wat.js';
import { pluginWorkspace, watToolManifest } from '@yoi-plugins/host/test/fixtures/workspace.js';
import { tempDir } from '@yoi-plugins/host/test/helpers.js';

// Compiled to packages/cli/dist/test/cli/cold-start.test.js: the repository root is five folders up.
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');
const HOST_DIST = join(REPO_ROOT, 'packages', 'host', 'dist', 'src');
const HEAVY = [
  'ws',
  'undici',
  'ajv',
  '@modelcontextprotocol/sdk',
  'zod',
  'prom-client',
  'lmdb',
  '@nats-io/transport-node',
  '@nats-io/jetstream',
  '@nats-io/kv',
  '@nats-io/nats-core',
  'binaryen',
  'esbuild',
  'componentize-qjs',
  '@bytecodealliance/jco-transpile',
];
/** Host modules (under dist/src) that only services, serve, the cluster and the journal engines need. */
const NOT_FOR_A_TOOL_CALL = /^(service\/plugin-service|reload\/service-unit|websocket\/driver|commands\/|serve\/server|cluster\/|journal\/(jetstream|lmdb|nats))/;

/**
 * Runs node with a preload that records every module the process loads: ES modules through a
 * loader hook, CommonJS modules from the require cache at exit. Returns the packages seen.
 */
function packagesLoaded(t: TestContext, args: string[], env: Record<string, string>): { packages: Set<string>; hostModules: Set<string>; stdout: string } {
  const dir = tempDir(t, 'yoi-loads-');
  const log = join(dir, 'loaded.txt');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }\n`);
  const preload = join(dir, 'preload.mjs');
  writeFileSync(
    preload,
    `import { register, createRequire } from 'node:module';\nimport { appendFileSync } from 'node:fs';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\nconst require = createRequire(import.meta.url);\nprocess.on('exit', () => appendFileSync(${JSON.stringify(log)}, Object.keys(require.cache).join('\\n') + '\\n'));\n`,
  );
  writeFileSync(log, '');
  const result = spawnSync(process.execPath, ['--import', pathToFileURL(preload).href, ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const packages = new Set<string>();
  const hostModules = new Set<string>();
  const hostPrefix = pathToFileURL(HOST_DIST).href + '/';
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(line);
    if (match) packages.add(match[1]!);
    if (line.startsWith(hostPrefix)) hostModules.add(line.slice(hostPrefix.length));
  }
  return { packages, hostModules, stdout: result.stdout };
}

function heavyIn(packages: Set<string>): string[] {
  return HEAVY.filter((name) => packages.has(name));
}

describe('cold start loads only what the work needs', () => {
  it('importing the library loads none of the heavy dependencies, nor the CLI', (t) => {
    const home = tempDir(t);
    const { packages } = packagesLoaded(t, ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(join(HOST_DIST, 'index.js')).href)});`], { HOME: home });
    assert.deepEqual(heavyIn(packages), []);
    assert.equal(packages.has('commander'), false, 'the library entry loads the CLI');
  });

  it('embedders reach the CLI as @yoi-plugins/cli', async () => {
    const cli = (await import('@yoi-plugins/cli' as string)) as typeof import('../../src/cli/program.js');
    let out = '';
    const code = await cli.runCli(['plugin', '--help'], { stdout: (s) => (out += s), stderr: () => undefined, cwd: REPO_ROOT, env: {}, interactive: false, prompt: async () => '' });
    assert.equal(code, 0);
    assert.match(out, /Usage: yoi plugin/);
  });

  it('`yoi plugin call` loads no heavy dependency once its transpiled component and validator are cached', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) }]);
    const home = tempDir(t);
    const env = { HOME: home, YOI_CACHE_DIR: join(home, 'cache'), XDG_DATA_HOME: join(home, 'data') };
    const call = ['packages/cli/bin/yoi.js', 'plugin', 'call', 'project:echo', 'run', '--input', '{"summary":"hi"}', '--workspace', ws.workspace];
    const first = packagesLoaded(t, call, env);
    assert.match(first.stdout, /hi/);
    // The first call transpiles, makes the guest interruptible (binaryen) and compiles the tool's input validator.
    assert.deepEqual(heavyIn(first.packages).sort(), ['@bytecodealliance/jco-transpile', 'ajv', 'binaryen'].sort());
    const second = packagesLoaded(t, call, env);
    assert.match(second.stdout, /hi/);
    assert.deepEqual(heavyIn(second.packages), []);
    // The recording sees the host's modules (a scan that matched nothing would pass vacuously).
    assert.ok(second.hostModules.has('host.js') && second.hostModules.has('sandbox/in-thread.js'), [...second.hostModules].join(' '));
    assert.deepEqual([...second.hostModules].filter((m) => NOT_FOR_A_TOOL_CALL.test(m)), []);
  });

  // Node >= 22.1 (CI runs Node 24): module.enableCompileCache; Node 20 lacks it and runs as before.
  const hasCompileCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';

  it('the CLI keeps compiled code in the compile cache where Node has one', { skip: hasCompileCache ? false : 'Node < 22.1 has no module.enableCompileCache' }, (t) => {
    const cache = join(tempDir(t), 'compile-cache');
    const result = spawnSync(process.execPath, ['packages/cli/bin/yoi.js', 'plugin', '--help'], { cwd: REPO_ROOT, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', NODE_COMPILE_CACHE: cache }, timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(readdirSync(cache, { recursive: true }).length > 0, 'the compile cache folder stayed empty');
  });

  it('a compile cache folder that cannot be created never fails a command', (t) => {
    const file = join(tempDir(t), 'a-file');
    writeFileSync(file, '');
    const result = spawnSync(process.execPath, ['packages/cli/bin/yoi.js', 'plugin', '--version'], { cwd: REPO_ROOT, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', NODE_COMPILE_CACHE: join(file, 'cache') }, timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^\d+\.\d+\.\d+/);
  });
});
