import type { CallRequest } from './protocol.js';

/**
 * The shared buffer a call and its successful result cross in, so the hot path of a worker
 * call needs no structured clone and no port message: the host writes the request, flips the
 * call word to CALL; the worker decodes it, runs it, writes the result, flips DONE. Both sides
 * take turns (the host never writes while a call runs, the worker never after DONE), so one
 * region serves both directions. What does not fit (or a failure, which carries a classified
 * cause) travels on the call port as before; the length word says which.
 *
 * Layout: Int32 length word (bytes of the message, or ON_PORT), then the message.
 * Request: u32 id, u32 fn bytes, fn, u32 argc, then per argument u8 tag (0 string: u32
 * bytes, UTF-8; 1 number: f64). Result: u32 id, then the value's UTF-8 bytes.
 */
const ON_PORT = -1;
const HEADER = 8;

/** Holds a tool input and a guest output at their bounds (64 KiB each, UTF-8) with room for the framing. */
export const CALL_BUFFER_BYTES = 160 * 1024;

export class CallBuffer {
  readonly #length: Int32Array;
  readonly #bytes: Buffer;
  readonly #view: DataView;

  constructor(shared: SharedArrayBuffer) {
    this.#length = new Int32Array(shared, 0, 1);
    this.#bytes = Buffer.from(shared, HEADER);
    this.#view = new DataView(shared, HEADER);
  }

  /** Writes the request; false (and the length word says ON_PORT) when it does not fit. */
  writeRequest(request: CallRequest): boolean {
    const bytes = this.#bytes;
    const view = this.#view;
    let at = 0;
    const text = (value: string): boolean => {
      if (!this.#fits(at + 4, value)) return false;
      const written = bytes.write(value, at + 4, 'utf8');
      view.setUint32(at, written);
      at += 4 + written;
      return true;
    };
    view.setUint32(at, request.id);
    at += 4;
    if (!text(request.fn) || at + 4 > bytes.length) return this.#onPort();
    view.setUint32(at, request.args.length);
    at += 4;
    for (const arg of request.args) {
      if (at + 9 > bytes.length) return this.#onPort();
      if (typeof arg === 'number') {
        bytes[at] = 1;
        view.setFloat64(at + 1, arg);
        at += 9;
      } else {
        bytes[at] = 0;
        at += 1;
        if (!text(arg)) return this.#onPort();
      }
    }
    Atomics.store(this.#length, 0, at);
    return true;
  }

  /** The request in the buffer, or null when it was posted on the port. */
  readRequest(): CallRequest | null {
    const length = Atomics.load(this.#length, 0);
    if (length === ON_PORT) return null;
    const bytes = this.#bytes;
    const view = this.#view;
    let at = 0;
    const text = (): string => {
      const size = view.getUint32(at);
      const value = bytes.toString('utf8', at + 4, at + 4 + size);
      at += 4 + size;
      return value;
    };
    const id = view.getUint32(at);
    at += 4;
    const fn = text();
    const argc = view.getUint32(at);
    at += 4;
    const args: (string | number)[] = [];
    for (let i = 0; i < argc; i++) {
      if (bytes[at] === 1) {
        args.push(view.getFloat64(at + 1));
        at += 9;
      } else {
        at += 1;
        args.push(text());
      }
    }
    return { id, fn, args };
  }

  /** Writes a successful result; false (and the length word says ON_PORT) when it does not fit. */
  writeResult(id: number, value: string): boolean {
    if (!this.#fits(4, value)) return this.#onPort();
    this.#view.setUint32(0, id);
    const written = this.#bytes.write(value, 4, 'utf8');
    Atomics.store(this.#length, 0, 4 + written);
    return true;
  }

  /** The result in the buffer, or null when it travels on the port. */
  readResult(): { readonly id: number; readonly value: string } | null {
    const length = Atomics.load(this.#length, 0);
    if (length === ON_PORT) return null;
    return { id: this.#view.getUint32(0), value: this.#bytes.toString('utf8', 4, length) };
  }

  /** Marks the message as travelling on the port. */
  markOnPort(): void {
    Atomics.store(this.#length, 0, ON_PORT);
  }

  #onPort(): false {
    this.markOnPort();
    return false;
  }

  /** Whether `value` fits at `at` with its UTF-8 bytes (at most 3 per UTF-16 unit: most strings need no count). */
  #fits(at: number, value: string): boolean {
    const room = this.#bytes.length - at;
    return value.length * 3 <= room || Buffer.byteLength(value, 'utf8') <= room;
  }
}
