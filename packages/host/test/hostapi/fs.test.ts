/**
 * host_api.fs on a real temporary grant root: happy paths, independent operations, every
 * traversal and symlink escape variant, bounds, write serialisation and redaction.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { AuthoritySubject } from '../../src/authority/authorize.js';
import { FS_LIMITS, fsHostCall } from '../../src/hostapi/fs.js';
import type { FsGrant, FsOperation, Grants } from '../../src/store/enablement.js';
import { tempDir, writeFiles } from '../helpers.js';
import { expectError, expectOk, hostApiManifest, subjectOf } from './support.js';

const OUTSIDE_CONTENT = 'OUTSIDE-CONTENT-must-never-be-read';
const INSIDE_CONTENT = 'INSIDE-CONTENT-never-in-messages';
const ALL_OPS: readonly FsOperation[] = ['read', 'list', 'write'];

interface Sandbox {
  /** The grant root. */
  readonly root: string;
  /** A sibling directory outside the root with `secret.txt`. */
  readonly outside: string;
  readonly subject: AuthoritySubject;
}

interface ReadReply {
  readonly path: string;
  readonly content: string;
  readonly truncated: boolean;
}
interface ListReply {
  readonly path: string;
  readonly entries: { name: string; kind: string }[];
  readonly truncated: boolean;
}
interface WriteReply {
  readonly path: string;
  readonly bytes_written: number;
}

const fsManifest = hostApiManifest(['fs']);

function fsSubject(grants: readonly FsGrant[]): AuthoritySubject {
  return subjectOf(fsManifest, 'all', grants);
}

/** base/files (the root, with a.txt, b.txt, dir/c.txt) and base/outside/secret.txt. */
function sandbox(t: TestContext, operations: readonly FsOperation[] = ALL_OPS): Sandbox {
  const base = tempDir(t, 'yoi-fs-');
  const root = join(base, 'files');
  const outside = join(base, 'outside');
  writeFiles(root, { 'a.txt': 'ay', 'b.txt': INSIDE_CONTENT, 'dir/c.txt': 'see' });
  writeFiles(outside, { 'secret.txt': OUTSIDE_CONTENT });
  return { root, outside, subject: fsSubject([{ root, operations }]) };
}

function call(subject: AuthoritySubject, fn: string, descriptor: unknown): Promise<string> {
  return fsHostCall(subject, fn, JSON.stringify(descriptor));
}

const NO_LEAKS = [OUTSIDE_CONTENT, INSIDE_CONTENT];

