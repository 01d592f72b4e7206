import type { Diagnostic } from './diagnostics.js';
import type { JsonValue } from './manifest/types.js';
import { PluginRuntime, type RuntimeOptions } from './runtime/plugin-runtime.js';
import type { StoreOptions } from './store/locations.js';
import type { ResolvedPlugin } from './store/resolve.js';
import { loadWorkspace } from './store/workspace.js';
import { ToolRegistry, type RegistrationIssue, type ToolInfo } from './tools/registry.js';
import type { ToolOutput } from './tools/tool-output.js';

export interface PluginHostOptions extends RuntimeOptions {}

/**
 * The library entry point for embedding hosts: a set of resolved plugins, their runtimes and
 * their tools. Build it from a workspace (`<workspace>/.yoi/plugins.toml` and the stores) or
 * from records an embedder resolved itself.
 *
 * @example
 * const host = await PluginHost.fromWorkspace({ workspace: '.' });
 * console.log(host.tools.list().map((t) => t.name));
 * const out = await host.tools.call('echo', { text: 'hi' });
 * await host.close();
 */
export class PluginHost {
  readonly runtimes: ReadonlyMap<string, PluginRuntime>;
  readonly tools: ToolRegistry;
  /** Discovery and resolution diagnostics of the workspace (empty for `fromResolved`). */
  readonly diagnostics: readonly Diagnostic[];

  private constructor(records: readonly ResolvedPlugin[], diagnostics: readonly Diagnostic[], options: PluginHostOptions) {
    const runtimes = new Map<string, PluginRuntime>();
    for (const record of records) runtimes.set(record.identity, new PluginRuntime(record, options));
    this.runtimes = runtimes;
    this.tools = new ToolRegistry([...runtimes.values()]);
    this.diagnostics = diagnostics;
  }

  static fromResolved(records: readonly ResolvedPlugin[], options: PluginHostOptions = {}): PluginHost {
    return new PluginHost(records, [], options);
  }

  static async fromWorkspace(stores: StoreOptions, options: PluginHostOptions = {}): Promise<PluginHost> {
    const state = await loadWorkspace(stores);
    return new PluginHost(state.resolution.resolved, [...state.configDiagnostics, ...state.discovery.diagnostics, ...state.resolution.diagnostics], options);
  }

  get registrationIssues(): readonly RegistrationIssue[] {
    return this.tools.issues;
  }

  listTools(): ToolInfo[] {
    return this.tools.list();
  }

  callTool(name: string, input: string | JsonValue): Promise<ToolOutput> {
    return this.tools.call(name, input);
  }

  /** Stops every plugin. Idempotent. */
  async close(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((r) => r.close()));
  }
}
