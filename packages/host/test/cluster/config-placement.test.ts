import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { placeOf, type PlacementHost } from '../../src/cluster/placement.js';
import { readServeConfig, ServeConfigError } from '../../src/cluster/serve-config.js';
import { tempDir } from '../helpers.js';

function workspaceWith(t: Parameters<typeof tempDir>[0], toml: string | null): string {
  const workspace = tempDir(t, 'yoi-serve-config-');
  if (toml !== null) {
    mkdirSync(join(workspace, '.yoi'), { recursive: true });
    writeFileSync(join(workspace, '.yoi', 'serve.toml'), toml);
  }
  return workspace;
}

describe('serve engine configuration (.yoi/serve.toml, --engine)', () => {
  it('defaults to the embedded LMDB journal without a file', async (t) => {
    const config = await readServeConfig(workspaceWith(t, null));
    assert.deepEqual(config.engine, { kind: 'lmdb' });
    assert.equal(config.file, null);
    assert.equal(config.cluster.prefix, 'yoi');
    assert.equal(config.cluster.leaseTtlMs, 10_000);
  });

  it('reads engine and [cluster] from the file; the command line wins; other tables are left to their owners', async (t) => {
    const workspace = workspaceWith(t, 'engine = "nats://10.0.0.5:4222,nats://10.0.0.6:4222"\n[cluster]\nprefix = "shop"\nhost_id = "edge 1"\nlease_ttl_ms = 3000\n\n[other]\nkey = 1\n');
    const config = await readServeConfig(workspace);
    assert.deepEqual(config.engine, { kind: 'jetstream', servers: ['nats://10.0.0.5:4222', 'nats://10.0.0.6:4222'] });
    assert.deepEqual(config.cluster, { prefix: 'shop', hostId: 'edge-1', leaseTtlMs: 3000, renewMs: 1000, replicas: 1 });
    assert.deepEqual((await readServeConfig(workspace, { engine: 'lmdb', hostId: 'b' })).engine, { kind: 'lmdb' });
    assert.equal((await readServeConfig(workspace, { hostId: 'b' })).cluster.hostId, 'b');
  });

  it('refuses what it cannot use, naming the key', async (t) => {
    for (const [toml, pattern] of [
      ['engine = "redis://x"', /engine must be `lmdb` or nats:\/\/HOST:PORT/],
      ['engine = "not a url"', /neither `lmdb` nor a nats:\/\/ URL/],
      ['[cluster]\nlease_ttl = 5', /unknown key cluster\.lease_ttl/],
      ['[cluster]\nlease_ttl_ms = 100', /lease_ttl_ms must be an integer from 500/],
      ['[cluster]\nlease_ttl_ms = 2000\nrenew_ms = 1500', /renew_ms must be an integer from 50 to 1000/],
      ['[cluster]\nprefix = "a.b"', /prefix must be/],
      ['engine = [', /not valid TOML/],
    ] as const) {
      await assert.rejects(readServeConfig(workspaceWith(t, toml)), (error: unknown) => error instanceof ServeConfigError && pattern.test(error.message), toml);
    }
    await assert.rejects(readServeConfig(workspaceWith(t, null), { engine: 'http://x:1' }), /--engine/);
  });
});

describe('placement: rendezvous hashing over the live hosts', () => {
  const plugins = Array.from({ length: 300 }, (_, i) => `project:plugin-${i}`);
  const host = (id: string, only?: readonly string[]): PlacementHost => ({ id, plugins: new Set(only ?? plugins) });

  it('is the same on every host (order of the membership does not matter) and spreads plugins over the hosts', () => {
    const hosts = [host('a'), host('b'), host('c')];
    const counts = new Map<string, number>();
    for (const plugin of plugins) {
      const owner = placeOf(plugin, hosts)!;
      assert.equal(placeOf(plugin, [...hosts].reverse()), owner);
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    for (const id of ['a', 'b', 'c']) assert.ok((counts.get(id) ?? 0) > 60, `host ${id} got ${counts.get(id)} of 300`);
  });

  it('moves only what a leaving host held, and a joining host takes only what it wins', () => {
    const three = [host('a'), host('b'), host('c')];
    const two = [host('a'), host('b')];
    for (const plugin of plugins) {
      const before = placeOf(plugin, three);
      const after = placeOf(plugin, two);
      if (before !== 'c') assert.equal(after, before, `${plugin} moved although its host stayed`);
    }
  });

  it('places a plugin only on hosts that can run it, and nowhere when none can', () => {
    const hosts = [host('a', ['project:x']), host('b', [])];
    assert.equal(placeOf('project:x', hosts), 'a');
    assert.equal(placeOf('project:y', hosts), null);
  });
});