describe('host_api.fs: scoped read, list and write', () => {
  it('lists (sorted, with kinds), reads and writes inside the root', async (t) => {
    const { root, subject } = sandbox(t);
    symlinkSync(join(root, 'a.txt'), join(root, 'link'));
    writeFiles(root, { 'Z.txt': 'capital' });

    const listing = expectOk<ListReply>(await call(subject, 'list', { path: '.' }));
    assert.deepEqual(listing, {
      path: '.',
      entries: [
        { name: 'Z.txt', kind: 'file' },
        { name: 'a.txt', kind: 'file' },
        { name: 'b.txt', kind: 'file' },
        { name: 'dir', kind: 'dir' },
        { name: 'link', kind: 'symlink' },
      ],
      truncated: false,
    });
    assert.deepEqual(expectOk<ListReply>(await call(subject, 'list', { path: 'dir/' })), { path: 'dir', entries: [{ name: 'c.txt', kind: 'file' }], truncated: false });

    assert.deepEqual(expectOk<ReadReply>(await call(subject, 'read', { path: 'a.txt' })), { path: 'a.txt', content: 'ay', truncated: false });
    assert.deepEqual(expectOk<ReadReply>(await call(subject, 'read', { path: './dir//c.txt' })), { path: 'dir/c.txt', content: 'see', truncated: false });

    const text = 'hello ünïcode ✓';
    assert.deepEqual(expectOk<WriteReply>(await call(subject, 'write', { path: 'dir/new.txt', content: text })), {
      path: 'dir/new.txt',
      bytes_written: Buffer.byteLength(text),
    });
    assert.equal(readFileSync(join(root, 'dir', 'new.txt'), 'utf8'), text);
    assert.equal(expectOk<ReadReply>(await call(subject, 'read', { path: 'dir/new.txt' })).content, text);
    assert.equal(statSync(join(root, 'dir', 'new.txt')).mode & 0o777 & ~0o022, 0o644 & ~0o022, 'created 0644 (minus umask)');

    // Overwrite truncates; an empty write is allowed.
    assert.equal(expectOk<WriteReply>(await call(subject, 'write', { path: 'dir/new.txt', content: 'x' })).bytes_written, 1);
    assert.equal(readFileSync(join(root, 'dir', 'new.txt'), 'utf8'), 'x');
    assert.equal(expectOk<WriteReply>(await call(subject, 'write', { path: 'empty.txt', content: '' })).bytes_written, 0);
    assert.equal(readFileSync(join(root, 'empty.txt'), 'utf8'), '');
  });

  it('treats read, list and write as independent operations', async (t) => {
    const readOnly = sandbox(t, ['read']);
    assert.equal(expectOk<ReadReply>(await call(readOnly.subject, 'read', { path: 'a.txt' })).content, 'ay');
    expectError(await call(readOnly.subject, 'write', { path: 'a.txt', content: 'changed' }), 'denied', { message: /host_api.fs write denied: no matching operation grant/ });
    expectError(await call(readOnly.subject, 'write', { path: 'new.txt', content: 'x' }), 'denied');
    expectError(await call(readOnly.subject, 'list', { path: '.' }), 'denied', { message: /host_api.fs list denied/ });
    assert.equal(readFileSync(join(readOnly.root, 'a.txt'), 'utf8'), 'ay');
    assert.ok(!existsSync(join(readOnly.root, 'new.txt')));

    const writeOnly = sandbox(t, ['write']);
    expectOk(await call(writeOnly.subject, 'write', { path: 'w.txt', content: 'w' }));
    expectError(await call(writeOnly.subject, 'read', { path: 'w.txt' }), 'denied', { message: /host_api.fs read denied/ });
    expectError(await call(writeOnly.subject, 'list', { path: '.' }), 'denied');

    const listOnly = sandbox(t, ['list']);
    assert.equal(expectOk<ListReply>(await call(listOnly.subject, 'list', { path: '.' })).entries.length, 3);
    expectError(await call(listOnly.subject, 'read', { path: 'a.txt' }), 'denied');
    expectError(await call(listOnly.subject, 'write', { path: 'x.txt', content: 'x' }), 'denied');
  });

  it('tries grants in order: the first that resolves wins, each only for its operations', async (t) => {
    const base = tempDir(t, 'yoi-fs-grants-');
    const first = join(base, 'first');
    const second = join(base, 'second');
    writeFiles(first, { 'only-first.txt': '1' });
    writeFiles(second, { 'only-second.txt': '2', 'both.txt': 'second' });
    writeFiles(first, { 'both.txt': 'first' });
    const subject = fsSubject([
      { root: join(base, 'missing'), operations: ['read'] },
      { root: first, operations: ['read'] },
      { root: second, operations: ['read', 'write'] },
    ]);
    assert.equal(expectOk<ReadReply>(await call(subject, 'read', { path: 'both.txt' })).content, 'first');
    assert.equal(expectOk<ReadReply>(await call(subject, 'read', { path: 'only-second.txt' })).content, '2');
    expectError(await call(subject, 'read', { path: 'nowhere.txt' }), 'not_found');
    expectOk(await call(subject, 'write', { path: 'written.txt', content: 'w' }));
    assert.ok(existsSync(join(second, 'written.txt')));
    assert.ok(!existsSync(join(first, 'written.txt')), 'a read-only grant root was written to');
  });

  it('reports missing files, directories read as files and files listed as directories', async (t) => {
    const { subject } = sandbox(t);
    expectError(await call(subject, 'read', { path: 'missing.txt' }), 'not_found');
    expectError(await call(subject, 'list', { path: 'missing' }), 'not_found');
    expectError(await call(subject, 'read', { path: 'dir' }), 'not_a_file');
    expectError(await call(subject, 'read', { path: '.' }), 'not_a_file');
    expectError(await call(subject, 'list', { path: 'b.txt' }), 'not_a_directory', { secrets: NO_LEAKS });
    expectError(await call(subject, 'read', { path: 'a.txt/x' }), 'not_found');
  });

  it('validates descriptors before touching the disk', async (t) => {
    const { root, subject } = sandbox(t);
    const cases: [string, string, string, string][] = [
      ['read', JSON.stringify({ path: 'a.txt', mode: 'r' }), 'invalid_request', 'unknown field'],
      ['read', JSON.stringify({ path: 'a.txt', content: 'x' }), 'invalid_request', 'content on read'],
      ['list', JSON.stringify({ path: '.', recursive: true }), 'invalid_request', 'unknown list field'],
      ['write', JSON.stringify({ path: 'n.txt', content: 'x', append: true }), 'invalid_request', 'unknown write field'],
      ['read', JSON.stringify({}), 'invalid_request', 'missing path'],
      ['read', JSON.stringify({ path: '' }), 'invalid_request', 'empty path'],
      ['read', JSON.stringify({ path: 5 }), 'invalid_request', 'numeric path'],
      ['read', JSON.stringify({ path: ['a.txt'] }), 'invalid_request', 'array path'],
      ['read', JSON.stringify({ path: 'a/'.repeat(2049) }), 'invalid_request', 'path > 4096 bytes'],
      ['write', JSON.stringify({ path: 'n.txt' }), 'invalid_request', 'missing content'],
      ['write', JSON.stringify({ path: 'n.txt', content: 5 }), 'invalid_request', 'numeric content'],
      ['write', JSON.stringify({ path: '.', content: 'x' }), 'invalid_request', 'write to the root itself'],
      ['write', JSON.stringify({ path: './/', content: 'x' }), 'invalid_request', 'write to ./'],
      ['read', '{"path":', 'invalid_request', 'invalid JSON'],
      ['read', '"a.txt"', 'invalid_request', 'JSON string'],
      ['read', JSON.stringify({ path: 'a.txt', pad: 'p'.repeat(FS_LIMITS.descriptorBytes) }), 'too_large', 'descriptor > 64 KiB'],
      ['delete', JSON.stringify({ path: 'a.txt' }), 'unknown_function', 'unknown function'],
    ];
    for (const [fn, json, code, label] of cases) expectError(await fsHostCall(subject, fn, json), code, { label });
    assert.deepEqual(readdirSync(root).sort(), ['a.txt', 'b.txt', 'dir'], 'nothing was created');
  });

  it('denies without authority: no fs grant, API not requested or not granted, unusable roots', async (t) => {
    const { root } = sandbox(t);
    const json = JSON.stringify({ path: 'a.txt' });
    const withFs = (extra: Partial<Grants>): AuthoritySubject =>
      subjectOf(fsManifest, { permissions: fsManifest.permissions, ...extra }, [{ root, operations: ALL_OPS }]);
    const subjects: [string, AuthoritySubject, RegExp][] = [
      ['no fs grant', fsSubject([]), /granted host_api.fs scope allowlist is missing/],
      ['API not requested by the manifest', subjectOf(hostApiManifest([]), 'all', [{ root, operations: ALL_OPS }]), /requested host_api.fs permission is missing/],
      ['API not granted', withFs({ permissions: [] }), /granted host_api.fs permission is missing/],
      ['relative root', fsSubject([{ root: 'files', operations: ALL_OPS }]), /scope allowlist is missing/],
      ['blank root', fsSubject([{ root: '  ', operations: ALL_OPS }]), /scope allowlist is missing/],
      ['no operations', fsSubject([{ root, operations: [] }]), /scope allowlist is missing/],
      ['grant bound to another version', { ...fsSubject([{ root, operations: ALL_OPS }]), version: '0.2.0' }, /version binding does not match/],
    ];
    for (const [label, subject, message] of subjects) {
      for (const fn of ['read', 'list', 'write']) {
        const text = expectError(await fsHostCall(subject, fn, fn === 'write' ? JSON.stringify({ path: 'w.txt', content: 'x' }) : json), 'denied', { label: `${label}: ${fn}` });
        assert.match(text, message, label);
      }
    }
    assert.ok(!existsSync(join(root, 'w.txt')));
  });
});

