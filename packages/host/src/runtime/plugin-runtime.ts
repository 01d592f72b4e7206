import { authorizeTool } from '../authority/authorize.js';
import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import type { JsonValue } from '../manifest/types.js';
import { HostApiDispatcher } from '../hostapi/dispatcher.js';
import { loadComponent, type LoadedComponent } from '../sandbox/component-loader.js';
import { effectiveLimits, IO_LIMITS, type ExecutionLimits } from '../sandbox/limits.js';
import { ComponentSandbox, notStarted, type SandboxCounters } from '../sandbox/sandbox.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { decodeToolOutput, type ToolOutput } from '../tools/tool-output.js';
import { decodeLifecycleOutput } from './lifecycle-output.js';
import { GuestLog } from './guest-log.js';
import { NO_SECRETS, type Secrets } from '../secrets/secrets.js';

export interface RuntimeOptions {
  readonly cacheDir?: string;
  /** Base limits before the enablement's overrides (defaults: decisions §5). */
  readonly limits?: ExecutionLimits;
  /** Secret values the host may attach for this plugin's granted targets. */
  readonly secrets?: Secrets;
}

export type RuntimeState = 'ready' | 'starting' | 'running' | 'failed' | 'stopped';

export interface RuntimeSupervisor {
  /** Why a call may not enter the instance now, or null. */
  admit(): string | null;
  /** Whether restarts are the supervisor's job right now. */
  supervising(): boolean;
  /** Told about every trap, deadline overrun or crash, whichever call hit it. */
  sandboxFailed(error: PluginError): void;
}

/**
 * One enabled plugin's execution: its component in a sandbox, its host APIs bound to its
 * grants. `tool` world: a fresh component instance per call (the worker keeps a spare
 * ready). `instance` world: one long-lived instance, started with the enablement config,
 * shared by tools (and, later, services and ingress); calls are serial.
 */
export class PluginRuntime {
  readonly record: ResolvedPlugin;
  readonly limits: ExecutionLimits;
  readonly log = new GuestLog();
  readonly secrets: Secrets;
  readonly #options: RuntimeOptions;
  #component: LoadedComponent | null = null;
  #loading: Promise<LoadedComponent> | null = null;
  #sandbox: Promise<ComponentSandbox> | null = null;
  #liveSandbox: ComponentSandbox | null = null;
  #state: RuntimeState = 'ready';
  #componentStatus: JsonValue | null = null;
  #lastError: string | null = null;
  /**
   * Set by a service that supervises this instance. While it supervises, calls are admitted
   * only when it says so (never into a Failed, Restarting or Disabled instance) and a dead
   * sandbox is restarted by the supervisor, not by the next call.
   */
  supervisor: RuntimeSupervisor | null = null;

  constructor(record: ResolvedPlugin, options: RuntimeOptions = {}) {
    this.record = record;
    this.#options = options;
    this.limits = effectiveLimits(record.limits, options.limits);
    this.secrets = options.secrets ?? NO_SECRETS;
  }

  get state(): RuntimeState {
    return this.#state;
  }

  get world(): 'tool' | 'instance' | null {
    return this.#component?.world ?? null;
  }

  get componentStatus(): JsonValue | null {
    return this.#componentStatus;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  /** What the current sandbox did with its calls (refusals, queue expiries, deadline kills); null before it started. */
  get sandboxCounters(): SandboxCounters | null {
    return this.#liveSandbox?.counters ?? null;
  }

  /** Loads (verifies, transpiles, compiles) the component once, however many calls ask at the same time. */
  load(): Promise<LoadedComponent> {
    this.#loading ??= loadComponent(this.record, { memoryBytes: this.limits.memoryBytes, ...(this.#options.cacheDir ? { cacheDir: this.#options.cacheDir } : {}) }).then(
      (component) => (this.#component = component),
      (error: unknown) => {
        this.#loading = null; // a later call may try again
        throw error;
      },
    );
    return this.#loading;
  }

  async #spawn(): Promise<ComponentSandbox> {
    const component = await this.load();
    const sandbox = await ComponentSandbox.start({
      gluePath: component.transpiled.gluePath,
      modules: component.modules,
      mode: component.world,
      memoryBytes: this.limits.memoryBytes,
      hostInterfaces: component.hostInterfaces,
      inertInterfaces: component.inertInterfaces,
      hostSession: () => new HostApiDispatcher(this.record, this.secrets),
      maxQueued: this.limits.queuedCalls,
      maxWorkers: this.limits.toolWorkers,
      onLog: (stream, text) => this.log.append(stream, text),
    });
    this.#liveSandbox = sandbox;
    return sandbox;
  }

