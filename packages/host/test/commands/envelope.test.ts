import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateOutputCommands, type CommandResult } from '../../src/commands/envelope.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { newIngressEvent } from '../../src/service/ingress-event.js';
import type { ResolvedPlugin } from '../../src/store/resolve.js';
import { manifestToml } from '../fixtures/manifest.js';

const MANIFEST = manifestToml({
  id: 'svc',
  services: ['svc'],
  ingresses: [{ name: 'events' }],
  hostApis: ['websocket'],
  websocket: [{ scheme: 'wss', host: 'example.com', path_prefixes: ['/socket'] }],
});

function plugin(grantWebsocket: boolean): ResolvedPlugin {
  const parsed = parseManifest(new TextEncoder().encode(MANIFEST));
  assert.ok(parsed.ok);
  const manifest = parsed.value;
  const digest = 'sha256:' + '0'.repeat(64);
  return {
    identity: 'project:svc',
    source: 'project',
    packagePath: '/nonexistent/svc.yoi-plugin',
    packageLabel: 'svc.yoi-plugin',
    digest,
    version: '0.1.0',
    manifest,
    enabledSurfaces: ['service', 'ingress', 'wasm'],
    grants: {
      id: 'project:svc',
      version: '0.1.0',
      digest,
      permissions: grantWebsocket ? manifest.permissions : manifest.permissions.filter((p) => p.kind !== 'host_api'),
      request: [],
      websocket: grantWebsocket ? manifest.websocket : [],
      fs: [],
    },
  };
}

const event = newIngressEvent('events', 'websocket_text', 'websocket:wss://example.com/socket', { text: 'hi' });
const envelope = (kind: string, payload: unknown, extra: Record<string, unknown> = {}) => ({
  correlation_id: `${event.correlation_id}:c`,
  source_event_id: event.correlation_id,
  command_id: 'cmd-1',
  kind,
  payload,
  requested_at: event.created_at,
  ...extra,
});

function rejected(commands: unknown[], grant = true): CommandResult[] {
  const outcome = validateOutputCommands({ output_commands: commands }, event, plugin(grant));
  assert.equal(outcome.ok, false);
  return outcome.ok ? [] : [...outcome.results];
}

describe('output command results in Yoi\'s shape', () => {
  it('carry every id field, null when the command had no valid one', () => {
    const [result] = rejected([42]);
    assert.deepEqual(Object.keys(result!).sort(), ['command_id', 'correlation_id', 'kind', 'message', 'recorded_at', 'source_event_id', 'status']);
    assert.deepEqual([result!.correlation_id, result!.source_event_id, result!.command_id, result!.kind], [null, null, null, null]);
    assert.equal(JSON.parse(JSON.stringify(result)).command_id, null, 'null survives JSON, as in Yoi');
    const [withIds] = rejected([envelope('websocket_send', { url: 'wss://example.com/socket', text: 'x' })], false);
    assert.equal(withIds!.command_id, 'cmd-1');
    assert.equal(withIds!.kind, 'websocket_send');
    assert.equal(withIds!.source_event_id, event.correlation_id);
  });

  it('use Yoi\'s wording without a prefix of ours', () => {
    const cases: [unknown, RegExp][] = [
      ['not an object', /^malformed service output command envelope: /],
      [envelope('diagnostic_status_update', {}, { extra: 1 }), /^malformed service output command envelope: the envelope has unknown field `extra`$/],
      [envelope('teleport', {}), /^malformed service output command envelope: unsupported output command kind$/],
      [envelope('diagnostic_status_update', {}, { command_id: '' }), /^command_id is empty, too long, or contains control characters$/],
      [envelope('websocket_send', { url: 'wss://example.com/socket', text: 'x' }), /^websocket_send not granted: /],
    ];
    for (const [command, message] of cases) {
      const [result] = rejected([command], !String(message).includes('not granted'));
      assert.match(result!.message, message);
      assert.ok(!result!.message.startsWith('malformed or unauthorised output command'), result!.message);
    }
  });
});
