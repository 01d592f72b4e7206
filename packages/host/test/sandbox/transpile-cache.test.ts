import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { describe, it } from 'node:test';
import { IdentityCache, SETTLE_NS, wallClockNs } from '../../src/package/file-identity.js';
import { transpileCached } from '../../src/sandbox/transpile-cache.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { tempDir } from '../helpers.js';

/** A promise the test resolves by hand. */
function latch(): { open(): void; wait(): Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, wait: () => opened };
}

describe('transpile cache', () => {
  it('transpiles once, then hits; a corrupted or partial entry is detected and rebuilt', async (t) => {
    const dir = tempDir(t);
    const component = await assemble(TOOL_WATS.echo);
    const first = await transpileCached(component, dir);
    assert.equal(first.fromCache, false);
    assert.deepEqual(first.interface.exports, { call: '(string,string)->string' });
    const second = await transpileCached(component, dir);
    assert.equal(second.fromCache, true);
    assert.equal(second.dir, first.dir);

    writeFileSync(join(first.dir, first.coreFiles[0]!), 'garbage');
    const afterCorruption = await transpileCached(component, dir);
    assert.equal(afterCorruption.fromCache, false, 'a corrupted core module is rebuilt');

    assert.notEqual(afterCorruption.dir, first.dir, 'the corrupt entry is passed over, never replaced in place');
    rmSync(join(afterCorruption.dir, 'manifest.json'));
    const afterPartial = await transpileCached(component, dir);
    assert.equal(afterPartial.fromCache, false, 'an entry without its manifest is rebuilt');
    assert.equal((await transpileCached(component, dir)).fromCache, true);
  });

  it('remembers verified files by identity, and still detects a write to one of them', async (t) => {
    const dir = tempDir(t);
    const component = await assemble(TOOL_WATS.echo);
    // A clock far enough ahead that the files just written count as settled.
    const hashes = IdentityCache.inMemory(() => wallClockNs() + 10n * SETTLE_NS);
    const first = await transpileCached(component, dir, { hashes });
    assert.equal(hashes.size, first.coreFiles.length + 2, 'each file of the entry is remembered: core modules, glue, package.json');
    assert.equal((await transpileCached(component, dir, { hashes })).fromCache, true);

    // Same size, one byte flipped, written in place (and later, as time has passed).
    const core = join(first.dir, first.coreFiles[0]!);
    const bytes = readFileSync(core);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(core, bytes);
    const { mtime } = statSync(core);
    utimesSync(core, mtime, new Date(mtime.getTime() + 5000));
    const afterWrite = await transpileCached(component, dir, { hashes });
    assert.equal(afterWrite.fromCache, false, 'a changed core module is rebuilt');
    assert.equal((await transpileCached(component, dir, { hashes })).fromCache, true);
  });

  it('never removes an entry another filler just installed: eight concurrent fills all succeed', async (t) => {
    const dir = tempDir(t);
    const component = await assemble(TOOL_WATS.spin);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => transpileCached(component, dir)));
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason))),
      Array(8).fill('ok'),
    );
    assert.equal((await transpileCached(component, dir)).fromCache, true);
  });

  it('two installers over a corrupt entry: the one that decides last never deletes the entry the other installed', async (t) => {
    const dir = tempDir(t);
    const component = await assemble(TOOL_WATS.echo);
    const corrupt = await transpileCached(component, dir);
    writeFileSync(join(corrupt.dir, corrupt.coreFiles[0]!), 'garbage');
    // A finds the entry corrupt and is held just before it installs; B runs to the end meanwhile.
    const aDecided = latch();
    const releaseA = latch();
    const a = transpileCached(component, dir, {
      hashes: IdentityCache.inMemory(),
      beforeInstall: async () => {
        aDecided.open();
        await releaseA.wait();
      },
    });
    await aDecided.wait();
    const b = await transpileCached(component, dir, { hashes: IdentityCache.inMemory() });
    // Stands for a host still reading B's entry: it must be there, the same directory, afterwards.
    writeFileSync(join(b.dir, 'reader-was-here'), '');
    releaseA.open();
    const fromA = await a;
    for (const [who, entry] of [['B', b], ['A', fromA]] as const) {
      const glue = readFileSync(entry.gluePath, 'utf8');
      assert.ok(glue.length > 0, `${who}'s entry is still there`);
      for (const core of entry.coreFiles) assert.notEqual(readFileSync(join(entry.dir, core), 'utf8'), 'garbage', `${who}'s entry is valid`);
    }
    assert.ok(existsSync(join(b.dir, 'reader-was-here')), 'the directory B installed was not removed and replaced');
    assert.equal(fromA.dir, b.dir, 'A took the entry B installed');
    assert.equal((await transpileCached(component, dir, { hashes: IdentityCache.inMemory() })).dir, b.dir);
  });

  it('keeps one valid entry when several hosts fill it at once', async (t) => {
    const dir = tempDir(t);
    const component = await assemble(TOOL_WATS.trap);
    const wasm = join(dir, 'component.wasm');
    writeFileSync(wasm, component);
    const script = new URL('../../src/sandbox/transpile-cache.js', import.meta.url).href;
    const child = (i: number) =>
      new Promise<number>((resolve) => {
        const code = `import(${JSON.stringify(script)}).then(async (m) => { const fs = await import('node:fs'); await m.transpileCached(new Uint8Array(fs.readFileSync(${JSON.stringify(wasm)})), ${JSON.stringify(join(dir, 'cache'))}); process.exit(0); }).catch(() => process.exit(${10 + i}));`;
        const p = fork('--input-type=module', ['-e', code], { execArgv: [], stdio: 'ignore' });
        p.on('exit', (status) => resolve(status ?? -1));
      });
    const [a, b, c] = await Promise.all([child(0), child(1), transpileCached(component, join(dir, 'cache')).then(() => 0)]);
    assert.deepEqual([a, b, c], [0, 0, 0]);
    const entries = readdirSync(join(dir, 'cache')).filter((n) => !n.startsWith('.'));
    assert.equal(entries.length, 1, `entries: ${entries.join(', ')}`);
    assert.equal(readdirSync(join(dir, 'cache')).filter((n) => n.includes('.tmp-')).length, 0, 'no temporary directories left');
    assert.equal((await transpileCached(component, join(dir, 'cache'))).fromCache, true);
  });
});
