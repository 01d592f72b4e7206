/**
 * Makes a core module interruptible: a check at every function entry, loop header and return
 * (binaryen's `log-execution` pass places them), inlined as a countdown on a module global.
 * Every CHECK_INTERVAL checks it calls the imported `yoi:interrupt`.`check`, a tiny Wasm
 * function that reads the interrupt flag from shared memory and traps when it is set (see
 * watchdog.ts). Node 20's V8 has no multi-memory, so the flag cannot be read inline.
 *
 * Measured (bench/interrupt.mjs): a call to the checker at every check costs 11× on a
 * one-cycle loop, the countdown ~3× there, and the countdown interval barely matters (64 vs
 * 1,000: 3.4× vs 3.1×). So the interval is short: between two flag reads run at most
 * CHECK_INTERVAL check-free stretches of code, i.e. straight-line runs within one function.
 */
export const INTERRUPT_MODULE = 'yoi:interrupt';
export const INTERRUPT_CHECK = 'check';
export const CHECK_INTERVAL = 128;
/** Changes whenever the rewrite's output would change for the same input (part of its cache key). */
export const INSTRUMENT_FORMAT = 2;

type Binaryen = typeof import('binaryen').default;

let loading: Promise<Binaryen> | null = null;

/** binaryen takes ~0.5 s to import: only a cache miss pays it. */
export function loadBinaryen(): Promise<Binaryen> {
  loading ??= import('binaryen').then((m) => m.default);
  return loading;
}

export async function binaryenVersion(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const { dirname, join } = await import('node:path');
  const entry = fileURLToPath(import.meta.resolve('binaryen'));
  return (JSON.parse(readFileSync(join(dirname(entry), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Returns the instrumented module. Throws when binaryen cannot read or validate it. */
export async function instrumentInterrupts(module: Uint8Array): Promise<Uint8Array> {
  const binaryen = await loadBinaryen();
  const m = binaryen.readBinary(withoutNameSection(module));
  try {
    m.setFeatures(binaryen.Features.All);
    m.runPasses(['log-execution']);
    const probe = 'log_execution';
    if (!m.getFunction(probe)) return module; // nothing to instrument (no functions)
    // Only the check may be inlined: the guest's own functions stay as they were.
    binaryen.setPassArgument('no-inline', '*');
    m.runPasses(['no-inline']);
    binaryen.setPassArgument('no-inline', null);
    m.removeFunction(probe);
    const check = '__yoi_interrupt_check';
    const budget = '__yoi_interrupt_budget';
    m.addFunctionImport(check, INTERRUPT_MODULE, INTERRUPT_CHECK, binaryen.none, binaryen.none);
    m.addGlobal(budget, binaryen.i32, true, m.i32.const(CHECK_INTERVAL));
    const left = () => m.global.get(budget, binaryen.i32);
    m.addFunction(
      probe,
      binaryen.createType([binaryen.i32]),
      binaryen.none,
      [],
      m.block(null, [
        m.global.set(budget, m.i32.sub(left(), m.i32.const(1))),
        m.if(m.i32.lt_s(left(), m.i32.const(0)), m.block(null, [m.global.set(budget, m.i32.const(CHECK_INTERVAL)), m.call(check, [], binaryen.none)])),
      ]),
    );
    const previous = binaryen.getAlwaysInlineMaxSize();
    binaryen.setAlwaysInlineMaxSize(32);
    try {
      m.runPasses(['inlining']);
    } finally {
      binaryen.setAlwaysInlineMaxSize(previous);
    }
    if (m.getFunction(probe)) m.removeFunction(probe);
    if (!m.validate()) throw new Error('instrumented module does not validate');
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** The same rewrite in a worker thread (the host thread stays free); an error there rejects. The thread holds no process open. */
export async function instrumentInterruptsOffThread(module: Uint8Array): Promise<Uint8Array> {
  const { Worker } = await import('node:worker_threads');
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./instrument-thread.js', import.meta.url), { workerData: module });
    worker.unref(); // a process that ends meanwhile just leaves the module uncached
    worker.once('message', (bytes: Uint8Array) => resolve(bytes));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the instrumentation thread exited (${code}) without a result`)));
  });
}

/**
 * The module without its `name` custom section: debug names only, and binaryen warns on
 * stdout about subsections it does not know (wasm-tools writes some).
 */
function withoutNameSection(module: Uint8Array): Uint8Array {
  const keep: Uint8Array[] = [module.subarray(0, 8)];
  let offset = 8;
  while (offset < module.length) {
    const id = module[offset]!;
    let size = 0;
    let shift = 0;
    let cursor = offset + 1;
    for (;;) {
      const byte = module[cursor++];
      if (byte === undefined || shift > 28) return module; // malformed: let binaryen report it
      size |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
    }
    const end = cursor + (size >>> 0);
    if (end > module.length) return module;
    const isName = id === 0 && module[cursor] === 4 && module[cursor + 1] === 0x6e && module[cursor + 2] === 0x61 && module[cursor + 3] === 0x6d && module[cursor + 4] === 0x65;
    if (!isName) keep.push(module.subarray(offset, end));
    offset = end;
  }
  return Buffer.concat(keep);
}

/** `(module (import "yoi" "flag" (memory 1 1 shared)) (func (export "check") (if (i32.lt_s (i32.atomic.load (i32.const 0)) (i32.const 0)) (then unreachable))))` */
export const CHECKER_MODULE = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // type section: one type () -> ()
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
  // import section: "yoi" "flag" memory, shared, min 1 max 1
  0x02, 0x0e, 0x01, 0x03, 0x79, 0x6f, 0x69, 0x04, 0x66, 0x6c, 0x61, 0x67, 0x02, 0x03, 0x01, 0x01,
  // function section
  0x03, 0x02, 0x01, 0x00,
  // export section: "check"
  0x07, 0x09, 0x01, 0x05, 0x63, 0x68, 0x65, 0x63, 0x6b, 0x00, 0x00,
  // code section
  0x0a, 0x11, 0x01, 0x0f, 0x00,
  0x41, 0x00, // i32.const 0
  0xfe, 0x10, 0x02, 0x00, // i32.atomic.load align=4 offset=0
  0x41, 0x00, // i32.const 0
  0x48, // i32.lt_s
  0x04, 0x40, 0x00, 0x0b, // if unreachable end
  0x0b,
);
