/**
 * B12 (archive reader leniency) and issue J's CRC-0 rule. Each archive below was accepted by the
 * reader at b5fd74d although other ZIP readers see something else in it (or, for Yoi's own
 * archives, rejected although Yoi reads them). Every refusal is a fixed, bounded diagnostic, and
 * `yoi plugin check` reports it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { MESSAGE_BOUND } from '../../src/diagnostics.js';
import { computePackageDigest } from '../../src/package/digest.js';
import type { PackageFiles } from '../../src/package/limits.js';
import { readZipArchive } from '../../src/package/zip-read.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import { cli, COMPONENT_PREAMBLE, echoManifest, tempDir } from '../helpers.js';
import { bytesOf, concat, localRecord, yoiWriterZip, zipOf, type EntrySpec } from './zip-builder.js';

const MANIFEST: EntrySpec = { name: 'plugin.toml', data: echoManifest() };
const COMPONENT: EntrySpec = { name: 'plugin.component.wasm', data: COMPONENT_PREAMBLE };
const PLUGIN: readonly EntrySpec[] = [COMPONENT, MANIFEST];

function pluginFiles(): PackageFiles {
  return new Map([
    ['plugin.component.wasm', COMPONENT_PREAMBLE],
    ['plugin.toml', bytesOf(echoManifest())],
  ]);
}

function refused(bytes: Uint8Array, message: string): void {
  const result = readZipArchive(bytes);
  assert.equal(result.ok, false, `accepted; expected: ${message}`);
  if (result.ok) return;
  assert.deepEqual(result.diagnostic, { kind: 'malformed', phase: 'discovery', message });
  assert.ok(message.length <= MESSAGE_BOUND);
}

/** `yoi plugin check` on the archive: exit 1 and exactly this diagnostic line. */
async function checkRefuses(t: TestContext, bytes: Uint8Array, message: string): Promise<void> {
  const path = join(tempDir(t), 'attack.yoi-plugin');
  writeFileSync(path, bytes);
  const result = await cli(['plugin', 'check', path]);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.ok(result.stdout.split('\n').includes(`  - [malformed/discovery] ${message}`), result.stdout);
}

