import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnablementConfig, type EnablementEntry } from '../../src/store/enablement.js';
import { removeEnablement, upsertEnablement } from '../../src/store/enablement-edit.js';

const DIGEST = 'sha256:' + 'd'.repeat(64);

const entry = (id: string, extra: Partial<EnablementEntry> = {}): EnablementEntry => ({
  id,
  version: '1.0.0',
  digest: DIGEST,
  surfaces: [],
  grants: {
    id,
    version: '1.0.0',
    digest: DIGEST,
    permissions: [{ kind: 'surface', surface: 'tool' }],
    request: [{ scheme: 'https', host: 'api.example.com', port: 8443, methods: ['GET'], path_prefixes: ['/v1'] }],
    websocket: [],
    fs: [{ root: '/srv/a "quoted" dir', operations: ['read'] }],
  },
  ...extra,
});

const OPERATOR_FILE = `# operator notes: keep me
[[plugins.enabled]]   # trailing comment on the header
id = "project:keep"   # why this one is enabled

[plugins.enabled.grants]
id = "project:keep"
version = "1"
digest = "${DIGEST}"
permissions = [
  # inline comment in an array
  { kind = "surface", surface = "tool" },
]

# the next entry is about to be replaced
[[plugins.enabled]]
id = "project:target"
notes_are_not_allowed_here = false
`.replace('notes_are_not_allowed_here = false\n', 'version = "0.9.0"\n');

describe('upsertEnablement', () => {
  it('appends to an empty file and round-trips every field', () => {
    const e = entry('project:new', { surfaces: ['tool'], config: { level: 'concise', nested: { list: [1, 'two', true] } } });
    const result = upsertEnablement('', e);
    assert.ok(result.ok, !result.ok ? result.message : '');
    const parsed = parseEnablementConfig(result.text);
    assert.ok(parsed.ok);
    assert.deepEqual(JSON.parse(JSON.stringify(parsed.value.enabled)), JSON.parse(JSON.stringify([e])));
  });

  it('replaces an existing entry and keeps every comment and the other entry verbatim', () => {
    const result = upsertEnablement(OPERATOR_FILE, entry('project:target'));
    assert.ok(result.ok);
    assert.equal(result.replaced, true);
    const keptPart = OPERATOR_FILE.slice(0, OPERATOR_FILE.indexOf('# the next entry'));
    assert.ok(result.text.startsWith(keptPart), result.text);
    assert.ok(!result.text.includes('the next entry is about to be replaced'));
    const parsed = parseEnablementConfig(result.text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.enabled.map((e) => [e.id, e.version]), [['project:keep', undefined], ['project:target', '1.0.0']]);
  });

  it('refuses to edit a file that is not TOML', () => {
    const result = upsertEnablement('[[plugins.enabled]\nid = "project:x"\n', entry('project:x'));
    assert.equal(result.ok, false);
  });

  it('refuses config values TOML cannot hold', () => {
    const result = upsertEnablement('', entry('project:x', { config: { a: null } }));
    assert.equal(result.ok, false);
  });
});

describe('removeEnablement', () => {
  it('removes only the matching entry with its sub-tables and attached comments', () => {
    const result = removeEnablement(OPERATOR_FILE, 'project:keep');
    assert.ok(result.ok);
    assert.equal(result.removed, true);
    assert.ok(!result.text.includes('project:keep'));
    assert.ok(!result.text.includes('inline comment in an array'));
    assert.ok(result.text.includes('# the next entry is about to be replaced\n[[plugins.enabled]]\nid = "project:target"'));
    const parsed = parseEnablementConfig(result.text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.enabled.map((e) => e.id), ['project:target']);
  });

  it('leaves the text alone when the id is not enabled', () => {
    const result = removeEnablement(OPERATOR_FILE, 'project:absent');
    assert.deepEqual(result, { ok: true, text: OPERATOR_FILE, replaced: false, removed: false });
  });

  it('does not mistake a header inside a multi-line string for a table', () => {
    const text = `[[plugins.enabled]]\nid = "project:a"\nconfig = { note = """\n[[plugins.enabled]]\n""" }\n`.replace('{ note = """\n[[plugins.enabled]]\n""" }', '"""\n[[plugins.enabled]]\n"""');
    const result = removeEnablement(text, 'project:a');
    assert.ok(result.ok);
    const parsed = parseEnablementConfig(result.text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.enabled, []);
  });
});

describe('editing next to an entry that cannot be read', () => {
  const UNREADABLE = '[[plugins.enabled]]\nid = "project:broken"\npriority = 1\n';

  it('adds and removes other entries and leaves the unreadable one as written', () => {
    const added = upsertEnablement(UNREADABLE, entry('project:new'));
    assert.ok(added.ok, !added.ok ? added.message : '');
    assert.ok(added.text.startsWith(UNREADABLE));
    const parsed = parseEnablementConfig(added.text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.enabled.map((e) => e.id), ['project:new']);
    assert.deepEqual(parsed.value.rejected!.map((r) => r.id), ['project:broken']);
    const removed = removeEnablement(added.text, 'project:new');
    assert.ok(removed.ok && removed.removed);
    assert.equal(removed.text.trim(), UNREADABLE.trim());
  });

  it('replaces the unreadable entry when its id is enabled again', () => {
    const replaced = upsertEnablement(UNREADABLE, entry('project:broken'));
    assert.ok(replaced.ok && replaced.replaced, !replaced.ok ? replaced.message : '');
    const parsed = parseEnablementConfig(replaced.text);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.rejected, undefined);
    assert.deepEqual(parsed.value.enabled.map((e) => e.id), ['project:broken']);
  });
});
