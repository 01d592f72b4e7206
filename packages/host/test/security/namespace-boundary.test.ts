/**
 * B13: `tool_namespace` matched tool names as a plain string prefix, so namespace `git`
 * authorised `github_admin`. A namespace now covers its own name and names that continue it
 * after a separator (`_`, `-`, `.`, `/`), through real manifests and the real authority check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorizeTool, type AuthoritySubject } from '../../src/authority/authorize.js';
import { coversTool, TOOL_NAMESPACE_SEPARATORS } from '../../src/authority/permissions.js';
import { parseManifest } from '../../src/manifest/parse.js';
import type { Manifest, Permission } from '../../src/manifest/types.js';
import { echoManifest } from '../helpers.js';

const DIGEST = 'sha256:' + 'b'.repeat(64);
const TOOL_NAMES = ['git', 'git_status', 'git.log', 'git-diff', 'git/blame', 'github_admin', 'gitx', 'gi', 'git2'];

function manifestWithTools(names: readonly string[]): Manifest {
  const tools = names
    .map((name) => `[[tools]]\nname = "${name}"\ndescription = "t"\ninput_schema = { type = "object" }\n`)
    .join('\n');
  const parsed = parseManifest(
    new TextEncoder().encode(
      echoManifest({ permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool_namespace", namespace = "git" },', tools }),
    ),
  );
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.diagnostic));
  return parsed.value;
}

function subject(manifest: Manifest, permissions: readonly Permission[]): AuthoritySubject {
  return {
    identity: 'project:echo',
    version: '0.1.0',
    digest: DIGEST,
    manifest,
    grants: { id: 'project:echo', version: '0.1.0', digest: DIGEST, permissions: [...permissions], request: [], websocket: [], fs: [] },
  };
}

describe('tool_namespace on segment boundaries (B13)', () => {
  it('namespace `git` never authorises `github_admin` (the break from the attack run)', () => {
    const manifest = manifestWithTools(['git_status', 'github_admin']);
    const s = subject(manifest, manifest.permissions);
    assert.equal(authorizeTool(s, 'git_status'), null);
    assert.equal(authorizeTool(s, 'github_admin'), 'requested tool permission for `github_admin` is missing');
  });

  it('covers the namespace itself and names continuing after each documented separator', () => {
    const manifest = manifestWithTools(TOOL_NAMES);
    const s = subject(manifest, manifest.permissions);
    const allowed = TOOL_NAMES.filter((name) => authorizeTool(s, name) === null);
    assert.deepEqual(allowed, ['git', 'git_status', 'git.log', 'git-diff', 'git/blame']);
    assert.deepEqual([...TOOL_NAMESPACE_SEPARATORS], ['_', '-', '.', '/']);
  });

  it('a namespace ending in a separator covers everything below it, and nothing else', () => {
    const list: Permission[] = [{ kind: 'tool_namespace', namespace: 'git_' }];
    assert.equal(coversTool(list, 'git_status'), true);
    assert.equal(coversTool(list, 'git_'), true);
    assert.equal(coversTool(list, 'git'), false);
    assert.equal(coversTool(list, 'git.log'), false);
  });

  it('an empty namespace covers nothing; grant and manifest are checked independently', () => {
    assert.equal(coversTool([{ kind: 'tool_namespace', namespace: '' }], 'git'), false);
    const manifest = manifestWithTools(['git_status']);
    const narrower = subject(manifest, [{ kind: 'surface', surface: 'tool' }, { kind: 'tool_namespace', namespace: 'git_sta' }]);
    assert.equal(authorizeTool(narrower, 'git_status'), 'granted tool permission for `git_status` is missing');
  });
});
