import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * A real nats-server with JetStream for tests and benchmarks: on a loopback port the server
 * picks, with its own temporary store, started and stopped by PID, every wait bounded.
 */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number;
  /** SIGKILL (a crash): resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and store (after `kill`). */
  restart(): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s; removes the store. Idempotent. */
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** Lines of nats-server configuration (e.g. `max_payload: 65536`). */
  readonly config?: string;
  /** Without `-js`: a server that has no JetStream. */
  readonly jetstream?: boolean;
  readonly readyTimeoutMs?: number;
}

const INSTALL_HINT = 'install it (Debian/Ubuntu: `apt-get install -y nats-server`; elsewhere see https://docs.nats.io/running-a-nats-service/introduction/installation) or set NATS_SERVER to its path';

/** The nats-server binary: `NATS_SERVER`, else the first on PATH or in /usr/sbin (where Debian installs it). */
export function findNatsServer(): string | null {
  const explicit = process.env.NATS_SERVER;
  const candidates = explicit ? [explicit] : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin'].map((dir) => join(dir, 'nats-server'));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * Whether the JetStream tests run. In CI they always run (and fail without nats-server, with
 * how to install it); on a developer machine without nats-server they are reported as
 * skipped with that reason, so the README's `npm test` holds on a fresh machine.
 */
export function natsSkipReason(): string | false {
  if (findNatsServer() !== null) return false;
  if (!process.env.CI) return `nats-server is not installed (outside CI): skipped; to run them, ${INSTALL_HINT}`;
  return false;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = findNatsServer();
  if (binary === null) throw new Error(`the JetStream tests need nats-server (2.9.4 or newer) and it was not found: ${INSTALL_HINT}.`);
  const root = mkdtempSync(join(tmpdir(), 'yoi-nats-'));
  const storeDir = join(root, 'store');
  const args = ['-a', '127.0.0.1', '-sd', storeDir];
  if (options.jetstream !== false) args.push('-js');
  if (options.config) {
    const file = join(root, 'server.conf');
    writeFileSync(file, `${options.config}\n`);
    args.push('-c', file);
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  let child: ChildProcess;
  let port = -1;
  let stopped = false;

  const launch = async (): Promise<void> => {
    child = spawn(binary, [...args, '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const ready = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server was not ready within ${readyTimeoutMs} ms:\n${log.slice(-2000)}`)), readyTimeoutMs);
      let listening = -1;
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        log = (log + chunk).slice(-8192);
        const match = /Listening for client connections on [^\s]+:(\d+)/.exec(log);
        if (match) listening = Number(match[1]);
        if (listening > 0 && /Server is ready/.test(log)) {
          clearTimeout(timer);
          resolve(listening);
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${signal ?? code}) before it was ready:\n${log.slice(-2000)}`));
      });
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    // Keep draining stderr so the server never blocks on a full pipe.
    child.stderr!.resume();
    port = ready;
  };

  const exited = (signal: NodeJS.Signals, graceMs: number): Promise<void> =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(signal);
    });

  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  try {
    await launch();
  } catch (error) {
    process.removeListener('exit', killOnExit);
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    get pid() {
      return child.pid!;
    },
    kill: () => exited('SIGKILL', 0),
    restart: launch,
    async stop() {
      if (stopped) return;
      stopped = true;
      await exited('SIGTERM', 5000);
      process.removeListener('exit', killOnExit);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
