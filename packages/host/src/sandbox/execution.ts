import { interruptibleModules, InterruptiblePending, type LoadedComponent } from './component-loader.js';
import { PluginError } from '../errors.js';
import { InThreadSandbox } from './in-thread.js';
import { ComponentSandbox, type SandboxOptions } from './sandbox.js';

/**
 * Where guests run. `auto` (the default): a guest that imports no host API (each one blocks:
 * request, fs, pull WebSocket) runs on the calling thread with an interrupt-checked deadline
 * (InThreadSandbox); one that does, or whose modules cannot be made interruptible, runs in a
 * worker (ComponentSandbox), and the plugin log says why. So does a large guest (QuickJS) whose
 * interruptible modules are not cached yet: they are made in a background thread meanwhile,
 * and its next start runs in-thread (a first start never waits seconds for binaryen). `in-thread`: the same choice, but a
 * module that cannot be made interruptible fails the load. `worker`: every guest in workers.
 */
export type ExecutionMode = 'auto' | 'worker' | 'in-thread';

const MODES: readonly ExecutionMode[] = ['auto', 'worker', 'in-thread'];

/** The mode when a host is given none: `YOI_EXECUTION` when it names one (operators, benchmarks), else `auto`. */
export function defaultExecution(env: NodeJS.ProcessEnv = process.env): ExecutionMode {
  const named = env['YOI_EXECUTION'];
  return MODES.find((mode) => mode === named) ?? 'auto';
}

export type GuestSandbox = ComponentSandbox | InThreadSandbox;

export interface StartOptions extends Omit<SandboxOptions, 'gluePath' | 'modules' | 'mode' | 'hostInterfaces' | 'inertInterfaces'> {
  readonly execution: ExecutionMode;
  readonly cacheDir?: string | undefined;
  /** In-thread tool world: instances kept ready (InThreadOptions.spareInstances). */
  readonly spareInstances?: number | undefined;
}

/** Which sandbox `component` gets under `execution`. */
export function executionFor(component: LoadedComponent, execution: ExecutionMode): 'worker' | 'in-thread' {
  return execution !== 'worker' && component.mayRunInThread ? 'in-thread' : 'worker';
}

export async function startSandbox(component: LoadedComponent, options: StartOptions): Promise<GuestSandbox> {
  if (executionFor(component, options.execution) === 'in-thread') {
    let modules: Readonly<Record<string, WebAssembly.Module>>;
    try {
      modules = await interruptibleModules(component, { memoryBytes: options.memoryBytes, deferLarge: options.execution === 'auto', ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) });
    } catch (error) {
      if (options.execution !== 'auto' || !(error instanceof InterruptiblePending || error instanceof PluginError)) throw error;
      // Never worse than a worker: the guest still runs, with its deadline enforced by terminate().
      options.onLog?.('stderr', `[host] the guest runs in a worker thread: ${error instanceof Error ? error.message : String(error)}`);
      return startWorkerSandbox(component, options);
    }
    return InThreadSandbox.start({
      gluePath: component.transpiled.gluePath,
      modules,
      mode: component.world,
      memoryBytes: options.memoryBytes,
      inertInterfaces: component.inertInterfaces,
      onLog: options.onLog,
      ...(options.startupMs !== undefined ? { startupMs: options.startupMs } : {}),
      ...(options.spareInstances !== undefined ? { spareInstances: options.spareInstances } : {}),
    });
  }
  return startWorkerSandbox(component, options);
}

async function startWorkerSandbox(component: LoadedComponent, options: StartOptions): Promise<ComponentSandbox> {
  return ComponentSandbox.start({
    ...options,
    gluePath: component.transpiled.gluePath,
    modules: await component.workerModules(),
    mode: component.world,
    hostInterfaces: component.hostInterfaces,
    inertInterfaces: component.inertInterfaces,
  });
}