describe('host_api.fs: sandbox escapes are denied', () => {
  it('denies traversal, absolute, home, drive and NUL paths for every operation', async (t) => {
    const { root, outside, subject } = sandbox(t);
    const denied = [
      '..',
      '../',
      '../outside/secret.txt',
      'a/../../outside/secret.txt',
      'dir/../a.txt', // any `..` is refused, even one that stays inside
      './../outside/secret.txt',
      'dir/./../../outside',
      '..\\outside\\secret.txt',
      'dir\\..\\..\\outside\\secret.txt',
      '/etc/passwd',
      `${outside}/secret.txt`,
      '//etc/passwd',
      '\\etc\\passwd',
      '\\\\server\\share\\x',
      '~/x',
      '~',
      '~root/.ssh/id_rsa',
      'C:/x',
      'c:\\windows\\win.ini',
      'C:x',
    ];
    for (const path of denied) {
      for (const fn of ['read', 'list', 'write']) {
        const descriptor = fn === 'write' ? { path, content: 'pwned' } : { path };
        expectError(await call(subject, fn, descriptor), 'denied', { secrets: NO_LEAKS, label: `${fn} ${JSON.stringify(path)}` });
      }
    }
    for (const path of ['a.txt\0', '\0', 'dir/\0/c.txt']) {
      for (const fn of ['read', 'list', 'write']) {
        const descriptor = fn === 'write' ? { path, content: 'pwned' } : { path };
        expectError(await call(subject, fn, descriptor), 'invalid_request', { label: `${fn} NUL`, message: /NUL/ });
      }
    }
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), OUTSIDE_CONTENT);
    assert.deepEqual(readdirSync(outside), ['secret.txt']);
    assert.deepEqual(readdirSync(root).sort(), ['a.txt', 'b.txt', 'dir']);
  });

  it('treats percent-encoded dots and slashes as literal names (not_found, never an escape)', async (t) => {
    const { root, outside, subject } = sandbox(t);
    for (const path of ['%2e%2e/outside/secret.txt', '%2E%2E%2Foutside%2Fsecret.txt', '..%2foutside%2fsecret.txt', '%2e%2e', '...', '.../x']) {
      expectError(await call(subject, 'read', { path }), 'not_found', { secrets: NO_LEAKS, label: `read ${path}` });
      expectError(await call(subject, 'list', { path }), 'not_found', { label: `list ${path}` });
    }
    // A write whose parent is a literal `%2e%2e` directory does not exist either; no mkdir.
    expectError(await call(subject, 'write', { path: '%2e%2e/outside/new.txt', content: 'x' }), 'not_found');
    // A single literal segment is just a file in the root.
    expectOk(await call(subject, 'write', { path: '..%2fescaped.txt', content: 'literal' }));
    assert.equal(readFileSync(join(root, '..%2fescaped.txt'), 'utf8'), 'literal');
    assert.deepEqual(readdirSync(outside), ['secret.txt']);
    assert.ok(!existsSync(join(root, '..', 'escaped.txt')));
  });

  it('denies a symlinked leaf pointing outside for read, list and write (the target is untouched)', async (t) => {
    const { root, outside, subject } = sandbox(t);
    symlinkSync(join(outside, 'secret.txt'), join(root, 'leak.txt'));
    symlinkSync(outside, join(root, 'leakdir'));
    expectError(await call(subject, 'read', { path: 'leak.txt' }), 'denied', { secrets: NO_LEAKS, message: /symlink/ });
    expectError(await call(subject, 'write', { path: 'leak.txt', content: 'overwritten' }), 'denied', { secrets: NO_LEAKS, message: /symlink/ });
    expectError(await call(subject, 'list', { path: 'leakdir' }), 'denied', { message: /symlink/ });
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), OUTSIDE_CONTENT);
    assert.ok(lstatSync(join(root, 'leak.txt')).isSymbolicLink(), 'the symlink was replaced');
  });

  it('denies a dangling symlink leaf for write (no file is created at its target)', async (t) => {
    const { root, outside, subject } = sandbox(t);
    const target = join(outside, 'created-through-link.txt');
    symlinkSync(target, join(root, 'dangling.txt'));
    expectError(await call(subject, 'write', { path: 'dangling.txt', content: 'x' }), 'denied');
    expectError(await call(subject, 'read', { path: 'dangling.txt' }), 'denied');
    assert.ok(!existsSync(target));
  });

  it('denies a symlinked parent directory pointing outside', async (t) => {
    const { root, outside, subject } = sandbox(t);
    symlinkSync(outside, join(root, 'out'));
    mkdirSync(join(root, 'deep'));
    symlinkSync(outside, join(root, 'deep', 'out'));
    for (const prefix of ['out', 'deep/out', './out']) {
      expectError(await call(subject, 'read', { path: `${prefix}/secret.txt` }), 'denied', { secrets: NO_LEAKS, message: /symlink/, label: prefix });
      expectError(await call(subject, 'list', { path: `${prefix}/` }), 'denied', { label: prefix });
      expectError(await call(subject, 'write', { path: `${prefix}/planted.txt`, content: 'x' }), 'denied', { label: prefix });
      expectError(await call(subject, 'write', { path: `${prefix}/secret.txt`, content: 'x' }), 'denied', { label: prefix });
    }
    assert.deepEqual(readdirSync(outside), ['secret.txt']);
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), OUTSIDE_CONTENT);
  });

  it('denies symlinks that stay inside the root too (every component is checked)', async (t) => {
    const { root, subject } = sandbox(t);
    symlinkSync(join(root, 'a.txt'), join(root, 'alias.txt'));
    symlinkSync('dir', join(root, 'dirlink')); // relative, inside
    expectError(await call(subject, 'read', { path: 'alias.txt' }), 'denied', { message: /symlink/ });
    expectError(await call(subject, 'write', { path: 'alias.txt', content: 'x' }), 'denied');
    expectError(await call(subject, 'list', { path: 'dirlink' }), 'denied');
    expectError(await call(subject, 'read', { path: 'dirlink/c.txt' }), 'denied');
    expectError(await call(subject, 'write', { path: 'dirlink/new.txt', content: 'x' }), 'denied');
    assert.equal(readFileSync(join(root, 'a.txt'), 'utf8'), 'ay');
    assert.ok(!existsSync(join(root, 'dir', 'new.txt')));
  });

  it('denies a grant root replaced by a symlink, a missing root and a root that is a file', async (t) => {
    const { root, outside } = sandbox(t);
    // Replace the configured root with a symlink to the outside directory.
    renameSync(root, `${root}.moved`);
    symlinkSync(outside, root);
    const subject = fsSubject([{ root, operations: ALL_OPS }]);
    for (const fn of ['read', 'list', 'write']) {
      const descriptor = fn === 'write' ? { path: 'planted.txt', content: 'x' } : fn === 'read' ? { path: 'secret.txt' } : { path: '.' };
      expectError(await call(subject, fn, descriptor), 'denied', { secrets: NO_LEAKS, message: /configured fs grant root must not be a symlink/, label: fn });
    }
    assert.deepEqual(readdirSync(outside), ['secret.txt']);

    rmSync(root);
    const missing = fsSubject([{ root, operations: ALL_OPS }]);
    expectError(await call(missing, 'read', { path: 'a.txt' }), 'denied', { message: /configured fs grant root is unavailable/ });
    expectError(await call(missing, 'write', { path: 'a.txt', content: 'x' }), 'denied', { message: /unavailable/ });
    assert.ok(!existsSync(root), 'the missing root was created');

    writeFileSync(root, 'a file');
    expectError(await call(fsSubject([{ root, operations: ALL_OPS }]), 'list', { path: '.' }), 'denied', { message: /must be a directory/ });
  });

  it(
    'denies a symlinked grant root even when written with a trailing `/` or `/.`',
    async (t) => {
      const { root, outside } = sandbox(t);
      renameSync(root, `${root}.moved`);
      symlinkSync(outside, root);
      for (const spelled of [`${root}/`, `${root}/.`, `${root}//`]) {
        const subject = fsSubject([{ root: spelled, operations: ALL_OPS }]);
        expectError(await call(subject, 'read', { path: 'secret.txt' }), 'denied', { secrets: NO_LEAKS, label: spelled });
      }
    },
  );
});

