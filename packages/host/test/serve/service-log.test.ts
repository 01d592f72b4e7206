import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLogger, logFormat } from '@yoi-plugins/cli/internal/cli/log-format.js';
import { LogRateLimiter } from '../../src/serve/rate-limit.js';
import { serviceEventLogger } from '../../src/serve/service-log.js';
import { SERVICE_EVENT_KINDS, type ServiceEvent } from '../../src/service/service-events.js';
import { Gate } from '../fixtures/gate.js';
import { openService } from '../service/harness.js';
import { until } from '../helpers.js';

function collect(format: 'json' | 'text') {
  const lines: string[] = [];
  return { lines, logger: serviceEventLogger(formatLogger(format, (line) => lines.push(line))) };
}

describe('serve logs service events', () => {
  for (const format of ['json', 'text'] as const) {
    it(`writes one ${format} line for every kind of service event`, () => {
      const { lines, logger } = collect(format);
      for (const kind of SERVICE_EVENT_KINDS) logger({ plugin: 'project:p', kind, level: 'info', message: `a ${kind} event`, fields: { detail: 'with spaces', n: 1 } });
      assert.equal(lines.length, SERVICE_EVENT_KINDS.length);
      for (const [i, kind] of SERVICE_EVENT_KINDS.entries()) {
        const line = lines[i]!;
        assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'a single line');
        if (format === 'json') assert.equal((JSON.parse(line) as { event: string }).event, kind);
        else assert.match(line, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  a ${kind} event plugin=project:p event=${kind} detail="with spaces" n=1\\n$`));
      }
    });
  }

  it('reports lines held back by the rate limit even when no later line of that kind comes', () => {
    const lines: string[] = [];
    const logger = serviceEventLogger(formatLogger('json', (line) => lines.push(line)), new LogRateLimiter(2, 60_000));
    const retry: ServiceEvent = { plugin: 'project:p', kind: 'retry', level: 'warn', message: 'ingress event will be redelivered' };
    for (let i = 0; i < 5; i++) logger(retry);
    assert.equal(lines.length, 2);
    logger.flush();
    assert.deepEqual(JSON.parse(lines[2]!), { ...JSON.parse(lines[2]!), msg: 'log lines held back by the rate limit', plugin: 'project:p', event: 'retry', count: 3 });
    logger.flush();
    assert.equal(lines.length, 3, 'reported once');
  });

  it('escapes what a plugin controls in the text form', () => {
    const { lines, logger } = collect('text');
    logger({ plugin: 'project:p', kind: 'rejected', level: 'warn', message: 'ingress event rejected', fields: { error: 'evil\u001b[2J\u202etext' } });
    assert.equal(lines[0]!.includes('\u001b') || lines[0]!.includes('\u202e'), false);
  });

  it('chooses text on a terminal, JSON otherwise, and refuses other formats', () => {
    assert.equal(logFormat(undefined, true), 'text');
    assert.equal(logFormat(undefined, false), 'json');
    assert.equal(logFormat('json', true), 'json');
    assert.throws(() => logFormat('yaml', false), /--log-format/);
  });

  it('a running service produces lines for its lifecycle, retries, dead letters, drops, rejections, connections and the circuit', async (t) => {
    const gate = await Gate.open(t);
    const lines: string[] = [];
    const logger = serviceEventLogger(formatLogger('json', (line) => lines.push(line)));
    const { service, events } = await openService(t, { config: { gate: gate.url }, policy: { queueCapacity: 1, dropPolicy: { events: 'drop_newest' }, maxRestarts: 1 } });
    const logged = () => lines.map((line) => JSON.parse(line) as { event: string; to?: string });
    const seen = (kind: string) => logged().some((line) => line.event === kind);
    // The harness records events; forward each to the logger as serve does.
    let forwarded = 0;
    const forward = () => {
      for (; forwarded < events.length; forwarded++) logger(events[forwarded]!);
    };
    await service.start();
    await service.emit('events', 'job', 'test', { fail_until: 2 });
    await service.emit('events', 'job', 'test', { always_fail: true });
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'teleport', payload: {} }] });
    await service.emit('nowhere', 'job', 'test', {});
    await service.idle();
    // A parked handler fills the queue (capacity 1): the next offer is dropped by policy.
    await service.emit('events', 'job', 'test', { gate: 'hold' });
    await gate.arrived('hold');
    await service.offer('events', { kind: 'job', source: 'test', ingress_name: 'events', payload: {}, created_at: new Date().toISOString(), attempt: 1, correlation_id: '0190b3b4-0000-7000-8000-000000000001' });
    await service.offer('events', { kind: 'job', source: 'test', ingress_name: 'events', payload: {}, created_at: new Date().toISOString(), attempt: 1, correlation_id: '0190b3b4-0000-7000-8000-000000000002' });
    gate.release('hold', 'ok');
    await service.idle();
    service.diagnose('ServiceWebSocketConnected', 'host-owned WebSocket connected: wss://example.test/');
    // Two traps within the window open the circuit (maxRestarts 1).
    await service.emit('events', 'job', 'test', { trap: true });
    await until(() => service.state === 'Disabled', 'the circuit to open');
    forward();
    for (const kind of ['lifecycle', 'retry', 'dead_letter', 'command_rejected', 'rejected', 'dropped', 'websocket', 'circuit'] as const) assert.ok(seen(kind), `a ${kind} line`);
    assert.ok(logged().some((line) => line.event === 'lifecycle' && line.to === 'Restarting'), 'the restart');
  });
});
