import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseManifest } from '@yoi-plugins/host/internal/manifest/parse.js';
import { readControlFile } from '@yoi-plugins/host/internal/serve/control-file.js';
import { CommandFailure, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { term } from '../terminal.js';
import { consentMessage, DevLoop, isSourceChange, type DevCycle } from './dev-loop.js';
import { runEnable } from './enable.js';

export interface DevOptions extends CommonOptions {
  /** One build → pin → reload turn, then exit (scripts, CI, tests). */
  readonly once?: boolean;
}

/** Source edits closer together than this make one rebuild. */
const DEBOUNCE_MS = 80;

/**
 * `yoi plugin dev [dir] --workspace WS`: rebuilds, re-checks, re-pins and hot-reloads the
 * plugin on every source change until SIGINT/SIGTERM. Stops (exit 1) when a rebuild requests
 * something not granted; in a terminal it asks through `enable` first.
 */
export async function runDev(io: CliIo, dirArg: string | undefined, options: DevOptions): Promise<void> {
  const stores = storeOptions(io, options);
  const dir = resolve(io.cwd, dirArg ?? '.');
  const loop = new DevLoop(io, dir, stores, { watching: options.once !== true });
  const say = (line: string) => (options.json ? undefined : io.stdout(line + '\n'));
  const progress = (message: string) => (options.json ? undefined : io.stderr(term`yoi plugin dev: ${message}` + '\n'));
  if (!(await readControlFile(stores.workspace))) say(term`serve is not running in ${stores.workspace}: start it with \`yoi plugin serve --workspace ${stores.workspace}\` to see changes live (the loop builds and pins meanwhile)`);

  /** One turn; a consent stop asks in a terminal (then turns again) and otherwise ends the loop. */
  const turn = async (): Promise<DevCycle> => {
    const show = (cycle: DevCycle) => {
      // With --once, a failure is the command's failure (printed once, as JSON with --json).
      if (!options.once || cycle.status === 'live') report(io, cycle, options.json === true, options.once === true);
    };
    let cycle = await loop.cycle(progress);
    show(cycle);
    if (cycle.status === 'needs_consent' && io.interactive) {
      io.stdout(term`${consentLine(cycle)}; review it:` + '\n');
      await runEnable(io, dir, { workspace: stores.workspace });
      cycle = await loop.cycle(progress);
      show(cycle);
    }
    if (cycle.status === 'needs_consent') throw consentMessage(cycle, relative(io.cwd, dir) || '.', stores.workspace);
    if (!options.once) return cycle;
    if (cycle.status === 'build_failed') throw new CommandFailure(`build failed: ${cycle.message}`, 'build_failed', { lines: cycle.lines, ...(cycle.lines.length > 0 ? { details: { errors: cycle.lines } } : {}) });
    if (cycle.status === 'check_failed') throw new CommandFailure(`check failed: ${cycle.message}`, 'plugin_rejected');
    if (cycle.status === 'pin_failed') throw new CommandFailure(`pin failed: ${cycle.message}`, 'failed');
    return cycle;
  };

  if (options.once) {
    await turn();
    return;
  }

  const componentPath = await readFile(join(dir, 'plugin.toml')).then((bytes) => {
    const parsed = parseManifest(bytes);
    return parsed.ok && parsed.value.runtime?.kind === 'wasm-component' ? (parsed.value.runtime.component ?? null) : null;
  }, () => null);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let again = false;
  let failure: unknown = null;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = turn()
      .catch((error: unknown) => {
        failure = error;
        finish();
      })
      .finally(() => {
        running = null;
        if (again && failure === null) {
          again = false;
          run();
        }
      });
  };
  const watcher = watch(dir, { recursive: true }, (_event, name) => {
    const path = typeof name === 'string' ? name : '';
    if (path && !isSourceChange(path, componentPath)) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  });
  say(term`watching ${dir} (Ctrl-C to stop)`);
  run();
  const stop = () => finish();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await finished;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    watcher.close();
    if (timer) clearTimeout(timer);
    await running;
  }
  if (failure !== null) throw failure;
}

function consentLine(cycle: Extract<DevCycle, { status: 'needs_consent' }>): string {
  return cycle.first ? `${cycle.identity} is not enabled in this workspace yet` : `${cycle.identity} requests something new: ${cycle.added.join(', ')}`;
}

/** One cycle: a human line (and the plugin's log lines), or JSON (one line per cycle while watching). */
function report(io: CliIo, cycle: DevCycle, json: boolean, once: boolean): void {
  if (json) {
    io.stdout(JSON.stringify({ command: 'dev', ...cycle }, null, once ? 2 : undefined) + '\n');
    return;
  }
  switch (cycle.status) {
    case 'build_failed':
      io.stderr(term`build failed: ${cycle.message}` + '\n' + cycle.lines.map((l) => term`  ${l}` + '\n').join(''));
      return;
    case 'check_failed':
      io.stderr(term`check failed: ${cycle.message}` + '\n');
      return;
    case 'pin_failed':
      io.stderr(term`pin failed: ${cycle.message}` + '\n');
      return;
    case 'needs_consent':
      io.stdout(term`${consentLine(cycle)}` + '\n');
      return;
    case 'live': {
      const steps = [cycle.built ? 'built' : 'up to date', cycle.repinned ? 're-pinned' : 'pin unchanged'];
      const serve =
        cycle.serve === 'reloaded' ? 'reloaded in serve' : cycle.serve === 'unchanged' ? 'serve runs it' : cycle.serve === 'serve_not_running' ? 'serve is not running' : term`serve kept the previous version: ${cycle.reason ?? ''}`;
      io.stdout(term`${cycle.identity} ${cycle.version} ${cycle.digest.slice(0, 19)}…: ${steps.join(', ')}, ${serve} (${cycle.duration_ms} ms)` + '\n');
      for (const line of cycle.log_lines) io.stdout(term`  [${cycle.identity} ${line.stream}] ${line.text}` + '\n');
      return;
    }
  }
}
