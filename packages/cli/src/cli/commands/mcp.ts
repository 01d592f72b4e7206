import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { createMcpServer } from '@yoi-plugins/host/internal/tools/mcp-server.js';
import { mcpSdk } from '@yoi-plugins/host/internal/tools/mcp-sdk.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import type { CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { term } from '../terminal.js';

/** Serves the workspace's tools over MCP on stdio until stdin closes or a signal arrives. */
export async function runMcp(io: CliIo, options: CommonOptions): Promise<void> {
  const host = await PluginHost.fromWorkspace(storeOptions(io, options), { cacheDir: defaultCacheDir(io.env) });
  // Tools whose component cannot load under its grants (e.g. a denied host API import) fail
  // every call: they are not advertised (each is reported below).
  await host.tools.verifyLoadable();
  for (const issue of host.registrationIssues) io.stderr(term`yoi mcp: ${issue.message}` + '\n');
  for (const d of host.diagnostics) io.stderr(term`yoi mcp: ${d.identity ?? d.package ?? 'workspace'}: ${d.message}` + '\n');
  io.stderr(`yoi mcp: serving ${host.tools.list().length} tool(s) on stdio\n`);
  const server = createMcpServer(host);
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
  await host.close();
}
