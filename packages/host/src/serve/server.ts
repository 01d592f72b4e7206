import { mkdir, open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import { boundText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import { PluginHost, type PluginHostOptions } from '../host.js';
import type { JsonValue } from '../manifest/types.js';
import type { StoreOptions } from '../store/locations.js';
import type { StopReport } from '../service/plugin-service.js';
import { createMetrics } from './metrics.js';
import { newToken, removeControlFile, stateDir, writeControlFile } from './control-file.js';
import type { Logger } from './log.js';
import { DEFAULT_SERVICE_POLICY } from '../service/policy.js';
import { DiscardWatch, serviceEventLogger } from './service-log.js';
import { openServeStorage } from '../cluster/serve-engine.js';
import { clusterMetrics } from '../cluster/metrics.js';
import { setServiceGate } from '../reload/service-gate.js';
import { bearerMatches, hostIsLoopback } from './bearer.js';
import { createMcpHttpEndpoint, MCP_PATH, mcpMetrics } from './mcp-http.js';
import { routeLogs } from './routes-logs.js';
import { toolCallProblem } from '../tools/call-check.js';
import { callTool, changeDeadLetters, ownedSummaries, ownerHandler, withClusterView } from './owner-calls.js';
import { Reloader, type ReloaderOptions } from './reload.js';
import { registerReloadMetrics } from './reload-metrics.js';
import { GuestLogFiles, registerLogFileMetrics } from './log-file.js';

export interface ServeOptions extends PluginHostOptions {
  readonly stores: StoreOptions;
  readonly port?: number;
  readonly host?: string;
  readonly log: Logger;
  /** How often increases of the discard counters are logged (default 5 s). */
  readonly discardLogIntervalMs?: number;
  /** `lmdb` or `nats://HOST:PORT[,…]` (overrides `engine` in `.yoi/serve.toml`; see docs/scale-out.md). */
  readonly engine?: string;
  /** This host's id among the hosts of the workspace (overrides `cluster.host_id`). */
  readonly hostId?: string;
  /** Hot reload of the enablement and stores (serve/reload.ts). */
  readonly reload?: ReloaderOptions;
}

/** Under serve, a running instance's `status` is polled this often unless the policy says otherwise. */
export const SERVE_STATUS_POLL_MS = 30_000;

const MAX_BODY = 1024 * 1024;

export interface RunningServer {
  readonly host: PluginHost;
  readonly url: string;
  readonly token: string;
  /** MCP over Streamable HTTP: `<url>/mcp`, bearer `mcpToken` (tools only; no control API). */
  readonly mcpUrl: string;
  readonly mcpToken: string;
  /** Tells connected MCP clients that the tool list changed. */
  notifyToolsChanged(): void;
  readonly controlFile: string;
  readonly reloader: Reloader;
  stop(): Promise<StopReport[]>;
}

/**
 * `yoi plugin serve`: a long-running host for one workspace. Starts its services, keeps what
 * they accept in the workspace's journal (`.yoi/state/journal`, LMDB), appends domain events
 * to `.yoi/state/events.jsonl`, and serves a small control API on loopback behind a bearer token (in `.yoi/serve.json`, 0600).
 */
export async function startServe(options: ServeOptions): Promise<RunningServer> {
  const { log } = options;
  const bind = options.host ?? '127.0.0.1';
  if (!['127.0.0.1', '::1', 'localhost'].includes(bind)) throw new Error('serve binds to loopback only (127.0.0.1, ::1 or localhost)');
  const workspace = options.stores.workspace;
  const state = stateDir(workspace);
  await mkdir(state, { recursive: true, mode: 0o700 });
  const eventLog = join(state, 'events.jsonl');
  const logServiceEvent = serviceEventLogger(log);
  // The workspace's durable journal (LMDB, or JetStream shared by several hosts), unless the embedder brings its own (then it closes it too).
  const storage = await openServeStorage({ workspace, log, deadLetterCount: options.servicePolicy?.deadLetterCapacity ?? DEFAULT_SERVICE_POLICY.deadLetterCapacity, ...(options.journal ? { journal: options.journal } : {}), ...(options.engine !== undefined ? { engine: options.engine } : {}), ...(options.hostId !== undefined ? { hostId: options.hostId } : {}) });
  const journal = storage.journal;
  log('info', 'journal open', { engine: journal.engine, [storage.kind === 'jetstream' ? 'servers' : 'dir']: storage.where });
  let host: PluginHost;
  try {
    host = await PluginHost.fromWorkspace(options.stores, {
      ...options,
      servicePolicy: { statusPollMs: SERVE_STATUS_POLL_MS, ...options.servicePolicy },
      onServiceEvent: (event) => {
        logServiceEvent(event);
        options.onServiceEvent?.(event);
      },
      stateDir: state,
      journal,
      effects: {
        ...options.effects,
        ...storage.effects,
        appendDomainEvent: async (event) => {
          // Synced before the command counts as done (it then leaves the outbox).
          const file = await open(eventLog, 'a', 0o600);
          try {
            await file.appendFile(JSON.stringify(event) + '\n');
            await file.datasync();
          } finally {
            await file.close();
          }
          log('info', 'domain event appended', { plugin: event.plugin, type: event.type, command_id: event.command_id });
        },
      },
    });
  } catch (error) {
    await storage.close();
    throw error;
  }
  for (const d of host.diagnostics) log('warn', d.message, { plugin: d.identity ?? null, kind: d.kind });
  for (const issue of host.registrationIssues) log('warn', issue.message, { plugin: issue.plugin_ref, tool: issue.tool });
  await storage.attach(ownerHandler(host, log), ownedSummaries(host, storage), (plugin) => !['Ready', 'Stopped'].includes(host.services.get(plugin)?.state ?? 'Ready'));
  const discards = new DiscardWatch(() => host.status(), log, () => logServiceEvent.flush()).every(options.discardLogIntervalMs ?? 5_000);
  for (const failure of await storage.startServices(host)) log('error', 'service failed to start', { plugin: failure.plugin, error: failure.error });
  for (const [ref, service] of host.services) log('info', 'service state', { plugin: ref, state: service.state });

  // With several hosts, a reload starts a service only on the owner of its lease (reload/service-gate.ts).
  if (storage.serviceGate) setServiceGate(host, storage.serviceGate);
  // Set once the MCP endpoint exists (before that there is no MCP client to tell).
  let notifyMcp: () => void = () => undefined;
  const reloader = new Reloader(host, options.stores, log, { ...options.reload, onApplied: () => notifyMcp() });
  const metrics = createMetrics(() => host.status(), () => host.journalStatus());
  clusterMetrics(metrics, () => storage.status());
  registerReloadMetrics(metrics, () => reloader.status());
  const logFiles = new GuestLogFiles(host, workspace, log).every();
  registerLogFileMetrics(metrics, () => logFiles.status());
  const token = newToken();
  const mcpToken = newToken();
  const mcp = createMcpHttpEndpoint(host, [mcpToken, token], log, undefined, (name, input) => callTool(host, storage, undefined, name, input).then((r) => r.output));
  notifyMcp = () => mcp.notifyToolsChanged();
  mcpMetrics(metrics, mcp.status);
  const startedAt = new Date().toISOString();
  const shutdown = new AbortController();
  const server = createServer((req, res) => {
    void handle(req, res).catch((error) => {
      log('error', 'control request failed', { error: error instanceof Error ? error.message : String(error) });
      if (!res.headersSent) send(res, 500, { error: { code: 'internal', message: 'request failed' } });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === MCP_PATH) return mcp.handle(req, res);
    // Read-only counters: scrapeable without the per-start token from this machine (docs/security.md).
    const openMetrics = req.method === 'GET' && url.pathname === '/metrics' && hostIsLoopback(req);
    if (!openMetrics && !bearerMatches(req, token)) {
      send(res, 401, { error: { code: 'unauthorized', message: 'a bearer token from .yoi/serve.json is required' } });
      return;
    }
    const parts = decodePathSegments(url.pathname);
    if (!parts) return send(res, 400, { error: { code: 'invalid_request', message: 'the request path has a malformed percent-encoding' } });
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(await metrics.metrics());
      return;
    }
    if (parts[0] !== 'v1') return send(res, 404, { error: { code: 'not_found', message: 'unknown path' } });
    if (req.method === 'GET' && parts.length === 2 && parts[1] === 'serve') return send(res, 200, { workspace, pid: process.pid, started_at: startedAt, mcp: { path: MCP_PATH, ...mcp.status() } });
    if (await routeLogs(host, req, res, url, parts, shutdown.signal)) return;
    const [, resource, ref, action] = parts;
    if (req.method === 'GET' && resource === 'status') {
      const plugins = host.status(ref);
      if (ref && plugins.length === 0) return send(res, 404, { error: { code: 'not_found', message: 'plugin is not enabled in this workspace' } });
      return send(res, 200, { workspace, journal: host.journalStatus(), reload: reloader.status(), log_files: logFiles.status(), ...storage.status(), plugins: withClusterView(plugins, await storage.clusterView()) });
    }
    if (req.method === 'POST' && resource === 'reload' && !ref) {
      return send(res, 200, await reloader.reload('control API'));
    }
    if (req.method === 'POST' && resource === 'tools' && ref === 'call') {
      const body = (await readJson(req)) as { tool?: unknown; plugin?: unknown; input?: JsonValue } | null;
      if (!body || typeof body.tool !== 'string') return send(res, 400, { error: { code: 'invalid_request', message: 'expected {"tool", "plugin"?, "input"}' } });
      const problem = typeof body.plugin === 'string' ? toolCallProblem(host, body.plugin, body.tool) : null;
      if (problem) return send(res, problem.code === 'not_enabled' ? 404 : 422, { error: problem });
      try {
        return send(res, 200, await callTool(host, storage, typeof body.plugin === 'string' ? body.plugin : undefined, body.tool, body.input ?? {}));
      } catch (error) {
        return sendCallError(res, error);
      }
    }
    const service = ref ? host.services.get(ref) : undefined;
    if ((resource === 'dlq' || resource === 'plugins') && !service) return send(res, 404, { error: { code: 'not_found', message: 'no service for that plugin in this host' } });
    if (resource === 'dlq' && req.method === 'GET' && !action) {
      await storage.refresh(ref!);
      return send(res, 200, { plugin: ref, dead_letters: await service!.listDeadLetters() });
    }
    if (resource === 'dlq' && req.method === 'POST' && (action === 'replay' || action === 'drop')) {
      const body = (await readJson(req)) as { ids?: unknown } | null;
      const ids = Array.isArray(body?.ids) ? (body!.ids as unknown[]).filter((i): i is string => typeof i === 'string') : 'all';
      // Changed where the service runs: here, or on the host owning it (several hosts).
      try {
        const result = await changeDeadLetters(host, storage, ref!, action, ids, log);
        return send(res, 'refused' in result && result.refused ? 409 : 200, { plugin: ref, ...result });
      } catch (error) {
        return sendCallError(res, error);
      }
    }
    const elsewhere = req.method === 'POST' ? storage.ownedElsewhere(ref!) : null;
    if (elsewhere !== null) return send(res, 409, { plugin: ref, error: { code: 'not_owner', message: `the service runs on host ${elsewhere}, not this one (several hosts share this workspace); use that host's control API` } });
    if (resource === 'plugins' && req.method === 'POST' && (action === 'enable' || action === 'disable' || action === 'restart')) {
      try {
        if (action === 'enable') await service!.enable();
        else if (action === 'disable') await service!.disable('disabled by the operator through the control API');
        else await service!.restart();
      } catch (error) {
        return send(res, 409, { plugin: ref, state: service!.state, error: { code: 'failed', message: boundText(error instanceof Error ? error.message : String(error), 512) } });
      }
      return send(res, 200, { plugin: ref, state: service!.state });
    }
    send(res, 404, { error: { code: 'not_found', message: 'unknown path' } });
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, bind, () => resolve());
    });
  } catch (error) {
    await mcp.close();
    await reloader.close();
    await logFiles.stop();
    await host.close();
    discards.stop();
    await storage.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  const controlFile = await writeControlFile(workspace, { pid: process.pid, host: address.address, port: address.port, token, started_at: startedAt, workspace: resolvePath(workspace), url, mcp_url: url + MCP_PATH, mcp_token: mcpToken });
  log('info', 'serving', { url, control_file: controlFile, plugins: host.runtimes.size, services: host.services.size, tools: host.tools.list().length });

  let stopping: Promise<StopReport[]> | null = null;
  return {
    host,
    url,
    token,
    mcpUrl: url + MCP_PATH,
    mcpToken,
    notifyToolsChanged: () => mcp.notifyToolsChanged(),
    controlFile,
    reloader,
    stop: () =>
      (stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Long polls and MCP streams would hold the close open: ended here; calls in flight finish.
        shutdown.abort();
        await mcp.close();
        await closed;
        server.closeAllConnections?.();
        storage.quiesce();
        await reloader.close();
        await logFiles.flush();
        const reports = await host.close();
        await logFiles.stop();
        discards.stop();
        await storage.close();
        for (const r of reports) log('info', 'service stopped', { plugin: r.plugin, in_flight: r.in_flight, waiting: r.waiting, state: r.state });
        await removeControlFile(workspace, token);
        return reports;
      })()),
  };
}

/** The path's segments, percent-decoded; null when an escape is malformed (`%E0%A4%A`). */
function decodePathSegments(pathname: string): string[] | null {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return null;
  }
}

/** A failed call: busy and no-owner are worth a retry (503), a routed call without an answer in time is 504, other routing failures 502. */
function sendCallError(res: ServerResponse, error: unknown): void {
  const code = error instanceof PluginError ? error.code : 'failed';
  const status = code === 'PLUGIN_BUSY' || code === 'CLUSTER_NO_OWNER' ? 503 : code === 'CLUSTER_OWNER_TIMEOUT' ? 504 : code === 'CLUSTER_ROUTE_FAILED' ? 502 : 422;
  if (status === 503) res.setHeader('retry-after', '1');
  send(res, status, { error: { code, message: error instanceof Error ? boundText(error.message, 512) : 'tool call failed' } });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk);
  }
  if (size === 0) return null;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}
