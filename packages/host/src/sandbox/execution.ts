import { interruptibleModules, type LoadedComponent } from './component-loader.js';
import { InThreadSandbox } from './in-thread.js';
import { ComponentSandbox, type SandboxOptions } from './sandbox.js';

/**
 * Where guests run. `worker`: every guest in worker threads (ComponentSandbox). `in-thread`:
 * a guest that imports no host API (each one blocks) runs on the calling thread with an
 * interrupt-checked deadline (InThreadSandbox); one that does still gets a worker.
 */
export type ExecutionMode = 'worker' | 'in-thread';

export type GuestSandbox = ComponentSandbox | InThreadSandbox;

export interface StartOptions extends Omit<SandboxOptions, 'gluePath' | 'modules' | 'mode' | 'hostInterfaces' | 'inertInterfaces'> {
  readonly execution: ExecutionMode;
  readonly cacheDir?: string | undefined;
}

/** Which sandbox `component` gets under `execution`. */
export function executionFor(component: LoadedComponent, execution: ExecutionMode): 'worker' | 'in-thread' {
  return execution === 'in-thread' && component.mayRunInThread ? 'in-thread' : 'worker';
}

export async function startSandbox(component: LoadedComponent, options: StartOptions): Promise<GuestSandbox> {
  if (executionFor(component, options.execution) === 'in-thread') {
    const modules = await interruptibleModules(component, { memoryBytes: options.memoryBytes, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) });
    return InThreadSandbox.start({
      gluePath: component.transpiled.gluePath,
      modules,
      mode: component.world,
      memoryBytes: options.memoryBytes,
      inertInterfaces: component.inertInterfaces,
      onLog: options.onLog,
      ...(options.startupMs !== undefined ? { startupMs: options.startupMs } : {}),
    });
  }
  return ComponentSandbox.start({
    ...options,
    gluePath: component.transpiled.gluePath,
    modules: component.modules,
    mode: component.world,
    hostInterfaces: component.hostInterfaces,
    inertInterfaces: component.inertInterfaces,
  });
}