  /**
   * Runs one export call; it must start within its deadline of its first admission. A call
   * still waiting when its instance-world worker died runs on the next instance, if it can
   * start there in time.
   */
  async #callSandbox(fn: string, args: readonly (string | number)[], deadlineMs: number): Promise<string> {
    let deadlineAt: number | null = null;
    for (;;) {
      const sandbox = await this.#ensureSandbox();
      deadlineAt ??= performance.now() + deadlineMs;
      try {
        return await sandbox.call(fn, args, deadlineMs, deadlineAt);
      } catch (error) {
        if (!notStarted(error) || performance.now() >= deadlineAt) throw error;
      }
    }
  }

  /** The live sandbox; an instance-world plugin is started (config passed to `start`) on first use. */
  async #ensureSandbox(): Promise<ComponentSandbox> {
    for (;;) {
      const closed = this.supervisor?.admit();
      if (closed) throw new PluginError('PLUGIN_NOT_RUNNING', closed);
      const pending = this.#sandbox;
      if (!pending) break;
      const existing = await pending.catch(() => null);
      if (this.#sandbox !== pending) continue; // another call replaced it meanwhile: use that one
      if (existing?.alive) return existing;
      this.#sandbox = null;
      if (this.supervisor?.supervising()) throw new PluginError('PLUGIN_NOT_RUNNING', 'plugin instance is being restarted');
    }
    this.#sandbox = (async () => {
      const sandbox = await this.#spawn();
      if (sandbox && (await this.load()).world === 'instance') {
        this.#state = 'starting';
        try {
          const raw = await sandbox.call('start', [JSON.stringify(this.record.config ?? null)], this.limits.lifecycleTimeoutMs);
          const decoded = decodeLifecycleOutput('start', raw);
          if (!decoded.ok) throw new PluginError('PLUGIN_START_FAILED', decoded.message);
          this.#componentStatus = decoded.status;
        } catch (error) {
          await sandbox.close();
          this.#fail(error);
          throw error instanceof PluginError && error.code === 'PLUGIN_START_FAILED'
            ? error
            : new PluginError('PLUGIN_START_FAILED', `plugin component start failed: ${messageOf(error)}`, { cause: error });
        }
      }
      this.#state = 'running';
      return sandbox;
    })();
    return this.#sandbox;
  }

  #fail(error: unknown): void {
    this.#state = 'failed';
    this.#lastError = boundText(redactText(messageOf(error)), 512);
  }

  /** Starts the plugin now (instance world) or prepares its sandbox (tool world). */
  async start(): Promise<void> {
    await this.#ensureSandbox();
  }

  /** Runs one tool; authority is re-checked on every call. */
  async callTool(name: string, inputJson: string): Promise<ToolOutput> {
    if (!this.record.enabledSurfaces.includes('tool')) throw new PluginError('TOOL_DENIED', 'plugin tool surface is not enabled');
    if (!this.record.manifest.tools.some((t) => t.name === name)) throw new PluginError('TOOL_NOT_FOUND', 'requested tool is not declared by plugin manifest');
    const denied = authorizeTool(this.record, name);
    if (denied) throw new PluginError('TOOL_DENIED', `plugin permission denied: ${denied}`);
    if (Buffer.byteLength(inputJson, 'utf8') > IO_LIMITS.toolInputBytes) {
      throw new PluginError('TOOL_INPUT_INVALID', `plugin tool \`${name}\` input exceeds ${IO_LIMITS.toolInputBytes} bytes`);
    }
    const fn = (await this.load()).world === 'tool' ? 'call' : 'handleTool';
    try {
      const raw = await this.#callSandbox(fn, [name, inputJson], this.limits.toolTimeoutMs);
      return decodeToolOutput(raw);
    } catch (error) {
      if (error instanceof PluginError && error.code.startsWith('SANDBOX_')) {
        this.#lastError = boundText(error.message, 512);
        if (this.world === 'instance') {
          this.#state = 'failed';
          this.supervisor?.sandboxFailed(error);
        }
      }
      throw error;
    }
  }

  /** Calls `handle-ingress`; returns the guest's raw output. Sandbox failures mark the runtime failed. */
  async callIngress(name: string, eventJson: string): Promise<string> {
    try {
      return await this.#callSandbox('handleIngress', [name, eventJson], this.limits.ingressTimeoutMs);
    } catch (error) {
      if (error instanceof PluginError && error.code.startsWith('SANDBOX_')) {
        this.#fail(error);
        this.supervisor?.sandboxFailed(error);
      }
      throw error;
    }
  }

  /** Replaces the instance: the old worker is terminated (no `stop`), a new one is started. */
  async restart(): Promise<void> {
    const pending = this.#sandbox;
    this.#sandbox = null;
    const sandbox = pending ? await pending.catch(() => null) : null;
    await sandbox?.close();
    const supervisor = this.supervisor;
    this.supervisor = null;
    try {
      await this.#ensureSandbox();
    } finally {
      this.supervisor = supervisor;
    }
  }

  /** Calls `status` on a running instance-world plugin. */
  async status(): Promise<JsonValue | null> {
    if (this.world !== 'instance' || this.#state !== 'running' || !this.#sandbox) return this.#componentStatus;
    const sandbox = await this.#sandbox;
    let raw: string;
    try {
      raw = await sandbox.call('status', [], this.limits.lifecycleTimeoutMs);
    } catch (error) {
      this.#fail(error);
      throw error;
    }
    const decoded = decodeLifecycleOutput('status', raw);
    if (!decoded.ok) {
      this.#fail(decoded.message);
      return this.#componentStatus;
    }
    this.#componentStatus = decoded.status;
    return decoded.status;
  }

  /** Stops the plugin (`stop` for instance world) and its worker. Idempotent. */
  async close(): Promise<void> {
    const pending = this.#sandbox;
    this.#sandbox = null;
    const sandbox = pending ? await pending.catch(() => null) : null;
    if (sandbox?.alive && this.world === 'instance' && this.#state === 'running') {
      try {
        const decoded = decodeLifecycleOutput('stop', await sandbox.call('stop', [], this.limits.lifecycleTimeoutMs));
        if (decoded.ok) this.#componentStatus = decoded.status;
      } catch {
        // the instance is stopped either way
      }
    }
    await sandbox?.close();
    if (this.#state !== 'failed') this.#state = 'stopped';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
