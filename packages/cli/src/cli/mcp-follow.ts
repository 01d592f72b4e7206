import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { readControlFile } from '@yoi-plugins/host/internal/serve/control-file.js';
import { registrySurface, type McpToolSurface } from '@yoi-plugins/host/internal/tools/mcp-server.js';
import { connectMcpUpstream, type McpUpstream } from '@yoi-plugins/host/internal/tools/mcp-proxy.js';
import type { StoreOptions } from '@yoi-plugins/host/internal/store/locations.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { discoverServe, isAlive, type Via } from './serve-client.js';

type Current =
  | { readonly via: 'serve'; readonly key: string; readonly pid: number; readonly upstream: McpUpstream; failed: boolean }
  | { readonly via: 'in-process'; readonly key: string | null; readonly host: PluginHost };

function controlKey(info: { pid: number; port: number; token: string } | null): string | null {
  return info ? `${info.pid}:${info.port}:${info.token}` : null;
}

export interface FollowingSurfaceOptions {
  readonly stores: StoreOptions;
  readonly cacheDir: string;
  /** A line for stderr: which host answers now, and why it changed. */
  readonly say: (line: string) => void;
  /** The tool list may have changed (the source switched, or serve reloaded). */
  readonly onToolsChanged: () => void;
  /** A host started in this process, when no serve runs (reports its load problems through `say`). */
  readonly openHost: () => Promise<PluginHost>;
}

/**
 * The tools `yoi plugin mcp` (stdio) serves, following the workspace's serve: before every
 * request it re-reads `.yoi/serve.json` (and checks its process is alive), and when that changed,
 * or the serve in use failed to answer, it discovers again (the control API probe that
 * call/status/logs use). Serve appearing switches to a proxy of its `/mcp`; serve going away
 * switches to a host started here. Each switch is said on stderr and sent to the client as
 * `tools/list_changed`. A tool call that serve fails to answer is not repeated elsewhere (it may
 * have run): it is a tool error, and the next request finds the new state.
 */
export class FollowingSurface implements McpToolSurface {
  readonly #options: FollowingSurfaceOptions;
  #current: Current | null = null;
  #switching: Promise<Current> | null = null;

  constructor(options: FollowingSurfaceOptions) {
    this.#options = options;
  }

  /** Which host answered the last request. */
  get via(): Via | null {
    return this.#current?.via ?? null;
  }

  async listTools() {
    const current = await this.#resolve();
    if (current.via === 'in-process') return registrySurface(() => current.host.tools).listTools();
    try {
      return (await current.upstream.client.listTools(undefined, { timeout: 60_000 })).tools;
    } catch {
      current.failed = true;
      // A list is safe to ask again: from whatever runs now.
      const next = await this.#resolve();
      return next.via === 'in-process' ? registrySurface(() => next.host.tools).listTools() : next.upstream.surface.listTools();
    }
  }

  async callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const current = await this.#resolve();
    if (current.via === 'in-process') return registrySurface(() => current.host.tools).callTool(name, args);
    try {
      return (await current.upstream.client.callTool({ name, arguments: args }, undefined, { timeout: 10 * 60_000 })) as CallToolResult;
    } catch (error) {
      current.failed = true;
      return { content: [{ type: 'text', text: `serve did not answer: ${error instanceof Error ? error.message : String(error)}` }], isError: true };
    }
  }

  async close(): Promise<void> {
    const current = await this.#switching?.catch(() => null);
    await this.#release(current ?? this.#current);
    this.#current = null;
  }

  async #resolve(): Promise<Current> {
    if (this.#switching) return this.#switching;
    const info = await readControlFile(this.#options.stores.workspace);
    const key = controlKey(info);
    const current = this.#current;
    if (current && current.key === key && !(current.via === 'serve' && (current.failed || !isAlive(current.pid)))) return current;
    this.#switching = this.#switch(current, key).finally(() => (this.#switching = null));
    return this.#switching;
  }

  async #switch(previous: Current | null, key: string | null): Promise<Current> {
    const discovery = await discoverServe(this.#options.stores.workspace);
    let next: Current;
    if (discovery.serve?.mcpUrl && discovery.serve.mcpToken) {
      if (previous?.via === 'serve' && previous.pid === discovery.serve.pid && !previous.failed) return previous;
      const upstream = await connectMcpUpstream(discovery.serve.mcpUrl, discovery.serve.mcpToken, () => this.#options.onToolsChanged());
      next = { via: 'serve', key: key ?? '', pid: discovery.serve.pid, upstream, failed: false };
      this.#options.say(`via the running serve (pid ${discovery.serve.pid}): ${discovery.serve.mcpUrl}`);
    } else {
      if (previous?.via === 'in-process') {
        // A stale file: remember it, so the next request does not probe again until it changes.
        next = { ...previous, key };
        this.#current = next;
        return next;
      }
      if (discovery.stale) this.#options.say(discovery.stale);
      next = { via: 'in-process', key, host: await this.#options.openHost() };
      this.#options.say(previous ? 'serve is gone: in-process (a host started here; services are not running)' : 'in-process (no serve is running for this workspace)');
    }
    await this.#release(previous);
    this.#current = next;
    if (previous) this.#options.onToolsChanged();
    return next;
  }

  async #release(current: Current | null): Promise<void> {
    if (!current) return;
    if (current.via === 'serve') await current.upstream.close().catch(() => undefined);
    else await current.host.close().catch(() => undefined);
  }
}
