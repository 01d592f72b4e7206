/**
 * serve writes each plugin's guest output to `.yoi/logs/<plugin>.jsonl` (bounded by rotation,
 * every loss counted); `yoi plugin logs` without a running serve shows those lines and says
 * where they come from.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pluginRuntimeOf } from '../../src/host.js';
import { startServe } from '../../src/serve/server.js';
import { GuestLogFiles, logFilePaths } from '../../src/serve/log-file.js';
import { buildJsComponent } from '../fixtures/js.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { cli } from '../helpers.js';

interface LogsJson {
  via: string;
  live: boolean;
  source: string;
  files: string[];
  lines: { seq: number; stream: string; text: string }[];
  missed: number;
}

describe('guest log files', () => {
  it('serve writes the guest log to .yoi/logs; `logs` without serve reads it back and says so; --follow needs serve', { timeout: 240_000 }, async (t) => {
    const manifest = serviceManifest('svc');
    const ws = pluginWorkspace(t, [{ manifest, component: await buildJsComponent(SERVICE_SOURCE, manifest) }]);
    const env = { HOME: ws.root, YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const running = await startServe({ stores: { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } }, cacheDir: TEST_TRANSPILE_CACHE, log: () => undefined, reload: { watch: false } });
    let stopped = false;
    t.after(() => (stopped ? undefined : running.stop()));
    // The sandbox's guest output sink appends here (hub.test.ts drives the same ring).
    pluginRuntimeOf(running.host, 'project:svc')!.log.append('stdout', 'first\nsecond');
    pluginRuntimeOf(running.host, 'project:svc')!.log.append('stderr', 'third');
    await running.stop();
    stopped = true;

    const { current } = logFilePaths(ws.workspace, 'project:svc');
    assert.equal(current, join(ws.workspace, '.yoi', 'logs', 'project_svc.jsonl'));
    const json = await cli(['plugin', 'logs', 'project:svc', '--workspace', ws.workspace, '--json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const page = json.json<LogsJson>();
    assert.deepEqual([page.via, page.live, page.source, page.files, page.missed], ['in-process', false, 'file', [current], 0]);
    assert.deepEqual(
      page.lines.map((l) => [l.seq, l.stream, l.text]),
      [
        [1, 'stdout', 'first'],
        [2, 'stdout', 'second'],
        [3, 'stderr', 'third'],
      ],
    );
    const human = await cli(['plugin', 'logs', 'project:svc', '--workspace', ws.workspace], { env });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stderr, /no serve is running for this workspace: these are the lines the last serve wrote to .*project_svc\.jsonl/);
    assert.match(human.stdout, /stderr third\n$/);
    const follow = await cli(['plugin', 'logs', 'project:svc', '--workspace', ws.workspace, '--follow'], { env });
    assert.equal(follow.code, 1);
    assert.match(follow.stderr, /start `yoi plugin serve` to follow the log/);
  });

  it('rotates at its bound (the older part replaced, counted) and records lines the ring dropped before a write', { timeout: 240_000 }, async (t) => {
    const manifest = serviceManifest('svc');
    const ws = pluginWorkspace(t, [{ manifest, component: await buildJsComponent(SERVICE_SOURCE, manifest) }]);
    const host = await ws.open();
    t.after(() => host.close());
    const logged: string[] = [];
    const files = new GuestLogFiles(host, ws.workspace, (_level, msg) => logged.push(msg), { maxBytes: 2_000 });
    const ring = pluginRuntimeOf(host, 'project:svc')!.log;
    const { current, rotated } = logFilePaths(ws.workspace, 'project:svc');

    ring.append('stdout', Array.from({ length: 10 }, (_, i) => `a${i} ${'x'.repeat(100)}`).join('\n'));
    await files.flush();
    assert.equal(existsSync(rotated), false);
    ring.append('stdout', Array.from({ length: 10 }, (_, i) => `b${i} ${'x'.repeat(100)}`).join('\n'));
    await files.flush();
    assert.equal(existsSync(rotated), true, 'the first part was rotated away when the second would pass the bound');
    assert.match(readFileSync(current, 'utf8'), /"text":"b0 /);
    assert.equal(files.status().rotations_total, 1);
    assert.ok(logged.includes('guest log file rotated (the older rotated part is replaced)'));

    // More than the ring keeps (200 lines) between two writes: the gap is recorded and counted.
    ring.append('stdout', Array.from({ length: 250 }, (_, i) => `c${i}`).join('\n'));
    await files.flush();
    assert.equal(files.status().missed_total, 50);
    assert.ok(logged.includes('guest log lines dropped before they were written to the log file'));
    assert.match(readFileSync(current, 'utf8'), /\{"log_id":"[^"]+","missed":50\}/);
    await files.stop();
    assert.equal(files.status().write_failures_total, 0);
  });
});
