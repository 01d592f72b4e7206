import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTENT_MAX_BYTES, Commands, STATE_LIMITS, definePlugin, defineTools, OUTPUT_MAX_BYTES, renderToolError, ToolError, truncateBytes, type IngressEvent } from '../src/index.js';
import { byteLength } from '../src/bounds.js';

const event: IngressEvent = {
  kind: 'websocket_text',
  source: 'websocket:wss://gw.example/ws',
  ingress_name: 'gateway',
  payload: { url: 'wss://gw.example/ws', text: 'hi' },
  created_at: '2026-11-22T04:00:00.000Z',
  attempt: 1,
  correlation_id: '0190-aaaa',
};

describe('defineTools', () => {
  const { call } = defineTools({
    echo: (input: { text: string }) => ({ summary: `echo: ${input.text}`, content: input.text }),
    plain: () => 'just a summary',
    fails: () => {
      throw new ToolError('not_found', 'no such thing');
    },
    crashes: () => {
      throw new Error('line1\nline2');
    },
    big: () => ({ summary: 'é'.repeat(2000), content: 'x'.repeat(70_000) }),
  });

  it('parses input and serialises a ToolOutput', () => {
    assert.deepEqual(JSON.parse(call('echo', '{"text":"hi"}')), { summary: 'echo: hi', content: 'hi' });
    assert.deepEqual(JSON.parse(call('plain', '{}')), { summary: 'just a summary', content: null });
  });

  it('renders errors as Yoi does and never throws', () => {
    assert.deepEqual(JSON.parse(call('fails', '{}')), { summary: 'tool error: not_found', content: 'no such thing' });
    assert.deepEqual(JSON.parse(call('crashes', '{}')), { summary: 'tool error: internal', content: 'line1 line2' });
    assert.deepEqual(JSON.parse(call('nope', '{}')), { summary: 'tool error: unknown_tool', content: 'this plugin has no tool named nope' });
    assert.deepEqual(JSON.parse(call('echo', 'not json')), { summary: 'tool error: invalid_input', content: 'tool input is not valid JSON' });
    const hostile = { toString(): string { throw new Error('gotcha'); } };
    assert.deepEqual(renderToolError(hostile), { summary: 'tool error: internal', content: null });
  });

  it('keeps summary and content within the host bounds, on character boundaries', () => {
    const out = JSON.parse(call('big', '{}')) as { summary: string; content: string };
    assert.ok(byteLength(out.summary) <= 1024);
    assert.ok(out.summary.endsWith('…'));
    assert.ok(!out.summary.includes('\uFFFD'));
    assert.ok(byteLength(out.content) <= CONTENT_MAX_BYTES);
    assert.equal(truncateBytes('abc', 10), 'abc');
    assert.equal(byteLength('a€𝄞'), 1 + 3 + 4);
  });
});

describe('tool output bounds (what the host accepts)', () => {
  const { call } = defineTools({
    huge: () => ({ summary: 'many', content: 'y'.repeat(200_000) }),
    quotes: () => ({ summary: 'escapes', content: '"\n'.repeat(40_000) }),
    // What a plain-JS author (or one who silenced the type checker) can return.
    data: () => ({ summary: 'data', content: { rows: [1, 2] } }) as unknown as string,
    numeric: () => ({ summary: 42 }) as unknown as string,
  });

  it('cuts 200,000 characters of content to Yoi\'s 60,416-byte bound, with a marker, and the whole output fits 64 KiB', () => {
    assert.equal(CONTENT_MAX_BYTES, 60_416);
    const raw = call('huge', '{}');
    assert.ok(byteLength(raw) <= OUTPUT_MAX_BYTES, String(byteLength(raw)));
    const out = JSON.parse(raw) as { content: string };
    assert.equal(byteLength(out.content), CONTENT_MAX_BYTES);
    assert.ok(out.content.endsWith('…'));
  });

  it('cuts further when JSON escapes would make the output longer than 64 KiB', () => {
    const raw = call('quotes', '{}');
    assert.ok(byteLength(raw) <= OUTPUT_MAX_BYTES, String(byteLength(raw)));
    assert.ok((JSON.parse(raw) as { content: string }).content.endsWith('…'));
  });

  it('reports content or a summary that is not a string as a tool error, never a silent null', () => {
    assert.deepEqual(JSON.parse(call('data', '{}')), { summary: 'tool error: invalid_output', content: 'the tool output content must be a string or null, not an object; use JSON.stringify(…) for data' });
    assert.deepEqual(JSON.parse(call('numeric', '{}')), { summary: 'tool error: invalid_output', content: 'the tool output summary must be a string, not a number' });
  });
});

