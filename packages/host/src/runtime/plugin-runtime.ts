import { authorizeTool } from '../authority/authorize.js';
import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import type { JsonValue } from '../manifest/types.js';
import { HostApiDispatcher } from '../hostapi/dispatcher.js';
import { loadComponent, type LoadedComponent } from '../sandbox/component-loader.js';
import { effectiveLimits, IO_LIMITS, type ExecutionLimits } from '../sandbox/limits.js';
import { notStarted, type SandboxCounters } from '../sandbox/sandbox.js';
import { defaultExecution, executionFor, startSandbox, type ExecutionMode, type GuestSandbox as ComponentSandbox } from '../sandbox/execution.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { decodeToolOutput, type ToolOutput } from '../tools/tool-output.js';
import { bytesOver } from '../sandbox/worker/guest-instance.js';
import { decodeLifecycleOutput } from './lifecycle-output.js';
import { GuestLog } from './guest-log.js';
import { NO_SECRETS, type Secrets } from '../secrets/secrets.js';

/** How plugins run: transpile cache, base limits, secrets, execution mode. */
export interface RuntimeOptions {
  readonly cacheDir?: string;
  /** Base limits before the enablement's overrides (defaults: decisions §5). */
  readonly limits?: ExecutionLimits;
  /** Secret values the host may attach for this plugin's granted targets. */
  readonly secrets?: Secrets;
  /** Where guests run (sandbox/execution.ts); default `auto` (or `YOI_EXECUTION`). */
  readonly execution?: ExecutionMode;
  /**
   * Tool-world plugins run in-thread: how many never-used instances each keeps ready for the
   * next calls (default 2). 0 for a host that serves one call and closes (the `yoi plugin call`
   * CLI): the call runs on the instance made when the plugin starts, and none is made ahead.
   */
  readonly spareInstances?: number;
}

/** A runtime's state: `ready` (not started), `starting`, `running`, `failed` or `stopped`. */
export type RuntimeState = 'ready' | 'starting' | 'running' | 'failed' | 'stopped';

export interface InstanceOptions extends RuntimeOptions {
  /**
   * The instance belongs to a service (instance world with service or ingress enabled). Once
   * the service has started it, only the service starts it again: a call never brings up a
   * failed or closed instance on its own, it is refused (`PLUGIN_NOT_RUNNING`).
   */
  readonly supervised?: boolean;
}

export type FailureListener = (error: PluginError) => void;

/** One `handle-ingress` call of a batch. */
export interface IngressCall {
  readonly ingress: string;
  readonly eventJson: string;
}

/** The replies of a batch's calls that returned, in order, and the error of the call that failed (if one did). */
export interface IngressBatchResult {
  readonly replies: readonly string[];
  readonly error?: unknown;
}

/**
 * One enabled plugin's execution: its component in a sandbox, its host APIs bound to its
 * grants. `tool` world: a fresh component instance per call (the worker keeps a spare
 * ready). `instance` world: one long-lived instance, started with the enablement config,
 * shared by its tools, its service and its ingress handlers; calls are serial.
 */