describe('archive reader strictness (B12)', () => {
  it('refuses an entry whose local record lies inside another entry (overlap), also through check', async (t) => {
    // README.md's data is a complete local record of assets/hidden.txt; a central header points into it.
    const hidden: EntrySpec = { name: 'assets/hidden.txt', data: 'only some readers see this' };
    const readme: EntrySpec = { name: 'README.md', data: localRecord(hidden) };
    const readmeOffset = PLUGIN.reduce((n, e) => n + localRecord(e).length, 0);
    const embedded = readmeOffset + 30 + 'README.md'.length;
    const bytes = zipOf([...PLUGIN, readme, { ...hidden, writeLocal: false, localOffset: embedded }]);
    refused(bytes, 'zip entries overlap');
    await checkRefuses(t, bytes, 'zip entries overlap');
  });

  it('refuses local headers that disagree with the central directory on sizes or CRC-32', async (t) => {
    const mismatch = 'zip local header disagrees with central directory';
    refused(zipOf([COMPONENT, { ...MANIFEST, local: { uncompressedSize: 3 } }]), mismatch);
    refused(zipOf([COMPONENT, { ...MANIFEST, local: { compressedSize: 3, uncompressedSize: 3 } }]), mismatch);
    refused(zipOf([COMPONENT, { ...MANIFEST, local: { crc: 0x1234_5678 } }]), mismatch);
    refused(zipOf([COMPONENT, { ...MANIFEST, local: { name: 'plugin.tomL' } }]), mismatch);
    await checkRefuses(t, zipOf([COMPONENT, { ...MANIFEST, local: { uncompressedSize: 3 } }]), mismatch);
  });

  it('refuses an end record claiming 3 of 602 entries', () => {
    const many: EntrySpec[] = [...PLUGIN];
    for (let i = 0; i < 600; i++) many.push({ name: `assets/f${String(i).padStart(3, '0')}`, data: '' });
    refused(zipOf(many, { claimedEntries: 3 }), 'zip end record entry count does not match its central directory');
  });

  it('refuses trailing bytes after the end record', async (t) => {
    const message = 'zip end record is not at the end of the package (trailing bytes after it)';
    refused(zipOf(PLUGIN, { trailing: bytesOf('appended payload') }), message);
    refused(zipOf(PLUGIN, { trailing: Uint8Array.of(0) }), message);
    await checkRefuses(t, zipOf(PLUGIN, { trailing: bytesOf('appended payload') }), message);
  });

  it('refuses bytes that no entry refers to: in front, between records, before the end record', () => {
    const unreferenced = 'zip package has bytes that belong to no entry';
    refused(zipOf(PLUGIN, { prefix: bytesOf('#!/bin/sh\nexec something\n') }), unreferenced);
    refused(zipOf(PLUGIN, { gaps: new Map([[0, bytesOf('hidden between records')]]) }), unreferenced);
    refused(zipOf(PLUGIN, { beforeEnd: bytesOf('junk') }), 'zip package has unreferenced bytes between its central directory and end record');
  });

  it('refuses ZIP64 extra fields and a ZIP64 end-record locator', () => {
    const zip64Extra = Uint8Array.of(0x01, 0x00, 0x08, 0x00, 1, 0, 0, 0, 0, 0, 0, 0);
    refused(zipOf([COMPONENT, { ...MANIFEST, centralExtra: zip64Extra }]), 'zip64 packages are unsupported');
    refused(zipOf([COMPONENT, { ...MANIFEST, localExtra: zip64Extra }]), 'zip64 packages are unsupported');
    const locator = concat(Uint8Array.of(0x50, 0x4b, 0x06, 0x07), new Uint8Array(16));
    refused(zipOf(PLUGIN, { beforeEnd: locator }), 'zip64 packages are unsupported');
  });

  it('refuses data descriptors', () => {
    refused(zipOf([COMPONENT, { ...MANIFEST, flags: 0x0808 }]), 'zip data descriptors are unsupported');
  });
});

describe('CRC-32 rule (issue J, decision §2 as amended)', () => {
  it('reads an archive written byte-for-byte the way Yoi writes it (CRC 0, DOS date and time 0)', async (t) => {
    const files = pluginFiles();
    const bytes = yoiWriterZip(files);
    // The header profile really is Yoi's: CRC, time and date of the first local header are 0.
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    assert.deepEqual([view.getUint16(4, true), view.getUint16(6, true), view.getUint16(10, true), view.getUint16(12, true), view.getUint32(14, true)], [20, 0x0800, 0, 0, 0]);
    const result = readZipArchive(bytes);
    assert.ok(result.ok, result.ok ? '' : result.diagnostic.message);
    assert.deepEqual(result.value, files);

    const path = join(tempDir(t), 'yoi-packed.yoi-plugin');
    writeFileSync(path, bytes);
    const check = await cli(['plugin', 'check', path, '--json']);
    const report = check.json<{ status: string; package: { digest: string } | null }>();
    assert.notEqual(report.status, 'rejected', check.stdout);
    assert.equal(report.package?.digest, computePackageDigest(files));
  });

  it('verifies every non-zero CRC-32 and accepts 0 as "not recorded"', () => {
    refused(zipOf([COMPONENT, { ...MANIFEST, crc: 0x0bad_c0de }]), 'zip entry CRC-32 does not match its content');
    const recordedZero = readZipArchive(zipOf([COMPONENT, { ...MANIFEST, crc: 0 }]));
    assert.ok(recordedZero.ok);
    // Our own writer records real CRCs, and its archives read back.
    const ours = writeZipArchive(pluginFiles());
    assert.ok(ours.ok);
    assert.ok(readZipArchive(ours.value).ok);
  });
});
