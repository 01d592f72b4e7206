/** Hosts running components built from Yoi's WIT alone, and the loopback servers they talk to. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { PluginHost } from '../../src/host.js';
import type { JsonValue } from '../../src/manifest/types.js';
import type { ServicePolicy } from '../../src/service/policy.js';
import type { LimitOverrides } from '../../src/sandbox/limits.js';
import type { ToolOutput } from '../../src/tools/tool-output.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, type PluginSpec } from '../fixtures/workspace.js';
import { manifestToml, type ManifestSpec } from '../fixtures/manifest.js';
import { hostReplies, yoiWitComponent } from './yoi-components.js';

export const YOI_TOOLS = ['echo', 'request', 'fs-read', 'fs-list', 'fs-write', 'ws', 'grow', 'table', 'big', 'trap'] as const;

/** The three host APIs (the component imports all three, so each needs its grant) and loopback targets. */
const LOOPBACK = {
  hostApis: ['request', 'websocket', 'fs'],
  request: [{ scheme: 'http', host: '127.0.0.1', methods: ['GET', 'POST'], path_prefixes: ['/api'] }],
  websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }],
} as const satisfies Partial<ManifestSpec>;

export interface YoiManifestOptions {
  readonly id?: string;
  readonly world?: 'tool' | 'instance';
  readonly tools?: readonly string[];
  /** Instance world: WebSocket ingress sources (a service and an ingress are declared). */
  readonly sources?: readonly string[];
  readonly eventKinds?: readonly string[];
  /** Host APIs requested (default all three). */
  readonly hostApis?: ManifestSpec['hostApis'];
  /** `[[request]]` targets (default one loopback target). */
  readonly requestTargets?: ManifestSpec['request'];
  /** `[[websocket]]` targets (default one loopback target). */
  readonly websocketTargets?: ManifestSpec['websocket'];
  readonly extra?: string;
}

/** A Yoi-shaped manifest for the Yoi-WIT components. */
export function yoiManifest(options: YoiManifestOptions = {}): string {
  const world = options.world ?? 'tool';
  return manifestToml({
    id: options.id ?? 'yoi.conformance',
    world,
    tools: options.tools ?? YOI_TOOLS,
    ...(world === 'instance'
      ? {
          services: [{ name: 'svc', description: 'the service' }],
          ingresses: [{ name: 'events', description: 'events', eventKinds: options.eventKinds ?? [], sources: options.sources ?? [] }],
        }
      : {}),
    hostApis: options.hostApis ?? LOOPBACK.hostApis,
    request: options.requestTargets ?? LOOPBACK.request,
    websocket: options.websocketTargets ?? LOOPBACK.websocket,
    ...(options.extra ? { extra: options.extra } : {}),
  });
}

export interface YoiHostOptions extends YoiManifestOptions {
  readonly grants?: PluginSpec['grants'];
  readonly config?: JsonValue;
  readonly limits?: LimitOverrides;
  readonly surfaces?: PluginSpec['surfaces'];
  readonly policy?: Partial<ServicePolicy>;
  readonly websocket?: string;
  /** More plugins in the same workspace. */
  readonly others?: readonly PluginSpec[];
}

const FAST: Partial<ServicePolicy> = { retryBaseMs: 5, retryMaxMs: 20, restartBaseMs: 5, restartMaxMs: 20, maxAttempts: 3 };

export interface YoiHost {
  readonly host: PluginHost;
  readonly ref: string;
  readonly filesRoot: string;
  readonly workspace: string;
  /** Calls a tool and decodes the host replies its `content` carries (hex). */
  replies(tool: string, input: JsonValue): Promise<string[]>;
  call(tool: string, input: JsonValue): Promise<ToolOutput>;
}

/** A workspace running the Yoi-WIT component of `world`, granted what it requests unless told otherwise. */
export async function yoiHost(t: TestContext, options: YoiHostOptions = {}): Promise<YoiHost> {
  const manifest = yoiManifest(options);
  const component = await yoiWitComponent(options.world ?? 'tool');
  const ws = pluginWorkspace(t, [
    {
      manifest,
      component,
      ...(options.grants !== undefined ? { grants: options.grants } : {}),
      ...(options.config !== undefined ? { config: options.config } : {}),
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
      ...(options.surfaces !== undefined ? { surfaces: options.surfaces } : {}),
    },
    ...(options.others ?? []),
  ]);
  if (options.websocket) {
    // The connection policy table belongs to the (first) entry: put it before its grants.
    const path = join(ws.workspace, '.yoi', 'plugins.toml');
    writeFileSync(path, readFileSync(path, 'utf8').replace('[plugins.enabled.grants]', `[plugins.enabled.websocket]\n${options.websocket}\n\n[plugins.enabled.grants]`));
  }
  const host = await PluginHost.fromWorkspace(
    { workspace: ws.workspace, builtinDir: `${ws.root}/no-builtin`, env: { HOME: ws.root } },
    { cacheDir: TEST_TRANSPILE_CACHE, servicePolicy: { ...FAST, ...options.policy }, connectionPolicy: { reconnect_base_ms: 20, reconnect_max_ms: 100, ping_interval_ms: 0 } },
  );
  t.after(() => host.close());
  const ref = `project:${options.id ?? 'yoi.conformance'}`;
  return {
    host,
    ref,
    filesRoot: ws.filesRoot,
    workspace: ws.workspace,
    call: (tool, input) => host.callTool(tool, input),
    async replies(tool, input) {
      const out = await host.callTool(tool, input);
      assert.equal(out.summary, 'host reply', JSON.stringify(out));
      return hostReplies(out.content);
    },
  };
}


export interface Loopback {
  readonly port: number;
  /** `METHOD path` of every request that reached the server. */
  readonly hits: string[];
}

/** An HTTP server on 127.0.0.1 that counts what reaches it; `handler` answers (default: JSON `{ok:true}`). */
export async function httpServer(t: TestContext, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Loopback> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      if (handler) return handler(req, res);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, path: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, hits };
}

export interface SocketServer {
  readonly port: number;
  readonly sockets: WebSocket[];
  readonly received: string[];
  /** Every upgrade request path. */
  readonly upgrades: string[];
}

/** A WebSocket server on 127.0.0.1; `echo` answers every text frame with itself. */
export async function socketServer(t: TestContext, options: { echo?: boolean } = {}): Promise<SocketServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const state: SocketServer = { port: (wss.address() as AddressInfo).port, sockets: [], received: [], upgrades: [] };
  wss.on('connection', (socket, req) => {
    state.sockets.push(socket);
    state.upgrades.push(req.url ?? '');
    socket.on('message', (data, binary) => {
      if (binary) return;
      state.received.push(data.toString());
      if (options.echo) socket.send(data.toString());
    });
  });
  t.after(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return state;
}

/** A ServiceOutput template for the Yoi-WIT instance: each `@ID@` becomes the event's correlation id. */
export function commandTemplate(commands: readonly { kind: string; payload: JsonValue; source?: string }[]): string {
  return JSON.stringify({
    accepted: true,
    output_commands: commands.map((c, i) => ({
      correlation_id: `@ID@:c${i}`,
      source_event_id: c.source ?? '@ID@',
      command_id: `@ID@:${i}`,
      kind: c.kind,
      payload: c.payload,
      requested_at: '2026-01-01T00:00:00Z',
    })),
  });
}