describe('host_api.fs: bounds', () => {
  it('truncates reads at 64 KiB', async (t) => {
    const { root, subject } = sandbox(t);
    writeFiles(root, { 'big.txt': 'x'.repeat(70_000), 'exact.txt': 'y'.repeat(FS_LIMITS.readBytes) });
    const big = expectOk<ReadReply>(await call(subject, 'read', { path: 'big.txt' }));
    assert.equal(big.truncated, true);
    assert.equal(big.content.length, 65_536);
    assert.equal(big.content, 'x'.repeat(65_536));
    const exact = expectOk<ReadReply>(await call(subject, 'read', { path: 'exact.txt' }));
    assert.equal(exact.truncated, false);
    assert.equal(exact.content.length, 65_536);
  });

  it('truncates listings at 256 entries (sorted) and does not flag exactly 256', async (t) => {
    const { root, subject } = sandbox(t);
    const many = join(root, 'many');
    mkdirSync(many);
    for (let i = 0; i < 300; i++) writeFileSync(join(many, `f${String(i).padStart(3, '0')}.txt`), '');
    const listing = expectOk<ListReply>(await call(subject, 'list', { path: 'many' }));
    assert.equal(listing.truncated, true);
    assert.equal(listing.entries.length, FS_LIMITS.listEntries);
    const names = listing.entries.map((e) => e.name);
    assert.deepEqual(names, [...names].sort());
    assert.equal(new Set(names).size, names.length);
    assert.ok(listing.entries.every((e) => e.kind === 'file' && /^f\d{3}\.txt$/.test(e.name)));

    const exact = join(root, 'exact');
    mkdirSync(exact);
    for (let i = 0; i < FS_LIMITS.listEntries; i++) writeFileSync(join(exact, `e${i}`), '');
    const full = expectOk<ListReply>(await call(subject, 'list', { path: 'exact' }));
    assert.equal(full.truncated, false);
    assert.equal(full.entries.length, FS_LIMITS.listEntries);
  });

  it('rejects oversize writes (in bytes) before touching the disk', async (t) => {
    const { root, subject } = sandbox(t);
    expectError(await call(subject, 'write', { path: 'big.txt', content: 'x'.repeat(FS_LIMITS.writeBytes + 1) }), 'too_large', { message: /exceeds 65536 bytes/ });
    assert.ok(!existsSync(join(root, 'big.txt')), 'an oversize write created the file');
    // 32 769 two-byte characters: under the limit in characters, over it in bytes.
    expectError(await call(subject, 'write', { path: 'wide.txt', content: 'é'.repeat(32_769) }), 'too_large');
    assert.ok(!existsSync(join(root, 'wide.txt')));
    // An existing file is not truncated by a rejected write.
    expectError(await call(subject, 'write', { path: 'b.txt', content: 'x'.repeat(FS_LIMITS.writeBytes + 1) }), 'too_large');
    assert.equal(readFileSync(join(root, 'b.txt'), 'utf8'), INSIDE_CONTENT);

    // The descriptor bound (64 KiB) is the same as the content bound, so the largest write is
    // the content that makes the descriptor exactly 64 KiB.
    const overhead = Buffer.byteLength(JSON.stringify({ path: 'max.txt', content: '' }));
    const largest = 'm'.repeat(FS_LIMITS.descriptorBytes - overhead);
    assert.equal(expectOk<WriteReply>(await call(subject, 'write', { path: 'max.txt', content: largest })).bytes_written, largest.length);
    assert.equal(statSync(join(root, 'max.txt')).size, largest.length);
    expectError(await call(subject, 'write', { path: 'max.txt', content: largest + 'm' }), 'too_large');
    assert.equal(statSync(join(root, 'max.txt')).size, largest.length);
  });

  it('rejects a write to a directory and a write whose parent is missing (no mkdir)', async (t) => {
    const { root, subject } = sandbox(t);
    expectError(await call(subject, 'write', { path: 'dir', content: 'x' }), 'not_a_file');
    expectError(await call(subject, 'write', { path: 'dir/', content: 'x' }), 'not_a_file');
    assert.ok(statSync(join(root, 'dir')).isDirectory());
    assert.equal(readFileSync(join(root, 'dir', 'c.txt'), 'utf8'), 'see');

    expectError(await call(subject, 'write', { path: 'missing/new.txt', content: 'x' }), 'not_found');
    expectError(await call(subject, 'write', { path: 'missing/deeper/new.txt', content: 'x' }), 'not_found');
    expectError(await call(subject, 'write', { path: 'a.txt/new.txt', content: 'x' }), 'not_a_directory');
    assert.ok(!existsSync(join(root, 'missing')), 'the missing parent was created');
    assert.equal(readFileSync(join(root, 'a.txt'), 'utf8'), 'ay');
  });
});

