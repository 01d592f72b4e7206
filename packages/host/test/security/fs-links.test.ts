/**
 * B14 (hard links): a hard link inside a granted folder to a file outside it must not be
 * written through, nor read unless the grant opts in (`allow_hard_link_reads`). Also: the
 * fs host API fails closed where its race-free resolution is unavailable.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { AuthoritySubject } from '../../src/authority/authorize.js';
import { procFdProblem } from '../../src/fs/beneath.js';
import { fsHostCall } from '../../src/hostapi/fs.js';
import { parseEnablementConfig, type FsGrant } from '../../src/store/enablement.js';
import { renderEntry } from '../../src/store/enablement-edit.js';
import { FS_PROBE_WAT, fsProbeManifest, probeReply } from '../fixtures/fs-probe.js';
import { assemble } from '../fixtures/wat.js';
import { pluginWorkspace } from '../fixtures/workspace.js';
import { expectError, expectOk, hostApiManifest, subjectOf } from '../hostapi/support.js';
import { tempDir, writeFiles } from '../helpers.js';

const OUTSIDE = 'OUTSIDE-hard-linked-content';
const fsManifest = hostApiManifest(['fs']);

function linked(t: TestContext, grant: Omit<FsGrant, 'root'> = { operations: ['read', 'list', 'write'] }): { root: string; outside: string; subject: AuthoritySubject } {
  const base = tempDir(t, 'yoi-fs-links-');
  const root = join(base, 'files');
  const outside = join(base, 'outside', 'target.txt');
  writeFiles(base, { 'outside/target.txt': OUTSIDE, 'files/own.txt': 'own' });
  linkSync(outside, join(root, 'link.txt'));
  return { root, outside, subject: subjectOf(fsManifest, 'all', [{ root, ...grant }]) };
}

const call = (subject: AuthoritySubject, fn: string, descriptor: unknown) => fsHostCall(subject, fn, JSON.stringify(descriptor));

describe('security: hard links in a granted folder (B14)', () => {
  it('refuses to write through a hard link to a file outside the root, and to read it by default', async (t) => {
    const { root, outside, subject } = linked(t);
    expectError(await call(subject, 'write', { path: 'link.txt', content: 'overwritten' }), 'denied', { message: /write of a file with more than one hard link is denied/ });
    expectError(await call(subject, 'read', { path: 'link.txt' }), 'denied', { secrets: [OUTSIDE], message: /read of a file with more than one hard link is denied/ });
    assert.equal(readFileSync(outside, 'utf8'), OUTSIDE, 'the outside file was changed (or truncated)');
    // The listing still shows it; the file in the root that has one link works as before.
    const listing = expectOk<{ entries: { name: string; kind: string }[] }>(await call(subject, 'list', { path: '.' }));
    assert.deepEqual(listing.entries, [{ name: 'link.txt', kind: 'file' }, { name: 'own.txt', kind: 'file' }]);
    assert.equal(expectOk<{ content: string }>(await call(subject, 'read', { path: 'own.txt' })).content, 'own');
    // It is the link count that matters: once the outside name is gone, the file is the root's alone.
    rmSync(outside);
    assert.equal(statSync(join(root, 'link.txt')).nlink, 1);
    assert.equal(expectOk<{ content: string }>(await call(subject, 'read', { path: 'link.txt' })).content, OUTSIDE);
    expectOk(await call(subject, 'write', { path: 'link.txt', content: 'now mine' }));
  });

  it('reads through a hard link only when the grant says allow_hard_link_reads; writes stay refused', async (t) => {
    const { outside, subject } = linked(t, { operations: ['read', 'write'], allow_hard_link_reads: true });
    assert.equal(expectOk<{ content: string }>(await call(subject, 'read', { path: 'link.txt' })).content, OUTSIDE);
    expectError(await call(subject, 'write', { path: 'link.txt', content: 'x' }), 'denied', { message: /hard link/ });
    assert.equal(readFileSync(outside, 'utf8'), OUTSIDE);
  });

  it('refuses both through a real component', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: fsProbeManifest('fs.links'), component: await assemble(FS_PROBE_WAT) }]);
    writeFiles(ws.root, { 'outside.txt': OUTSIDE });
    linkSync(join(ws.root, 'outside.txt'), join(ws.filesRoot, 'link.txt'));
    const host = await ws.open();
    t.after(() => host.close());
    expectError(probeReply(await host.callTool('read', { path: 'link.txt' })), 'denied', { secrets: [OUTSIDE], message: /hard link/ });
    expectError(probeReply(await host.callTool('write', { path: 'link.txt', content: 'x' })), 'denied', { message: /hard link/ });
    assert.equal(readFileSync(join(ws.root, 'outside.txt'), 'utf8'), OUTSIDE);
  });

  it('parses and writes the additive allow_hard_link_reads field of an fs grant', () => {
    const text = (extra: string) => `[[plugins.enabled]]
id = "project:notes"
[plugins.enabled.grants]
id = "project:notes"
version = "0.1.0"
digest = "sha256:${'a'.repeat(64)}"
[[plugins.enabled.grants.fs]]
root = "/srv/notes"
operations = ["read"]
${extra}
`;
    const parsed = parseEnablementConfig(text('allow_hard_link_reads = true'));
    assert.ok(parsed.ok);
    const entry = parsed.value.enabled[0]!;
    assert.deepEqual(entry.grants.fs, [{ root: '/srv/notes', operations: ['read'], allow_hard_link_reads: true }]);
    const again = parseEnablementConfig(renderEntry(entry));
    assert.ok(again.ok);
    assert.deepEqual(again.value.enabled[0]!.grants.fs, entry.grants.fs);
    const plain = parseEnablementConfig(text(''));
    assert.ok(plain.ok);
    assert.deepEqual(plain.value.enabled[0]!.grants.fs, [{ root: '/srv/notes', operations: ['read'] }], 'absent stays absent');
    const wrong = parseEnablementConfig(text('allow_hard_link_reads = "yes"'));
    assert.ok(wrong.ok, 'a bad entry fails alone, not the file');
    assert.equal(wrong.value.enabled.length, 0);
    assert.match(wrong.value.rejected?.[0]?.diagnostic.message ?? '', /allow_hard_link_reads.*must be a boolean/);
  });
});

describe('security: the fs host API fails closed without race-free resolution', () => {
  it('names the reason elsewhere than Linux, or without procfs', async (t) => {
    assert.match((await procFdProblem('darwin')) ?? '', /host_api\.fs needs Linux .*darwin/);
    assert.match((await procFdProblem('win32')) ?? '', /needs Linux/);
    assert.match((await procFdProblem('linux', tempDir(t, 'yoi-not-proc-'))) ?? '', /needs procfs mounted at/);
    assert.equal(await procFdProblem('linux'), null, 'this Linux host has /proc/self/fd');
  });

  it('answers every fs call with that reason, touching nothing, on another platform', async (t) => {
    const root = tempDir(t, 'yoi-fs-platform-');
    writeFiles(root, { 'a.txt': 'readable on Linux' });
    const dist = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
    const script = `
      Object.defineProperty(process, 'platform', { value: 'darwin' });
      const { fsHostCall } = await import(${dist('../../src/hostapi/fs.js')});
      const { hostApiManifest, subjectOf } = await import(${dist('../hostapi/support.js')});
      const subject = subjectOf(hostApiManifest(['fs']), 'all', [{ root: process.argv[1], operations: ['read', 'list', 'write'] }]);
      const replies = [];
      for (const [fn, json] of [['read', '{"path":"a.txt"}'], ['list', '{"path":"."}'], ['write', '{"path":"b.txt","content":"x"}']]) replies.push(await fsHostCall(subject, fn, json));
      console.log(JSON.stringify(replies));`;
    const replies = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script, root], { encoding: 'utf8' })) as string[];
    for (const reply of replies) expectError(reply, 'failed', { secrets: ['readable on Linux'], message: /host_api\.fs needs Linux .*darwin/ });
    assert.deepEqual(readdirSync(root), ['a.txt']);
  });
});
