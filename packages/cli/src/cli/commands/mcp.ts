import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { createMcpServer, type McpToolSurface } from '@yoi-plugins/host/internal/tools/mcp-server.js';
import { connectMcpUpstream, type McpUpstream } from '@yoi-plugins/host/internal/tools/mcp-proxy.js';
import { mcpSdk } from '@yoi-plugins/host/internal/tools/mcp-sdk.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import type { CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { term } from '../terminal.js';
import { discoverServe } from '../serve-client.js';

/**
 * Serves the workspace's tools over MCP on stdio until stdin closes or a signal arrives: the
 * running serve's tools (proxied to its `/mcp`, so services' tools answer from their live
 * instances) when serve runs, else the tools of a host started here.
 */
export async function runMcp(io: CliIo, options: CommonOptions): Promise<void> {
  const stores = storeOptions(io, options);
  const discovery = await discoverServe(stores.workspace);
  let host: PluginHost | null = null;
  let upstream: McpUpstream | null = null;
  let surface: McpToolSurface | PluginHost;
  const changed = { notify: () => undefined as void };
  if (discovery.serve?.mcpUrl && discovery.serve.mcpToken) {
    upstream = await connectMcpUpstream(discovery.serve.mcpUrl, discovery.serve.mcpToken, () => changed.notify());
    surface = upstream.surface;
    io.stderr(term`yoi mcp: via the running serve (pid ${String(discovery.serve.pid)}): ${discovery.serve.mcpUrl}` + '\n');
    io.stderr(`yoi mcp: serving ${(await surface.listTools()).length} tool(s) on stdio (via serve)\n`);
  } else {
    if (discovery.stale) io.stderr(term`yoi mcp: ${discovery.stale}` + '\n');
    host = await PluginHost.fromWorkspace(stores, { cacheDir: defaultCacheDir(io.env) });
    // Tools whose component cannot load under its grants (e.g. a denied host API import) fail
    // every call: they are not advertised (each is reported below).
    await host.tools.verifyLoadable();
    for (const issue of host.registrationIssues) io.stderr(term`yoi mcp: ${issue.message}` + '\n');
    for (const d of host.diagnostics) io.stderr(term`yoi mcp: ${d.identity ?? d.package ?? 'workspace'}: ${d.message}` + '\n');
    io.stderr(`yoi mcp: serving ${host.tools.list().length + host.tools.shadowed().length} tool(s) on stdio (in-process)\n`);
    surface = host;
  }
  const server = createMcpServer(surface);
  changed.notify = () => void server.sendToolListChanged().catch(() => undefined);
  const transport = new (mcpSdk().StdioServerTransport)();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => undefined);
  await upstream?.close().catch(() => undefined);
  await host?.close();
}