describe('host_api.fs: write serialisation and redaction', () => {
  it('serialises concurrent writes to the same target (`t.txt` and `./t.txt`): one complete content wins', async (t) => {
    const { root, subject } = sandbox(t);
    const size = 60_000;
    for (let round = 0; round < 8; round++) {
      const a = `A${round}`.padEnd(size, 'a');
      const b = `B${round}`.padEnd(size, 'b');
      const replies = await Promise.all([
        call(subject, 'write', { path: 't.txt', content: a }),
        call(subject, 'write', { path: './t.txt', content: b }),
        call(subject, 'write', { path: './/t.txt', content: a }),
        call(subject, 'write', { path: 't.txt', content: b }),
      ]);
      for (const reply of replies) assert.equal(expectOk<WriteReply>(reply).bytes_written, size);
      const final = readFileSync(join(root, 't.txt'), 'utf8');
      assert.ok(final === a || final === b, `round ${round}: the file ends interleaved or partial (${final.length} bytes)`);
    }
    // Sequential writes under two spellings: the second one wins (Yoi's fs_writes_serialize_to_normalized_target).
    expectOk(await call(subject, 'write', { path: 'target.txt', content: 'first' }));
    expectOk(await call(subject, 'write', { path: './target.txt', content: 'second' }));
    assert.equal(readFileSync(join(root, 'target.txt'), 'utf8'), 'second');
    assert.equal(expectOk<ReadReply>(await call(subject, 'read', { path: 'target.txt' })).content, 'second');
  });

  it('redacts secret-like path segments and never echoes file contents', async (t) => {
    const { root, subject } = sandbox(t);
    writeFiles(root, { 'secret-token.txt': INSIDE_CONTENT, 'data/api-key.txt': INSIDE_CONTENT });
    const hidden = ['secret-token', 'my-password', 'api-key', 'Credentials'];
    const cases: [string, unknown, string][] = [
      ['read', { path: 'secret-token/file.txt' }, 'not_found'],
      ['read', { path: 'dir/my-password.txt' }, 'not_found'],
      ['list', { path: 'secret-token.txt' }, 'not_a_directory'],
      ['list', { path: 'Credentials/x' }, 'not_found'],
      ['write', { path: 'secret-token/new.txt', content: INSIDE_CONTENT }, 'not_found'],
    ];
    for (const [fn, descriptor, code] of cases) {
      const message = expectError(await call(subject, fn, descriptor), code, { secrets: [...hidden, ...NO_LEAKS], label: `${fn} ${JSON.stringify(descriptor)}` });
      if (code === 'not_found') assert.match(message, /<redacted>/, `${fn} ${JSON.stringify(descriptor)}`);
    }
    symlinkSync(join(root, 'secret-token.txt'), join(root, 'secret-token-link'));
    const symlinkMessage = expectError(await call(subject, 'read', { path: 'secret-token-link' }), 'denied', { secrets: [...hidden, ...NO_LEAKS] });
    assert.match(symlinkMessage, /<redacted>/);

    // Success replies carry the redacted path too, never the name.
    const read = await call(subject, 'read', { path: 'data/api-key.txt' });
    assert.equal(expectOk<ReadReply>(read).path, 'data/<redacted>');
    assert.equal(expectOk<ReadReply>(read).content, INSIDE_CONTENT);
    assert.equal(expectOk<WriteReply>(await call(subject, 'write', { path: 'data/api-key.txt', content: 'new' })).path, 'data/<redacted>');
  });
});

