/**
 * The inert WASI set: what a language runtime needs that carries no authority. Real clocks
 * and cryptographic randomness (a component built without them has time frozen at build
 * time and identical "random" bytes in every build); stdout/stderr captured into the
 * plugin's bounded log; and empty answers for what runtimes ask at start-up: no
 * environment variables or arguments, an empty stdin, no terminal, no preopened
 * directories (so no file descriptor can ever be obtained), and `exit` ending the call.
 */
const MAX_LOG_WRITE = 4096;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread up to `ms` (a guest waiting on a pollable). */
export type Sleep = (ms: number) => void;
const blockThread: Sleep = (ms) => void Atomics.wait(sleeper, 0, 0, ms);

class WasiError {
  constructor(readonly message: string) {}
  toDebugString(): string {
    return this.message;
  }
}

class Pollable {
  constructor(
    private readonly deadlineNs: bigint | null,
    private readonly sleep: Sleep = blockThread,
  ) {}
  ready(): boolean {
    return this.deadlineNs === null || process.hrtime.bigint() >= this.deadlineNs;
  }
  block(): void {
    if (this.deadlineNs === null) return;
    const remainingMs = Number(this.deadlineNs - process.hrtime.bigint()) / 1e6;
    if (remainingMs > 0) this.sleep(remainingMs);
  }
}

function poller(sleep: Sleep): (list: Pollable[]) => Uint32Array {
  return (list) => {
    if (list.length === 0) return new Uint32Array();
    for (;;) {
      const ready = list.flatMap((p, i) => (p.ready() ? [i] : []));
      if (ready.length > 0) return Uint32Array.from(ready);
      sleep(1);
    }
  };
}

class InputStream {
  read(): never {
    throw { tag: 'closed' };
  }
  blockingRead(): never {
    throw { tag: 'closed' };
  }
  subscribe(): Pollable {
    return new Pollable(null);
  }
}

class OutputStream {
  constructor(private readonly sink: (bytes: Uint8Array) => void) {}
  checkWrite(): bigint {
    return BigInt(MAX_LOG_WRITE);
  }
  write(bytes: Uint8Array): void {
    this.sink(bytes);
  }
  blockingWriteAndFlush(bytes: Uint8Array): void {
    this.sink(bytes);
  }
  flush(): void {}
  blockingFlush(): void {}
  subscribe(): Pollable {
    return new Pollable(null);
  }
}

class TerminalInput {}
class TerminalOutput {}
/** No descriptor is ever handed out: there are no preopens. */
class Descriptor {}
class DirectoryEntryStream {}

export type LogSink = (stream: 'stdout' | 'stderr', text: string) => void;

/** Guest output allowed per call; the rest is dropped and counted, so printing in a loop cannot flood the host. */
export const LOG_BYTES_PER_CALL = 64 * 1024;

let logBudget = LOG_BYTES_PER_CALL;
let logDropped = 0;

/** Starts a new call's log budget; returns how many bytes the previous call had dropped. */
export function resetLogBudget(): number {
  const dropped = logDropped;
  logBudget = LOG_BYTES_PER_CALL;
  logDropped = 0;
  return dropped;
}

/**
 * Import-object entries for the requested inert interfaces (unversioned names, as jco keys
 * them). `sleep` is how a guest waiting on a pollable blocks: a guest on the host thread
 * passes one that ends at its deadline.
 */
export function inertImports(interfaces: readonly string[], log: LogSink, sleep: Sleep = blockThread): Record<string, Record<string, unknown>> {
  const decoder = new TextDecoder();
  const stream = (name: 'stdout' | 'stderr') =>
    new OutputStream((bytes) => {
      const allowed = Math.min(bytes.byteLength, MAX_LOG_WRITE, logBudget);
      logDropped += bytes.byteLength - allowed;
      if (allowed <= 0) return;
      logBudget -= allowed;
      log(name, decoder.decode(bytes.subarray(0, allowed)));
    });
  const stdout = stream('stdout');
  const stderr = stream('stderr');
  const all: Record<string, Record<string, unknown>> = {
    'wasi:clocks/wall-clock': {
      now: () => {
        const ms = Date.now();
        return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1e6 };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: 1e6 }),
    },
    'wasi:clocks/monotonic-clock': {
      now: () => process.hrtime.bigint(),
      resolution: () => 1n,
      subscribeInstant: (when: bigint) => new Pollable(when, sleep),
      subscribeDuration: (duration: bigint) => new Pollable(process.hrtime.bigint() + duration, sleep),
    },
    'wasi:random/random': {
      getRandomBytes: (length: bigint) => crypto.getRandomValues(new Uint8Array(Math.min(Number(length), 65536))),
      getRandomU64: () => new BigUint64Array(crypto.getRandomValues(new BigUint64Array(1)).buffer)[0]!,
    },
    'wasi:random/insecure-seed': {
      insecureSeed: () => {
        const seed = crypto.getRandomValues(new BigUint64Array(2));
        return [seed[0]!, seed[1]!];
      },
    },
    'wasi:cli/environment': { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
    'wasi:cli/exit': {
      exit: () => {
        throw new Error('guest called exit');
      },
    },
    'wasi:cli/stdin': { getStdin: () => new InputStream() },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'wasi:filesystem/types': { Descriptor, DirectoryEntryStream, filesystemErrorCode: () => undefined },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:io/error': { Error: WasiError },
    'wasi:io/poll': { Pollable, poll: poller(sleep) },
  };
  const out: Record<string, Record<string, unknown>> = {};
  for (const name of interfaces) if (all[name]) out[name] = all[name];
  return out;
}
