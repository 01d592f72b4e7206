/**
 * What moves between Yoi and us: archives written byte for byte as Yoi's `pack` writes them,
 * components built from Yoi's WIT alone (tool world, instance world, a WebSocket round trip),
 * and the service-runtime behaviours issue J found different.
 */
import assert from 'node:assert/strict';
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import { readPackageFile } from '../../src/package/archive-file.js';
import { readZipArchive } from '../../src/package/zip-read.js';
import { computePackageDigest } from '../../src/package/digest.js';
import { echoManifest, until } from '../helpers.js';
import { packageFiles, stores, yoiArchive, yoiFixture } from './support.js';
import type { ConformanceCase } from './table.js';
import { commandTemplate, socketServer, yoiHost } from './worker-support.js';
import { yoiWitComponent } from './yoi-components.js';

export const INTEROP_CASES: readonly ConformanceCase[] = [
  {
    upstream: 'yoi plugin pack (reference §6.3): archive with CRC-32 0 and DOS date 0',
    gist: "an archive exactly as Yoi's writer makes it is discovered, with the directory's digest",
    run: async (t) => {
      const s = stores(t);
      const files = yoiFixture('yoi-echo-doc');
      s.put('project', 'example.echo.yoi-plugin', yoiArchive(files));
      const d = await s.discover();
      assert.deepEqual(d.diagnostics, []);
      assert.deepEqual(d.packages.map((p) => [p.identity, p.digest]), [['project:example.echo', computePackageDigest(files)]]);
    },
  },
  {
    upstream: 'yoi plugin pack (reference §6.3): the rest of its layout',
    gist: "Yoi's entry order, version 20, UTF-8 flag, DOS time and date 0, no extras read as the same files (with real CRCs)",
    run: async (t) => {
      const files = packageFiles(echoManifest(), { 'README.md': '# echo', 'a/b/c.txt': 'nested' });
      const read = readZipArchive(yoiArchive(files, { crc: 'real' }));
      assert.ok(read.ok, JSON.stringify(!read.ok && read.diagnostic));
      assert.deepEqual([...read.value.keys()].sort(), [...files.keys()].sort());
      const s = stores(t);
      s.put('project', 'echo.yoi-plugin', yoiArchive(files, { crc: 'real' }));
      const file = await readPackageFile(`${s.project}/echo.yoi-plugin`);
      assert.ok(file.ok);
      assert.equal(computePackageDigest(file.value), computePackageDigest(files));
    },
  },
  {
    upstream: "components built from Yoi's WIT: the tool world",
    gist: 'a tool-world component importing exactly yoi:host/{request,websocket,fs}@1.0.0 runs through the tool path',
    run: async (t) => {
      const wit = await componentWit(await yoiWitComponent('tool'));
      assert.deepEqual(wit.match(/^\s*import [^;]+;/gm)!.map((l) => l.trim()), ['import yoi:host/request@1.0.0;', 'import yoi:host/websocket@1.0.0;', 'import yoi:host/fs@1.0.0;']);
      const { call } = await yoiHost(t);
      assert.deepEqual(await call('echo', { summary: 'from a Yoi-built component', content: 'c' }), { summary: 'from a Yoi-built component', content: 'c' });
    },
  },
  {
    upstream: "components built from Yoi's WIT: the instance world",
    gist: 'start(config), handle-tool, status and stop of an instance-world component built from Yoi WIT',
    run: async (t) => {
      const { host, ref, call } = await yoiHost(t, { world: 'instance', config: { state: 'running', from: 'config' } });
      assert.deepEqual(await host.startServices(), []);
      // start's status, until the status poll that follows every start has replaced it with status()'s.
      const shown = JSON.stringify(host.status(ref)[0]!.component_status);
      assert.ok([JSON.stringify({ state: 'running', from: 'config' }), JSON.stringify({ state: 'running', ready: true })].includes(shown), shown);
      assert.deepEqual(await call('echo', { summary: 'instance' }), { summary: 'instance', content: null });
      const [report] = await host.close();
      assert.equal(report!.state, 'Stopped');
    },
  },
  {
    upstream: "components built from Yoi's WIT: a WebSocket round trip",
    gist: 'a host-owned connection delivers a text frame; the component answers with websocket_send; the server receives it',
    run: async (t) => {
      const server = await socketServer(t);
      const url = `ws://127.0.0.1:${server.port}/socket`;
      const { host } = await yoiHost(t, {
        world: 'instance',
        sources: [`websocket:${url}`],
        eventKinds: ['websocket_open', 'websocket_text', 'websocket_close', 'websocket_error'],
        config: commandTemplate([{ kind: 'websocket_send', payload: { url, text: 'pong from a Yoi-built component' } }]),
      });
      assert.deepEqual(await host.startServices(), []);
      const socket = await until(() => server.sockets[0], 'a connection');
      socket.send('ping');
      await until(() => server.received.length > 0, 'the reply');
      assert.deepEqual(server.received, ['pong from a Yoi-built component']);
    },
  },
  {
    upstream: 'rust-component-service template: event_kinds = ["websocket_text"]',
    gist: "Yoi's own service template is not refused at its first event: undeclared event kinds are not sent to it",
    run: async (t) => {
      const server = await socketServer(t);
      const url = `ws://127.0.0.1:${server.port}/socket`;
      const { host, ref } = await yoiHost(t, { world: 'instance', sources: [`websocket:${url}`], eventKinds: ['websocket_text'], config: commandTemplate([{ kind: 'websocket_send', payload: { url, text: 'pong' } }]) });
      await host.startServices();
      const socket = await until(() => server.sockets[0], 'a connection');
      socket.send('ping');
      await until(() => server.received.length > 0, 'the reply');
      const status = host.status(ref)[0]!;
      assert.equal(status.counters!.rejected, 0);
      assert.ok(!status.diagnostics.some((d) => d.kind === 'InvalidEvent'), JSON.stringify(status.diagnostics));
      assert.equal((status.websocket_connections[0] as { drops: number }).drops, 0);
    },
  },
  {
    upstream: 'service_output_commands_are_grant_checked_and_supported_transport_rejects_without_connection (batch)',
    gist: 'a websocket_send with no open connection is rejected alone; the other commands of the batch run',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, {
        world: 'instance',
        config: commandTemplate([
          { kind: 'diagnostic_status_update', payload: { status: { ran: true } } },
          { kind: 'websocket_send', payload: { url: 'ws://127.0.0.1:9/socket', text: 'nobody listens' } },
        ]),
      });
      await host.startServices();
      const service = host.services.get(ref)!;
      await service.emit('events', 'message', 'test', { text: 'go' });
      await service.idle();
      assert.deepEqual(service.commandResults.map((r) => [r.kind, r.status]), [
        ['diagnostic_status_update', 'Recorded'],
        ['websocket_send', 'Rejected'],
      ]);
    },
  },
  {
    upstream: 'component_lifecycle_reports_status_and_stop_outputs (status after an update)',
    gist: 'a diagnostic_status_update does not stick: status() and stop() overwrite component_status',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance', config: commandTemplate([{ kind: 'diagnostic_status_update', payload: { status: { from: 'update' } } }]) });
      await host.startServices();
      const service = host.services.get(ref)!;
      await service.emit('events', 'message', 'test', { text: 'go' });
      await service.idle();
      await host.close();
      assert.deepEqual(service.componentStatus, { state: 'stopped' });
    },
  },
];
