import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { PluginHost } from '../host.js';
import { mcpHttpSdk } from '../tools/mcp-sdk.js';
import { createMcpServer, registrySurface, type McpToolSurface, type ToolCall } from '../tools/mcp-server.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { Logger } from './log.js';
import { bearerMatches } from './bearer.js';

/** The path of serve's MCP endpoint. */
export const MCP_PATH = '/mcp';

/** Sessions kept at once; opening one more closes the least recently used (counted and logged). */
const MCP_MAX_SESSIONS = 64;

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: Server;
  lastUsed: number;
}

export interface McpHttpStatus {
  readonly sessions: number;
  readonly sessions_opened: number;
  readonly sessions_evicted: number;
}

export interface McpHttpEndpoint {
  /** Answers a request to `/mcp` (every method the Streamable HTTP transport defines). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Tells every open session that the tool list changed (after a reload). */
  notifyToolsChanged(): void;
  status(): McpHttpStatus;
  close(): Promise<void>;
}

/**
 * MCP over Streamable HTTP (the SDK's server transport, one per session) on serve's loopback
 * port. The tools are the running host's: a service's tool reaches its live instance. Accepts
 * the MCP token or the control token as a bearer token. `call` runs a tool (default: in this
 * host's registry; serve routes a service's tool to the host owning it).
 */
export function createMcpHttpEndpoint(host: PluginHost, tokens: readonly string[], log: Logger, maxSessions = MCP_MAX_SESSIONS, call?: ToolCall): McpHttpEndpoint {
  const sessions = new Map<string, Session>();
  let opened = 0;
  let evicted = 0;
  let clock = 0;
  // A tool whose component cannot load under its grants fails every call: not advertised.
  // Checked once per registry (a reload that replaces the registry is checked again).
  let verified: { readonly registry: ToolRegistry; readonly done: Promise<void> } | null = null;
  const verify = () => {
    if (verified?.registry !== host.tools) {
      const registry = host.tools;
      verified = {
        registry,
        done: registry.verifyLoadable().then((issues) => {
          for (const issue of issues) log('warn', issue.message, { plugin: issue.plugin_ref, tool: issue.tool });
        }),
      };
    }
    return verified.done;
  };
  const registry = registrySurface(() => host.tools, call);
  const surface: McpToolSurface = {
    listTools: async () => (await verify(), registry.listTools()),
    callTool: async (name, args) => (await verify(), registry.callTool(name, args)),
  };

  const evictOldest = async () => {
    const [id, oldest] = [...sessions.entries()].reduce((a, b) => (b[1].lastUsed < a[1].lastUsed ? b : a));
    sessions.delete(id);
    evicted++;
    log('warn', 'mcp session evicted', { session: id, limit: maxSessions, evicted_total: evicted });
    await oldest.server.close().catch(() => undefined);
  };

  return {
    async handle(req, res) {
      if (!tokens.some((token) => bearerMatches(req, token))) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
        res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'a bearer token from .yoi/serve.json (mcp_token) is required' } }));
        return;
      }
      const id = req.headers['mcp-session-id'];
      if (typeof id === 'string') {
        const session = sessions.get(id);
        if (!session) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
          return;
        }
        session.lastUsed = ++clock;
        await session.transport.handleRequest(req, res);
        return;
      }
      // No session yet: only an initialize request opens one (the transport answers anything else with 400).
      const { StreamableHTTPServerTransport } = mcpHttpSdk();
      const server = createMcpServer(surface);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: async (sessionId) => {
          if (sessions.size >= maxSessions) await evictOldest();
          sessions.set(sessionId, { transport, server, lastUsed: ++clock });
          opened++;
          log('info', 'mcp session opened', { session: sessionId, sessions: sessions.size });
          server.onclose = () => {
            if (sessions.get(sessionId)?.server === server) sessions.delete(sessionId);
          };
        },
        onsessionclosed: (sessionId) => {
          sessions.delete(sessionId);
          log('info', 'mcp session closed', { session: sessionId, sessions: sessions.size });
        },
      });
      await server.connect(transport);
      await transport.handleRequest(req, res);
      if (transport.sessionId === undefined || !sessions.has(transport.sessionId)) await server.close().catch(() => undefined);
    },
    notifyToolsChanged() {
      for (const session of sessions.values()) void session.server.sendToolListChanged().catch(() => undefined);
    },
    status: () => ({ sessions: sessions.size, sessions_opened: opened, sessions_evicted: evicted }),
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map((s) => s.server.close().catch(() => undefined)));
    },
  };
}

/** `yoi_serve_mcp_sessions` and the sessions opened and evicted, on serve's registry. */
export function mcpMetrics(registry: Registry, status: () => McpHttpStatus): void {
  new Gauge({ name: 'yoi_serve_mcp_sessions', help: 'Open MCP sessions on /mcp.', registers: [registry], collect() { this.set(status().sessions); } });
  new Counter({ name: 'yoi_serve_mcp_sessions_opened_total', help: 'MCP sessions opened on /mcp.', registers: [registry], collect() { this.reset(); this.inc(status().sessions_opened); } });
  new Counter({ name: 'yoi_serve_mcp_sessions_evicted_total', help: `MCP sessions closed because more than ${MCP_MAX_SESSIONS} were open (least recently used first).`, registers: [registry], collect() { this.reset(); this.inc(status().sessions_evicted); } });
}