export class PluginRuntime {
  readonly record: ResolvedPlugin;
  readonly limits: ExecutionLimits;
  readonly log = new GuestLog();
  readonly secrets: Secrets;
  readonly #options: RuntimeOptions;
  readonly #supervised: boolean;
  readonly #execution: ExecutionMode;
  readonly #failureListeners = new Set<FailureListener>();
  readonly #toolDecisions = new Map<string, ToolRefusal | null>();
  #decisionBasis: { grants: unknown; permissions: unknown; manifest: unknown; surfaces: unknown } = { grants: null, permissions: null, manifest: null, surfaces: null };
  #component: LoadedComponent | null = null;
  #loading: Promise<LoadedComponent> | null = null;
  #sandbox: Promise<ComponentSandbox> | null = null;
  /** The most recently spawned sandbox, for its counters. */
  #liveSandbox: ComponentSandbox | null = null;
  /** The instance calls run in; a failure of any other (replaced, closed) instance is not news. */
  #current: ComponentSandbox | null = null;
  /** Set once an owner started the instance explicitly (supervised instances only). */
  #owned = false;
  /** Why calls are refused (a supervised instance its owner closed), or null. */
  #refusal: string | null = null;
  #state: RuntimeState = 'ready';
  #componentStatus: JsonValue | null = null;
  /** The `output_commands` the last `start` returned, until the service takes them. */
  #startCommands: JsonValue | null = null;
  #lastError: string | null = null;
  #toolCalls = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(record: ResolvedPlugin, options: InstanceOptions = {}) {
    this.record = record;
    this.#options = options;
    this.#supervised = options.supervised ?? false;
    this.#execution = options.execution ?? defaultExecution();
    this.limits = effectiveLimits(record.limits, options.limits);
    this.secrets = options.secrets ?? NO_SECRETS;
  }

  get state(): RuntimeState {
    return this.#state;
  }

  get world(): 'tool' | 'instance' | null {
    return this.#component?.world ?? null;
  }

  /** Where this plugin's guest runs; null before it is loaded. */
  get execution(): 'worker' | 'in-thread' | null {
    if (this.#liveSandbox) return this.#liveSandbox.execution;
    return this.#component ? executionFor(this.#component, this.#execution) : null;
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
    const sandbox = await startSandbox(component, {
      execution: this.#execution,
      cacheDir: this.#options.cacheDir,
      spareInstances: this.#options.spareInstances,
      memoryBytes: this.limits.memoryBytes,
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
   * still waiting when its instance-world worker died runs on the next instance, if there is
   * one and it can start there in time. A trap, overrun or crash of the current instance is
   * reported to the failure listeners.
   */
  #callSandbox(fn: string, args: readonly (string | number)[], deadlineMs: number): Promise<string> {
    // Fast path: the instance calls run in is up; no awaits before the sandbox sees the call.
    const current = this.#current;
    if (current !== null && current.alive && this.#refusal === null) {
      const deadlineAt = performance.now() + deadlineMs;
      return current.call(fn, args, deadlineMs, deadlineAt).catch((error: unknown) => this.#callFailed(current, error, fn, args, deadlineMs, deadlineAt));
    }
    return this.#callSandboxSlow(fn, args, deadlineMs, null);
  }

  #callFailed(sandbox: ComponentSandbox, error: unknown, fn: string, args: readonly (string | number)[], deadlineMs: number, deadlineAt: number): Promise<string> {
    if (notStarted(error) && performance.now() < deadlineAt) return this.#callSandboxSlow(fn, args, deadlineMs, deadlineAt);
    if (error instanceof PluginError && error.code.startsWith('SANDBOX_')) this.#sandboxError(sandbox, error);
    throw error;
  }

  async #callSandboxSlow(fn: string, args: readonly (string | number)[], deadlineMs: number, startDeadlineAt: number | null): Promise<string> {
    let deadlineAt: number | null = startDeadlineAt;
    for (;;) {
      const sandbox = await this.#ensureSandbox();
      deadlineAt ??= performance.now() + deadlineMs;
      try {
        return await sandbox.call(fn, args, deadlineMs, deadlineAt);
      } catch (error) {
        if (notStarted(error) && performance.now() < deadlineAt) continue;
        if (error instanceof PluginError && error.code.startsWith('SANDBOX_')) this.#sandboxError(sandbox, error);
        throw error;
      }
    }
  }

  #sandboxError(sandbox: ComponentSandbox, error: PluginError): void {
    this.#lastError = boundText(redactText(error.message), 512);
    if (this.world !== 'instance' || this.#current !== sandbox) return;
    this.#state = 'failed';
    this.#sandboxFailed(sandbox, error);
  }

  /**
   * Tells `listener` about every trap, deadline overrun or crash of the current instance,
   * whichever call hit it. Returns the unsubscribe function.
   */
  onFailure(listener: FailureListener): () => void {
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  #sandboxFailed(sandbox: ComponentSandbox, error: PluginError): void {
    if (this.#current !== sandbox) return;
    for (const listener of [...this.#failureListeners]) listener(error);
  }

  /** The live sandbox; an instance-world plugin is started (config passed to `start`) on first use. */
  async #ensureSandbox(): Promise<ComponentSandbox> {
    if (this.#refusal) throw new PluginError('PLUGIN_NOT_RUNNING', this.#refusal);
    if (this.#sandbox) {
      const existing = await this.#sandbox.catch(() => null);
      if (existing?.alive) return existing;
    }
    if (this.#owned) {
      throw new PluginError('PLUGIN_NOT_RUNNING', `plugin instance is not running${this.#lastError ? ` (${this.#lastError})` : ''}; its service restarts it`);
    }
    this.#sandbox = this.#launch();
    return this.#sandbox;
  }

  /** A new instance: a worker with the component, and for the instance world its `start`. */
  async #launch(): Promise<ComponentSandbox> {
    const sandbox = await this.#spawn();
    if ((await this.load()).world === 'instance') {
      this.#state = 'starting';
      try {
        const raw = await sandbox.call('start', [JSON.stringify(this.record.config ?? null)], this.limits.lifecycleTimeoutMs);
        const decoded = decodeLifecycleOutput('start', raw);
        if (!decoded.ok) throw new PluginError('PLUGIN_START_FAILED', decoded.message);
        const { status, commands } = splitStartOutput(decoded.status);
        this.#componentStatus = status;
        this.#startCommands = commands;
        if (commands !== null && !this.#owned) {
          // Only a service runs them; this instance was started for a tool call.
          this.log.append('stderr', '[host] the output commands `start` returned are not run: no service started this instance');
        }
      } catch (error) {
        await sandbox.close();
        this.#fail(error);
        throw error instanceof PluginError && error.code === 'PLUGIN_START_FAILED'
          ? error
          : new PluginError('PLUGIN_START_FAILED', `plugin component start failed: ${messageOf(error)}`, { cause: error });
      }
    }
    this.#state = 'running';
    this.#current = sandbox;
    return sandbox;
  }

  /**
   * The output commands the most recent `start` returned (our addition to PluginStatus:
   * `output_commands`, as a handler returns them), once; null when it returned none.
   */
  takeStartCommands(): JsonValue | null {
    const commands = this.#startCommands;
    this.#startCommands = null;
    return commands;
  }

  #fail(error: unknown): void {
    this.#state = 'failed';
    this.#lastError = boundText(redactText(messageOf(error)), 512);
  }

  /** Takes ownership of a supervised instance: from now on only `start` and `restart` bring it up. */
  #own(): void {
    this.#refusal = null;
    if (this.#supervised) this.#owned = true;
  }

  /** Starts the plugin now (instance world) or prepares its sandbox (tool world). */
  async start(): Promise<void> {
    this.#own();
    if (this.#sandbox) {
      const existing = await this.#sandbox.catch(() => null);
      if (existing?.alive) return;
    }
    this.#sandbox = this.#launch();
    await this.#sandbox;
  }

  /** Resolves once no tool call is in flight (a host retiring this version lets its calls finish). */
  async idle(): Promise<void> {
    while (this.#toolCalls > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Runs one tool; authority is re-checked on every call. */
  async callTool(name: string, inputJson: string): Promise<ToolOutput> {
    this.#toolCalls++;
    try {
      return await this.#callTool(name, inputJson);
    } finally {
      if (--this.#toolCalls === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  async #callTool(name: string, inputJson: string): Promise<ToolOutput> {
    const refused = this.#toolRefusal(name);
    if (refused) throw refused;
    if (bytesOver(inputJson, IO_LIMITS.toolInputBytes) !== null) {
      throw new PluginError('TOOL_INPUT_INVALID', `plugin tool \`${name}\` input exceeds ${IO_LIMITS.toolInputBytes} bytes`);
    }
    const fn = (this.#component ?? (await this.load())).world === 'tool' ? 'call' : 'handleTool';
    return decodeToolOutput(await this.#callSandbox(fn, [name, inputJson], this.limits.toolTimeoutMs));
  }

  /**
   * Why a call of tool `name` is refused, or null. Every call is checked, but a decision is
   * remembered per tool while the record's grants, manifest and surfaces are the same objects
   * (they are read-only; a reloaded enablement replaces them), so a call does not re-walk them.
   */
  #toolRefusal(name: string): PluginError | null {
    const basis = this.#decisionBasis;
    const { grants, manifest, enabledSurfaces } = this.record;
    if (basis.grants !== grants || basis.permissions !== grants.permissions || basis.manifest !== manifest || basis.surfaces !== enabledSurfaces) {
      // Something the decisions rest on was replaced: decide again.
      this.#decisionBasis = { grants, permissions: grants.permissions, manifest, surfaces: enabledSurfaces };
      this.#toolDecisions.clear();
    }
    let decision = this.#toolDecisions.get(name);
    if (decision === undefined) {
      decision = toolDecision(this.record, name);
      if (this.#toolDecisions.size < 1024) this.#toolDecisions.set(name, decision);
    }
    return decision === null ? null : new PluginError(decision.code, decision.message);
  }

  /** Calls `handle-ingress`; returns the guest's raw output. Sandbox failures mark the runtime failed. */
  callIngress(name: string, eventJson: string): Promise<string> {
    return this.#callSandbox('handleIngress', [name, eventJson], this.limits.ingressTimeoutMs);
  }

  /**
   * Calls `handle-ingress` for several events in order, each call with its own deadline,
   * until `next(reply)` says stop or a call fails (trap, deadline, crash). Returns the replies
   * of the calls that returned and the error of the one that failed. `next` is a pure function
   * of the reply (and of whether the caller still wants more), so a sandbox may run the whole
   * batch in one wake-up: an in-thread instance runs it in one synchronous run; a worker gets
   * one call after another.
   */
  async callIngressBatch(calls: readonly IngressCall[], next: (reply: string) => boolean): Promise<IngressBatchResult> {
    const replies: string[] = [];
    for (const call of calls) {
      let reply: string;
      try {
        const called = this.#callIngressNow(call);
        reply = typeof called === 'string' ? called : await called;
      } catch (error) {
        return { replies, error };
      }
      replies.push(reply);
      if (!next(reply)) break;
    }
    return { replies };
  }

  /** An in-thread instance that is up answers at once (no promise per call); otherwise as `callIngress`. */
  #callIngressNow(call: IngressCall): string | Promise<string> {
    const current = this.#current;
    if (current === null || current.execution !== 'in-thread' || !current.alive || this.#refusal !== null) return this.callIngress(call.ingress, call.eventJson);
    const deadlineMs = this.limits.ingressTimeoutMs;
    const deadlineAt = performance.now() + deadlineMs;
    const args = [call.ingress, call.eventJson];
    try {
      return current.callNow('handleIngress', args, deadlineMs, deadlineAt);
    } catch (error) {
      return this.#callFailed(current, error, 'handleIngress', args, deadlineMs, deadlineAt);
    }
  }

  /**
   * Replaces the instance: the old worker is terminated (no `stop`), a new one is started.
   * Calls made meanwhile wait for the new instance.
   */
  async restart(): Promise<void> {
    const previous = this.#sandbox;
    this.#own();
    this.#current = null;
    const next = (async () => {
      const old = previous ? await previous.catch(() => null) : null;
      await old?.close();
      return this.#launch();
    })();
    this.#sandbox = next;
    await next;
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

  /**
   * Stops the plugin (`stop` for instance world) and its worker. Idempotent. A supervised
   * instance then refuses calls with `reason` until its service starts it again.
   */
  async close(reason?: string): Promise<void> {
    const pending = this.#sandbox;
    this.#sandbox = null;
    this.#current = null;
    if (this.#supervised) this.#refusal = reason ?? 'plugin instance is stopped';
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
    if (this.#current === sandbox) this.#current = null;
    if (this.#state !== 'failed') this.#state = 'stopped';
  }
}

/** Start's PluginStatus without its `output_commands`, and those commands. */
function splitStartOutput(output: JsonValue): { status: JsonValue; commands: JsonValue | null } {
  if (typeof output !== 'object' || output === null || Array.isArray(output) || !('output_commands' in output)) return { status: output, commands: null };
  const { output_commands: commands, ...status } = output;
  return { status, commands: commands ?? null };
}

interface ToolRefusal {
  readonly code: 'TOOL_DENIED' | 'TOOL_NOT_FOUND';
  readonly message: string;
}

function toolDecision(record: ResolvedPlugin, name: string): ToolRefusal | null {
  if (!record.enabledSurfaces.includes('tool')) return { code: 'TOOL_DENIED', message: 'plugin tool surface is not enabled' };
  if (!record.manifest.tools.some((t) => t.name === name)) return { code: 'TOOL_NOT_FOUND', message: 'requested tool is not declared by plugin manifest' };
  const denied = authorizeTool(record, name);
  return denied ? { code: 'TOOL_DENIED', message: `plugin permission denied: ${denied}` } : null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
