/**
 * Shared helpers for the host API tests: authority subjects built from real manifests
 * (parsed with `parseManifest`) and assertions on the `{"error":{"code","message"}}` reply.
 */
import assert from 'node:assert/strict';
import type { AuthoritySubject } from '../../src/authority/authorize.js';
import { HOST_MESSAGE_BOUND } from '../../src/hostapi/reply.js';
import { parseManifest } from '../../src/manifest/parse.js';
import type { HostApi, Manifest } from '../../src/manifest/types.js';
import type { Grants } from '../../src/store/enablement.js';
import { echoManifest } from '../helpers.js';

export const IDENTITY = 'project:echo';
export const VERSION = '0.1.0';
export const DIGEST = 'sha256:' + 'a'.repeat(64);

/** A tool-world manifest requesting the given host APIs, plus extra TOML (targets). */
export function hostApiManifest(apis: readonly HostApi[], extra = ''): Manifest {
  const permissions = [
    '{ kind = "surface", surface = "tool" }',
    '{ kind = "tool", name = "echo" }',
    ...apis.map((api) => `{ kind = "host_api", api = "${api}" }`),
  ].join(', ');
  const parsed = parseManifest(new TextEncoder().encode(echoManifest({ permissions: `${permissions},`, extra })));
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.diagnostic));
  return parsed.value;
}

/**
 * A subject bound to IDENTITY/VERSION/DIGEST. `grants: 'all'` grants every requested permission
 * and every declared target (fs grants are given explicitly).
 */
export function subjectOf(manifest: Manifest, grants: 'all' | Partial<Grants>, fs: Grants['fs'] = []): AuthoritySubject {
  const granted: Partial<Grants> =
    grants === 'all' ? { permissions: manifest.permissions, request: manifest.request, websocket: manifest.websocket, fs } : { fs, ...grants };
  return {
    identity: IDENTITY,
    version: VERSION,
    digest: DIGEST,
    manifest,
    grants: { id: IDENTITY, version: VERSION, digest: DIGEST, permissions: [], request: [], websocket: [], fs: [], ...granted },
  };
}

export interface ErrorReply {
  readonly error: { readonly code: string; readonly message: string };
}

/**
 * Asserts `reply` is exactly `{"error":{"code","message"}}` with `code`, a message of at most
 * HOST_MESSAGE_BOUND characters (plus the `…` that marks a cut, as in Yoi's bounded_message)
 * without control characters, and none of `secrets` anywhere in the reply. Returns the message.
 */
export function expectError(reply: string, code: string, options: { secrets?: readonly string[]; message?: RegExp; label?: string } = {}): string {
  const where = options.label ? ` (${options.label})` : '';
  let parsed: ErrorReply;
  try {
    parsed = JSON.parse(reply) as ErrorReply;
  } catch {
    assert.fail(`reply is not JSON${where}: ${reply}`);
  }
  assert.deepEqual(Object.keys(parsed), ['error'], `reply is not an error${where}: ${reply}`);
  assert.deepEqual(Object.keys(parsed.error).sort(), ['code', 'message'], `error shape${where}: ${reply}`);
  assert.equal(parsed.error.code, code, `error code${where}: ${reply}`);
  const { message } = parsed.error;
  assert.equal(typeof message, 'string');
  assert.ok(message.length > 0, `empty message${where}`);
  const bounded = message.length <= HOST_MESSAGE_BOUND || (message.length === HOST_MESSAGE_BOUND + 1 && message.endsWith('…'));
  assert.ok(bounded, `message longer than ${HOST_MESSAGE_BOUND} characters${where}: ${message.length}`);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(message, /[\u0000-\u001f\u007f]/, `message has control characters${where}`);
  for (const secret of options.secrets ?? []) {
    assert.ok(!reply.includes(secret), `reply leaks \`${secret}\`${where}: ${reply}`);
  }
  if (options.message) assert.match(message, options.message, `message${where}`);
  return message;
}

/** Parses a successful reply, failing with the reply text when it is an error. */
export function expectOk<T = Record<string, unknown>>(reply: string, label = ''): T {
  const parsed = JSON.parse(reply) as T & Partial<ErrorReply>;
  assert.ok(parsed !== null && typeof parsed === 'object' && !('error' in parsed), `expected success${label ? ` (${label})` : ''}: ${reply}`);
  return parsed;
}

