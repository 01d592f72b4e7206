/**
 * Limits above the host maxima (`memory_mib = 4096`, `tool_timeout_ms = 999999`) were
 * accepted silently and clamped. They are now refused when the enablement is read, with a
 * diagnostic that names the key, the value and the maximum.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOST_MAXIMA, hostMaximum, LIMIT_KEY_NAMES } from '../../src/sandbox/limits.js';
import { parseEnablementConfig } from '../../src/store/enablement.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';

const entry = (limits: string) => `[[plugins.enabled]]
id = "project:echo"
surfaces = ["tool"]

[plugins.enabled.limits]
${limits}
`;

/** A limit above its maximum fails its entry closed (the file's other entries still count). */
function refusal(limits: string): string {
  const parsed = parseEnablementConfig(entry(limits));
  assert.ok(parsed.ok, 'the file as a whole is readable');
  assert.equal(parsed.value.enabled.length, 0, `accepted: ${limits}`);
  const rejected = parsed.value.rejected ?? [];
  assert.equal(rejected.length, 1);
  return rejected[0]!.diagnostic.message;
}

describe('security: limits above the host maxima are refused', () => {
  it('refuses memory_mib = 4096 and tool_timeout_ms = 999999 naming the key and the maximum', () => {
    assert.match(refusal('memory_mib = 4096'), /`plugins\.enabled\[0\]\.limits\.memory_mib` is 4096 MiB, above the host maximum of 2048 MiB/);
    assert.match(refusal('tool_timeout_ms = 999999'), /`plugins\.enabled\[0\]\.limits\.tool_timeout_ms` is 999999 ms, above the host maximum of 120000 ms/);
    assert.match(refusal('queued_calls = 100000'), /above the host maximum of 4096 calls/);
    assert.match(refusal('tool_workers = 64'), /above the host maximum of 8 workers/);
    assert.match(refusal('memory_mib = 0'), /must be a positive integer/);
    assert.match(refusal('ingress_timeout_ms = 1.5'), /must be a positive integer/);
  });

  it('accepts every limit at its host maximum', () => {
    const text = LIMIT_KEY_NAMES.map((key) => `${key} = ${hostMaximum(key)}`).join('\n');
    const parsed = parseEnablementConfig(entry(text));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.diagnostic.message);
    assert.deepEqual(parsed.value.enabled[0]!.limits, Object.fromEntries(LIMIT_KEY_NAMES.map((key) => [key, hostMaximum(key)])));
    assert.equal(hostMaximum('memory_mib') * 1024 * 1024, HOST_MAXIMA.memoryBytes);
  });

  it('a host reading such an enablement reports the diagnostic and runs nothing from it', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo), limits: { memory_mib: 4096 } }]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.equal(host.runtimes.size, 0);
    assert.ok(
      host.diagnostics.some((d) => /memory_mib` is 4096 MiB, above the host maximum of 2048 MiB/.test(d.message)),
      JSON.stringify(host.diagnostics),
    );
  });

  it('applies limits within the maxima', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo), limits: { memory_mib: 2048, tool_timeout_ms: 120_000, queued_calls: 3, tool_workers: 1 } }]);
    const host = await ws.open();
    t.after(() => host.close());
    const limits = host.runtimes.get('project:echo')!.limits;
    assert.equal(limits.memoryBytes, HOST_MAXIMA.memoryBytes);
    assert.equal(limits.toolTimeoutMs, 120_000);
    assert.equal(limits.queuedCalls, 3);
    assert.equal(limits.toolWorkers, 1);
  });
});
