import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnablementConfig, type EnablementEntry } from '../../src/store/enablement.js';
import { updateEnablement } from '../../src/store/enablement-update.js';

const OLD = 'sha256:' + 'a'.repeat(64);
const NEW = 'sha256:' + 'b'.repeat(64);

const FILE = `# operator notes at the top
[[plugins.enabled]]
id = "project:other"
version = "1"

# the weather plugin, enabled by Ada on Monday
[[plugins.enabled]]
id = "project:weather"   # the id
version = "0.1.0"
digest = "${OLD}"   # pinned after review
config = { units = "metric" }   # keep metric

[plugins.enabled.limits]
# calls are slow on this network
tool_timeout_ms = 30000   # 30 s

[plugins.enabled.grants]
id = "project:weather"
version = "0.1.0"
digest = "${OLD}"
permissions = [
  # the tool
  { kind = "surface", surface = "tool" },
  { kind = "tool", name = "forecast" },   # forecasts only
  { kind = "host_api", api = "request" },
]

# the public API
[[plugins.enabled.grants.request]]
scheme = "https"
host = "api.weather.example"
methods = ["GET"]
path_prefixes = ["/v1"]
headers = [{ name = "authorization", secret = "weather_token" }]   # token from secrets.toml

# the old mirror, going away
[[plugins.enabled.grants.request]]
scheme = "https"
host = "mirror.weather.example"
methods = ["GET"]
path_prefixes = ["/"]

# the last entry
[[plugins.enabled]]
id = "project:last"
`;

function entries(text: string): EnablementEntry[] {
  const parsed = parseEnablementConfig(text);
  assert.ok(parsed.ok, !parsed.ok ? parsed.diagnostic.message : '');
  return JSON.parse(JSON.stringify(parsed.value.enabled)) as EnablementEntry[];
}

function upgraded(before: EnablementEntry): EnablementEntry {
  return {
    ...before,
    version: '0.2.0',
    digest: NEW,
    limits: { ...before.limits, memory_mib: 512 },
    grants: {
      ...before.grants,
      version: '0.2.0',
      digest: NEW,
      permissions: [...before.grants.permissions, { kind: 'tool', name: 'alerts' }],
      request: [before.grants.request[0]!],
      websocket: [{ scheme: 'wss', host: 'stream.weather.example', path_prefixes: ['/live'] }],
    },
  };
}

describe('updateEnablement (an upgrade in place)', () => {
  it('rewrites only what changed: the pins, a new permission, a removed and a new target, a new limit; every comment stays', () => {
    const before = entries(FILE).find((e) => e.id === 'project:weather')!;
    const after = upgraded(before);
    const result = updateEnablement(FILE, before, after);
    assert.ok(result.ok, !result.ok ? result.message : '');
    assert.equal(result.comments_kept, true);
    const text = result.text;
    for (const comment of [
      '# operator notes at the top',
      '# the weather plugin, enabled by Ada on Monday',
      'id = "project:weather"   # the id',
      `digest = "${NEW}"   # pinned after review`,
      'config = { units = "metric" }   # keep metric',
      '# calls are slow on this network',
      'tool_timeout_ms = 30000   # 30 s',
      '  # the tool',
      '  { kind = "tool", name = "forecast" },   # forecasts only',
      '# the public API',
      'headers = [{ name = "authorization", secret = "weather_token" }]   # token from secrets.toml',
      '# the last entry',
    ]) {
      assert.ok(text.includes(comment), `kept ${JSON.stringify(comment)} in\n${text}`);
    }
    assert.ok(!text.includes(OLD), 'both pins moved');
    assert.ok(!text.includes('mirror.weather.example') && !text.includes('# the old mirror'), 'the removed target and its comment are gone');
    assert.match(text, /tool_timeout_ms = 30000 {3}# 30 s\nmemory_mib = 512\n/);
    assert.match(text, /\{ kind = "host_api", api = "request" \},\n {2}\{ kind = "tool", name = "alerts" \},\n\]/);
    const parsed = entries(text);
    assert.deepEqual(parsed.map((e) => e.id), ['project:other', 'project:weather', 'project:last'], 'the entry keeps its place');
    assert.deepEqual(parsed[1], JSON.parse(JSON.stringify(after)));
    // The new target sits with the other grants, before the next entry's comment.
    assert.ok(text.indexOf('stream.weather.example') < text.indexOf('# the last entry'));
  });

  it('adds a limits table to an entry that had none, right after the entry’s own keys', () => {
    const plain = `[[plugins.enabled]]
id = "project:echo"
version = "1"
digest = "${OLD}"
# no limits yet

[plugins.enabled.grants]
id = "project:echo"
version = "1"
digest = "${OLD}"
permissions = [{ kind = "surface", surface = "tool" }]
`;
    const before = entries(plain)[0]!;
    const after: EnablementEntry = { ...before, digest: NEW, limits: { tool_timeout_ms: 20000 }, grants: { ...before.grants, digest: NEW } };
    const result = updateEnablement(plain, before, after);
    assert.ok(result.ok && result.comments_kept, result.ok ? result.text : result.message);
    assert.ok(result.text.includes('# no limits yet'));
    assert.deepEqual(entries(result.text)[0], JSON.parse(JSON.stringify(after)));
    // A single-line permissions array is rewritten whole, and still reads back the same.
    const widened: EnablementEntry = { ...after, grants: { ...after.grants, permissions: [...after.grants.permissions, { kind: 'tool', name: 'echo' }] } };
    const again = updateEnablement(result.text, after, widened);
    assert.ok(again.ok);
    assert.deepEqual(entries(again.text)[0], JSON.parse(JSON.stringify(widened)));
  });

  it('rewrites the whole entry when its grants are written in a shape it does not edit line by line', () => {
    const inline = `[[plugins.enabled]]
id = "project:echo"   # a comment that cannot be kept
version = "1"
digest = "${OLD}"
grants = { id = "project:echo", version = "1", digest = "${OLD}", permissions = [{ kind = "surface", surface = "tool" }] }
`;
    const before = entries(inline)[0]!;
    const after: EnablementEntry = { ...before, digest: NEW, grants: { ...before.grants, digest: NEW } };
    const result = updateEnablement(inline, before, after);
    assert.ok(result.ok);
    assert.equal(result.comments_kept, false);
    assert.deepEqual(entries(result.text)[0], JSON.parse(JSON.stringify(after)));
  });
});
