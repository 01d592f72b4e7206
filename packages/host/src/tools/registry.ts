import type { ValidateFunction } from 'ajv';
import { authorizeTool } from '../authority/authorize.js';
import { boundText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import { toolDefinitionProblems } from '../manifest/tool-schema.js';
import type { JsonValue } from '../manifest/types.js';
import type { PluginRuntime } from '../runtime/plugin-runtime.js';
import { compileInputSchema, inputProblem } from './input-validation.js';
import type { ToolOutput } from './tool-output.js';

/**
 * Where a tool comes from (host-side; never sent to a model).
 * @public
 */
export interface ToolOrigin {
  readonly kind: 'plugin';
  readonly plugin_ref: string;
  readonly plugin_id: string;
  readonly source: string;
  readonly digest: string;
  readonly package_version: string;
  /** The manifest's schema_version (Yoi's `package_api_version`). */
  readonly package_api_version: number;
  readonly surface: 'tool';
}

export interface ToolInfo {
  readonly name: string;
  readonly description: string;
  readonly input_schema: JsonValue;
  readonly external_write: boolean;
  readonly origin: ToolOrigin;
}

/**
 * Why a declared tool is not registered: denied, invalid, shadowed by an earlier plugin, or
 * (after `verifyLoadable`) its component cannot be loaded under the grants, so every call
 * would fail.
 */
export interface RegistrationIssue {
  readonly plugin_ref: string;
  readonly tool: string;
  readonly kind: 'denied' | 'invalid' | 'collision' | 'unloadable';
  readonly message: string;
}

interface Entry {
  readonly info: ToolInfo;
  readonly runtime: PluginRuntime;
  readonly validate: ValidateFunction;
}

/**
 * The tool surface for embedding hosts: every enabled, authorised, valid tool of the given
 * plugins, by name. Names are unique: a later plugin's tool with a taken name is reported as
 * a collision, never silently shadowed. Calls re-check authority and validate input.
 */
export class ToolRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #qualified = new Map<string, Entry>();
  readonly #withdrawn = new Set<PluginRuntime>();
  readonly issues: RegistrationIssue[] = [];

  constructor(runtimes: readonly PluginRuntime[]) {
    for (const runtime of runtimes) this.#register(runtime);
  }

  /**
   * Loads the component of every plugin with registered tools (verified, transpiled from the
   * cache, import-checked against its grants — never executed) and withdraws the tools of a
   * plugin whose component cannot load: a partial plugin whose host API import is denied
   * fails every call, so it is not advertised. Each withdrawal is an `unloadable` issue. A
   * tool that lost a name collision to a withdrawn one takes the name. Returns the new issues.
   */
  async verifyLoadable(): Promise<RegistrationIssue[]> {
    const runtimes = [...new Set([...this.#qualified.values()].map((e) => e.runtime))].filter((r) => !this.#withdrawn.has(r));
    const failed = new Map<PluginRuntime, string>();
    for (const runtime of runtimes) {
      try {
        await runtime.load();
      } catch (error) {
        if (!(error instanceof PluginError)) throw error;
        failed.set(runtime, `${error.message} [${error.code}]`);
      }
    }
    if (failed.size === 0) return [];
    for (const runtime of failed.keys()) this.#withdrawn.add(runtime);
    const added: RegistrationIssue[] = [];
    for (const entry of this.#qualified.values()) {
      const why = failed.get(entry.runtime);
      if (why === undefined) continue;
      const ref = entry.info.origin.plugin_ref;
      added.push({ plugin_ref: ref, tool: entry.info.name, kind: 'unloadable', message: boundText(`plugin ${ref} tool ${entry.info.name} is not offered: every call would fail: ${why}`, 480) });
    }
    // Bare names again, in registration order, without the withdrawn tools (a qualified call
    // still reaches one, and fails with the real reason).
    this.#entries.clear();
    for (const entry of this.#qualified.values()) {
      if (!this.#withdrawn.has(entry.runtime) && !this.#entries.has(entry.info.name)) this.#entries.set(entry.info.name, entry);
    }
    const named = [...this.#entries.values()];
    const resolved = this.issues.filter((i) => i.kind === 'collision' && named.some((e) => e.info.origin.plugin_ref === i.plugin_ref && e.info.name === i.tool));
    for (const issue of resolved) this.issues.splice(this.issues.indexOf(issue), 1);
    this.issues.push(...added);
    return added;
  }

  #register(runtime: PluginRuntime): void {
    const record = runtime.record;
    if (!record.enabledSurfaces.includes('tool')) return;
    const problems = toolDefinitionProblems(record.manifest);
    record.manifest.tools.forEach((tool, index) => {
      const issue = (kind: RegistrationIssue['kind'], message: string): void => {
        this.issues.push({ plugin_ref: record.identity, tool: tool.name, kind, message: boundText(message) });
      };
      const definition = problems[index] ?? [];
      if (definition.length > 0) return issue('invalid', `plugin ${record.identity} tool registration rejected: ${definition.join('; ')}`);
      const denied = authorizeTool(record, tool.name);
      if (denied) return issue('denied', `plugin ${record.identity} tool ${tool.name} registration denied: ${denied}`);
      const entry: Entry = {
        runtime,
        validate: compileInputSchema(tool.input_schema),
        info: {
          name: tool.name,
          description: tool.description,
          input_schema: tool.input_schema,
          external_write: tool.external_write,
          origin: {
            kind: 'plugin',
            plugin_ref: record.identity,
            plugin_id: record.manifest.id,
            source: record.source,
            digest: record.digest,
            package_version: record.version,
            package_api_version: record.manifest.schema_version,
            surface: 'tool',
          },
        },
      };
      this.#qualified.set(`${record.identity}/${tool.name}`, entry);
      const first = this.#entries.get(tool.name);
      if (first) {
        issue('collision', `duplicate tool \`${tool.name}\` from ${record.identity}; first registered by ${first.info.origin.plugin_ref} (call it as ${record.identity}/${tool.name})`);
        return;
      }
      this.#entries.set(tool.name, entry);
    });
  }

  /** Registered tools in registration order (unique names). */
  list(): ToolInfo[] {
    return [...this.#entries.values()].map((e) => e.info);
  }

  /** Looks a tool up by name, or by `<plugin ref>/<name>` (reaches a tool that lost a name collision). */
  get(name: string): ToolInfo | undefined {
    return (this.#entries.get(name) ?? this.#qualified.get(name))?.info;
  }

  /** Looks a tool up by plugin ref and tool name only (never by a bare name). */
  getQualified(pluginRef: string, name: string): ToolInfo | undefined {
    return this.#qualified.get(`${pluginRef}/${name}`)?.info;
  }

  /** Calls a tool with JSON input (a string or an already-parsed value). */
  async call(name: string, input: string | JsonValue): Promise<ToolOutput> {
    const entry = this.#entries.get(name) ?? this.#qualified.get(name);
    if (!entry) throw new PluginError('TOOL_NOT_FOUND', `tool \`${boundText(name, 128)}\` is not registered`);
    return this.#invoke(entry, input);
  }

  /** Calls a tool of one plugin, whatever bare names other plugins registered. */
  async callQualified(pluginRef: string, name: string, input: string | JsonValue): Promise<ToolOutput> {
    const entry = this.#qualified.get(`${pluginRef}/${name}`);
    if (!entry) throw new PluginError('TOOL_NOT_FOUND', `plugin \`${boundText(pluginRef, 160)}\` has no registered tool \`${boundText(name, 128)}\``);
    return this.#invoke(entry, input);
  }

  async #invoke(entry: Entry, input: string | JsonValue): Promise<ToolOutput> {
    let parsed: unknown = input;
    if (typeof input === 'string') {
      try {
        parsed = JSON.parse(input);
      } catch {
        throw new PluginError('TOOL_INPUT_INVALID', `plugin tool \`${entry.info.name}\` input is not valid JSON`);
      }
    }
    const problem = inputProblem(entry.validate, parsed);
    if (problem) throw new PluginError('TOOL_INPUT_INVALID', `plugin tool \`${entry.info.name}\` input does not match its input_schema at ${problem}`);
    // The guest gets exactly what was validated (re-serialised), never the caller's raw text.
    return entry.runtime.callTool(entry.info.name, JSON.stringify(parsed));
  }
}