describe('host_api.fs: special files', () => {
  /** Runs `fn` on a FIFO in the root; if it blocks, unblocks it by opening the other end and reports. */
  async function onFifo(t: TestContext, fn: 'read' | 'write'): Promise<{ reply: string; blocked: boolean; root: string }> {
    const { root, subject } = sandbox(t);
    const fifo = join(root, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const pending = call(subject, fn, fn === 'write' ? { path: 'pipe', content: 'x' } : { path: 'pipe' });
    const first = await Promise.race([pending, new Promise<null>((resolve) => setTimeout(() => resolve(null), 500))]);
    if (first !== null) return { reply: first, blocked: false, root };
    // Release the libuv thread stuck in open(2) by opening the other end, then let the call finish.
    const fd = openSync(fifo, (fn === 'read' ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_NONBLOCK);
    closeSync(fd);
    return { reply: await pending, blocked: true, root };
  }

  it(
    'refuses to read a FIFO in the root without blocking',
    async (t) => {
      const { reply, blocked } = await onFifo(t, 'read');
      assert.equal(blocked, false, `read of a FIFO blocked the host call (then answered ${reply})`);
      expectError(reply, 'not_a_file');
    },
  );

  it(
    'refuses to write a FIFO in the root without blocking',
    async (t) => {
      const { reply, blocked } = await onFifo(t, 'write');
      assert.equal(blocked, false, `write to a FIFO blocked the host call (then answered ${reply})`);
      expectError(reply, 'not_a_file');
    },
  );

  it('lists a FIFO as kind `other`', async (t) => {
    const { root, subject } = sandbox(t);
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const listing = expectOk<ListReply>(await call(subject, 'list', { path: '.' }));
    assert.deepEqual(listing.entries.find((e) => e.name === 'pipe'), { name: 'pipe', kind: 'other' });
  });
});
