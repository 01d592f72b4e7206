import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { createMcpServer } from '@yoi-plugins/host/internal/tools/mcp-server.js';
import { mcpSdk } from '@yoi-plugins/host/internal/tools/mcp-sdk.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import type { CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { term } from '../terminal.js';
import { FollowingSurface } from '../mcp-follow.js';

/**
 * Serves the workspace's tools over MCP on stdio until stdin closes or a signal arrives: the
 * running serve's tools (proxied to its `/mcp`, so services' tools answer from their live
 * instances) while serve runs, else the tools of a host started here — re-checked before every
 * request, so serve starting or stopping later is followed (mcp-follow.ts).
 */
export async function runMcp(io: CliIo, options: CommonOptions): Promise<void> {
  const stores = storeOptions(io, options);
  const say = (line: string) => io.stderr(term`yoi mcp: ${line}` + '\n');
  const changed = { notify: () => undefined as void };
  const surface = new FollowingSurface({
    stores,
    cacheDir: defaultCacheDir(io.env),
    say,
    onToolsChanged: () => changed.notify(),
    openHost: async () => {
      const host = await PluginHost.fromWorkspace(stores, { cacheDir: defaultCacheDir(io.env) });
      // Tools whose component cannot load under its grants (e.g. a denied host API import) fail
      // every call: they are not advertised (each is reported below).
      await host.tools.verifyLoadable();
      for (const issue of host.registrationIssues) say(issue.message);
      for (const d of host.diagnostics) say(`${d.identity ?? d.package ?? 'workspace'}: ${d.message}`);
      return host;
    },
  });
  io.stderr(`yoi mcp: serving ${(await surface.listTools()).length} tool(s) on stdio (${surface.via === 'serve' ? 'via serve' : 'in-process'})\n`);
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
  await surface.close();
}
