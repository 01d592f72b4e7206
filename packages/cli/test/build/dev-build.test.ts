/**
 * Dev builds (`yoi plugin dev`): the bundle goes into the slot of a loader componentized once per
 * world, the host's transpile cache gets the new component's entry without jco, and the result
 * behaves as the plugin's code says — host interfaces included; a type error still writes nothing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BuildError, buildPlugin, createDevBuildSession } from '../../src/build/build.js';
import { DevHostCache } from '../../src/build/dev-host-cache.js';
import { devSlotLength, fillDevSlot, hasDevSlot } from '../../src/build/dev-component.js';
import { instrumentInterruptsOffThread } from '@yoi-plugins/host/internal/sandbox/interrupt/instrument.js';
import { newPlugin } from '../../src/build/templates.js';
import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { transpileCached } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import { cli, tempDir } from '@yoi-plugins/host/test/helpers.js';

async function entryFiles(dir: string): Promise<Record<string, string>> {
  return (JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, string> }).files;
}

describe('dev builds', () => {
  it('swap the bundle into the cached loader; the host cache entry is what jco makes; the plugin runs its new code and its host imports', async (t) => {
    const root = tempDir(t, 'yoi-dev-build-');
    const dir = join(root, 'hello');
    const workspace = join(root, 'ws');
    mkdirSync(join(workspace, '.yoi'), { recursive: true });
    const cacheDir = join(root, 'cache');
    await newPlugin('ts-tool', dir);
    const source = join(dir, 'src', 'plugin.ts');
    const manifest = join(dir, 'plugin.toml');
    // The tool also calls a host interface (to a target it never declared: the host refuses, and says so).
    const requestTarget = '\n[[request]]\nscheme = "https"\nhost = "api.example.test"\nmethods = ["GET"]\npath_prefixes = ["/"]\n';
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace(/permissions = \[/, 'permissions = [\n  { kind = "host_api", api = "request" },') + requestTarget);
    writeFileSync(
      source,
      readFileSync(source, 'utf8')
        .replace("import { defineTools, ToolError } from '@yoi-plugins/pdk';", "import { defineTools, ToolError } from '@yoi-plugins/pdk';\nimport { request, HostApiError } from '@yoi-plugins/pdk/request';")
        .replace('return { summary: `Hello, ${name}!`', "let refused = 'none';\n    try { request({ method: 'GET', url: 'https://example.invalid/' }); } catch (e) { refused = e instanceof HostApiError ? e.code : String(e); }\n    return { summary: `Hello, ${name}! (${refused})`"),
    );
    const session = createDevBuildSession(new DevHostCache(cacheDir, { rewrite: false }));

    const first = await buildPlugin(dir, { dev: session });
    assert.equal(first.dev?.component, 'template');
    writeFileSync(source, readFileSync(source, 'utf8').replace('Hello, ${name}!', 'Howdy, ${name}!'));
    const second = await buildPlugin(dir, { dev: session });
    assert.equal(second.dev?.component, 'slot');
    assert.equal(second.skipped, false);

    // The entry written for the new component without jco holds exactly what jco makes of it.
    const component = new Uint8Array(await readFile(second.outputPath));
    const primed = await transpileCached(component, cacheDir);
    assert.equal(primed.fromCache, true);
    const byJco = await transpileCached(component, join(root, 'jco-cache'));
    assert.equal(byJco.fromCache, false);
    assert.deepEqual(await entryFiles(primed.dir), await entryFiles(byJco.dir));

    // The interruptible rewrite (binaryen, each in a fresh thread as the host runs it) of the
    // filled engine module is the template's rewrite with the same slot filled, byte for byte.
    const templateName = readdirSync(join(dir, '.yoi-build')).find((f) => f.startsWith('dev-template-'))!;
    const template = new Uint8Array(await readFile(join(dir, '.yoi-build', templateName)));
    const templateEntry = await transpileCached(template, cacheDir);
    const engine = (await Promise.all(templateEntry.coreFiles.map(async (f) => new Uint8Array(await readFile(join(templateEntry.dir, f)))))).find((m) => hasDevSlot(m))!;
    const code = 'module.exports = { call() { return JSON.stringify({ summary: "filled" }); } };';
    const slot = devSlotLength(code.length);
    const viaFill = fillDevSlot(await instrumentInterruptsOffThread(engine), code, slot);
    const rewritten = await instrumentInterruptsOffThread(fillDevSlot(engine, code, slot));
    assert.equal(Buffer.compare(Buffer.from(viaFill), Buffer.from(rewritten)), 0);

    const enabled = await cli(['plugin', 'enable', dir, '--workspace', workspace, '--yes', '--grant-all-requested'], { env: { HOME: root, YOI_BUILTIN_DIR: join(root, 'none') } });
    assert.equal(enabled.code, 0, enabled.stderr + enabled.stdout);
    const host = await PluginHost.fromWorkspace({ workspace, builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir });
    t.after(() => host.close());
    const output = await host.callTool('greet', { name: 'Ann' });
    assert.match(output.summary, /^Howdy, Ann! \((?!none\))\w+\)$/);

    // A type error: reported at its line, and the component in place stays the last good one.
    writeFileSync(source, readFileSync(source, 'utf8').replace('input.name.trim()', 'input.name.trimm()'));
    await assert.rejects(buildPlugin(dir, { dev: session }), (error: unknown) => error instanceof BuildError && error.kind === 'type' && error.lines.some((l) => /^src\/plugin\.ts:\d+:\d+: error TS2551/.test(l)));
    assert.deepEqual(new Uint8Array(await readFile(second.outputPath)), component);
  });
});