describe('Commands', () => {
  it('fills ids, source_event_id and requested_at from the event for every kind', () => {
    const c = new Commands(event)
      .websocketSend('wss://gw.example/ws', 'pong')
      .websocketReconnect({ url: 'wss://resume.example/ws' })
      .websocketClose({ code: 4000, reason: 'bye' })
      .hostRequest({ method: 'POST', url: 'https://api.example/v1', body: '{}' }, 'replies')
      .setTimer('beat', { delayMs: 0, intervalMs: 1000, data: { n: 1 } })
      .cancelTimer('beat')
      .statusUpdate('ok', { ready: true })
      .appendDomainEvent('order.created', { id: 1 });
    const out = c.output();
    assert.equal(out.accepted, true);
    assert.deepEqual(
      out.output_commands!.map((x) => x.kind),
      ['websocket_send', 'websocket_reconnect', 'websocket_close', 'host_request_dispatch', 'timer_set', 'timer_cancel', 'diagnostic_status_update', 'domain_event_append'],
    );
    for (const [i, command] of out.output_commands!.entries()) {
      assert.equal(command.source_event_id, event.correlation_id);
      assert.equal(command.correlation_id, event.correlation_id);
      assert.equal(command.requested_at, event.created_at);
      assert.equal(command.command_id, `${event.correlation_id}:${i}`);
    }
    assert.deepEqual(out.output_commands![3]!.payload, { method: 'POST', url: 'https://api.example/v1', body: '{}', reply_ingress: 'replies' });
    assert.deepEqual(out.output_commands![4]!.payload, { timer_id: 'beat', delay_ms: 0, interval_ms: 1000, data: { n: 1 } });
  });

  it('builds state_set and state_delete, committed with the event like every other command, and refuses a null value', () => {
    const out = new Commands(event).stateSet('session', { id: 'abc', seq: 42 }).stateDelete('old').output();
    assert.deepEqual(
      out.output_commands!.map((x) => [x.kind, x.payload, x.source_event_id, x.command_id]),
      [
        ['state_set', { key: 'session', value: { id: 'abc', seq: 42 } }, event.correlation_id, `${event.correlation_id}:0`],
        ['state_delete', { key: 'old' }, event.correlation_id, `${event.correlation_id}:1`],
      ],
    );
    assert.throws(() => new Commands(event).stateSet('k', null as never), /use stateDelete/);
  });

  it('names the last command added, so a host_response can be matched to its request', () => {
    const c = new Commands(event);
    assert.equal(c.lastCommandId, null);
    c.statusUpdate('a').hostRequest({ method: 'GET', url: 'https://api.example/v1' });
    assert.equal(c.lastCommandId, `${event.correlation_id}:1`);
    assert.equal(c.lastCommandId, c.output().output_commands!.at(-1)!.command_id);
  });
});

describe('durable state bounds', () => {
  it('match what the host enforces (64 keys, 48 KiB, 128-byte keys, 16 KiB per command payload)', () => {
    assert.deepEqual(STATE_LIMITS, { keyBytes: 128, keys: 64, bytes: 48 * 1024, payloadBytes: 16 * 1024 });
  });
});

describe('definePlugin', () => {
  const plugin = definePlugin<{ seen: number; prefix: string }>({
    start: (config) => ({ seen: 0, prefix: (config as { prefix?: string } | null)?.prefix ?? '>' }),
    ingress: {
      gateway: (e, commands, state) => {
        state.seen++;
        if (e.kind === 'explode') throw new Error('handler broke');
        commands.websocketSend((e.payload as { url: string }).url, `${state.prefix} ${(e.payload as { text: string }).text}`);
      },
      retrying: () => ({ retry: { after_ms: 100 } }),
    },
    tools: { seen: (_input, state) => ({ summary: String(state.seen) }) },
    status: (state) => ({ state: 'running', seen: state.seen }),
  });

  it('refuses events before start, then shares state between ingress and tools', () => {
    assert.deepEqual(JSON.parse(plugin.handleIngress('gateway', JSON.stringify(event))), { error: { code: 'handler_failed', message: 'plugin was not started' } });
    assert.deepEqual(JSON.parse(plugin.start('{"prefix":"echo:"}')), { state: 'running', seen: 0 });
    const reply = JSON.parse(plugin.handleIngress('gateway', JSON.stringify(event)));
    assert.deepEqual(reply.output_commands[0].payload, { url: 'wss://gw.example/ws', text: 'echo: hi' });
    assert.deepEqual(JSON.parse(plugin.handleTool('seen', '{}')), { summary: '1', content: null });
    assert.deepEqual(JSON.parse(plugin.status()), { state: 'running', seen: 1 });
  });

  it('turns a throwing handler into an error reply (the host retries it) and passes retry requests through', () => {
    plugin.start('null');
    assert.deepEqual(JSON.parse(plugin.handleIngress('gateway', JSON.stringify({ ...event, kind: 'explode' }))).error.code, 'handler_failed');
    assert.deepEqual(JSON.parse(plugin.handleIngress('retrying', JSON.stringify(event))), { retry: { after_ms: 100 }, output_commands: [] });
    assert.equal(JSON.parse(plugin.handleIngress('unknown', JSON.stringify(event))).error.code, 'handler_failed');
    assert.deepEqual(JSON.parse(plugin.stop()), { state: 'stopped' });
  });

  it('returns the commands start adds with its status (output_commands), ids from a fresh start id each time', () => {
    const ticking = definePlugin<{ n: number }>({
      start: (_config, commands) => {
        commands.setTimer('beat', { delayMs: 0, intervalMs: 30_000 });
        return { n: 0 };
      },
    });
    const first = JSON.parse(ticking.start('null'));
    assert.equal(first.state, 'running');
    assert.equal(first.output_commands.length, 1);
    const [command] = first.output_commands;
    assert.equal(command.kind, 'timer_set');
    assert.deepEqual(command.payload, { timer_id: 'beat', delay_ms: 0, interval_ms: 30_000 });
    assert.match(command.source_event_id, /^start:/);
    assert.equal(command.command_id, `${command.source_event_id}:0`);
    assert.notEqual(JSON.parse(ticking.start('null')).output_commands[0].source_event_id, command.source_event_id);
    assert.equal('output_commands' in JSON.parse(plugin.start('null')), false, 'a start without commands returns the status alone (as in Yoi)');
  });

  it('offers no receive or polling API', async () => {
    const pdk = await import('../src/index.js');
    for (const name of Object.keys(pdk)) assert.doesNotMatch(name, /recv|poll|receive|loop|sleep|wait/i);
  });
});
