import assert from 'node:assert/strict';
import { readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readDigestedPackageFile } from '../../src/package/archive-file.js';
import { computePackageDigest } from '../../src/package/digest.js';
import { fileIdentity, IdentityCache, MAX_IDENTITY_ENTRIES, SETTLE_NS, wallClockNs } from '../../src/package/file-identity.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import { tempDir } from '../helpers.js';

/** A clock far enough ahead that every file on disk counts as settled. */
const later = () => wallClockNs() + 10n * SETTLE_NS;

function packageBytes(text: string): Uint8Array {
  const files = new Map([['plugin.toml', new TextEncoder().encode(`# ${text}\n`)], ['data.txt', new TextEncoder().encode(text)]]);
  const written = writeZipArchive(files);
  assert.ok(written.ok);
  return written.value;
}

async function digestOf(dir: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, 'reference.yoi-plugin');
  writeFileSync(path, bytes);
  const read = await readDigestedPackageFile(path, IdentityCache.inMemory());
  assert.ok(read.ok);
  return read.value.digest;
}

describe('file identity cache', () => {
  it('takes a package digest from the cache only while the file keeps the identity it was hashed under', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'p.yoi-plugin');
    writeFileSync(path, packageBytes('first'));
    const cache = IdentityCache.inMemory(later);

    const first = await readDigestedPackageFile(path, cache);
    assert.ok(first.ok);
    assert.equal(first.value.digestFromIdentity, false);
    assert.equal(first.value.digest, computePackageDigest(first.value.files));
    const second = await readDigestedPackageFile(path, cache);
    assert.ok(second.ok);
    assert.equal(second.value.digestFromIdentity, true);
    assert.equal(second.value.digest, first.value.digest);

    // Same size, other bytes, written in place: the identity moves, the digest is recomputed.
    const other = packageBytes('secnd');
    assert.equal(other.length, readFileSync(path).length);
    writeFileSync(path, other);
    // The clock above says the first read was long after the first write; make the rewrite
    // later too (on a coarse-tick filesystem two writes within one tick could share a time).
    const { mtime } = statSync(path);
    utimesSync(path, mtime, new Date(mtime.getTime() + 5000));
    const third = await readDigestedPackageFile(path, cache);
    assert.ok(third.ok);
    assert.equal(third.value.digestFromIdentity, false);
    assert.notEqual(third.value.digest, first.value.digest);
    assert.equal(third.value.digest, computePackageDigest(third.value.files));

    // Replaced by rename (a new inode): recomputed too.
    const replacement = join(dir, 'next');
    writeFileSync(replacement, packageBytes('third'));
    renameSync(replacement, path);
    const fourth = await readDigestedPackageFile(path, cache);
    assert.ok(fourth.ok);
    assert.equal(fourth.value.digestFromIdentity, false);
    assert.equal(fourth.value.digest, await digestOf(dir, packageBytes('third')));
  });

  it('does not record a file changed within the settle window (racy timestamps)', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'p.yoi-plugin');
    writeFileSync(path, packageBytes('fresh'));
    const now = IdentityCache.inMemory(wallClockNs);
    for (let i = 0; i < 3; i++) {
      const read = await readDigestedPackageFile(path, now);
      assert.ok(read.ok);
      assert.equal(read.value.digestFromIdentity, false, `read ${i} trusted a file changed moments ago`);
    }
    assert.equal(now.size, 0);
  });

  it('still applies every archive rule when the digest is cached', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'p.yoi-plugin');
    writeFileSync(path, packageBytes('valid'));
    const cache = IdentityCache.inMemory(later);
    assert.ok((await readDigestedPackageFile(path, cache)).ok);
    writeFileSync(path, 'not a zip');
    const broken = await readDigestedPackageFile(path, cache);
    assert.equal(broken.ok, false);
  });

  it('saves, loads, survives a damaged file and stays bounded', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'x.json');
    writeFileSync(join(dir, 'a'), 'a');
    const stats = statSync(join(dir, 'a'), { bigint: true });
    const cache = await IdentityCache.load(file, later);
    cache.record('a', stats, 'fact', cache.now());
    await cache.save();
    const loaded = await IdentityCache.load(file, later);
    assert.equal(loaded.lookup('a', fileIdentity(stats)), 'fact');
    assert.equal(loaded.lookup('a', `${fileIdentity(stats)}0`), undefined);

    writeFileSync(file, '{"format":1,"entries":[["a",1,2], "junk"');
    assert.equal((await IdentityCache.load(file)).size, 0);

    const big = IdentityCache.inMemory(later);
    for (let i = 0; i < MAX_IDENTITY_ENTRIES + 10; i++) big.record(`k${i}`, stats, 'v', big.now());
    assert.equal(big.size, MAX_IDENTITY_ENTRIES);
    assert.equal(big.lookup('k0', fileIdentity(stats)), undefined, 'the oldest facts go first');
    assert.equal(big.lookup(`k${MAX_IDENTITY_ENTRIES + 9}`, fileIdentity(stats)), 'v');
  });
});
