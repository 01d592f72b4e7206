/**
 * Caps the linear memory of a core WebAssembly module by rewriting its memory section so
 * every defined memory has `maximum <= maxPages`. A worker's `resourceLimits` do not bound
 * Wasm memory; a declared maximum does (the guest's `memory.grow` fails and it traps).
 * Imported memories are left alone: they are defined, and capped, by another core module.
 */
export const WASM_PAGE_BYTES = 65536;
const MEMORY_SECTION = 5;

function readU32(bytes: Uint8Array, offset: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  let position = offset;
  for (;;) {
    if (position >= bytes.length || shift > 28) throw new RangeError('malformed LEB128');
    const byte = bytes[position++]!;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result >>> 0, position];
    shift += 7;
  }
}

function writeU32(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

export interface CappedModule {
  readonly bytes: Uint8Array;
  /** Memories whose maximum was set or lowered. */
  readonly capped: number;
}

/** Returns a copy of `module` with every defined memory's maximum set to at most `maxPages`. */
export function capModuleMemory(module: Uint8Array, maxPages: number): CappedModule {
  if (module.length < 8) throw new RangeError('not a core module');
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  let offset = 8;
  let capped = 0;
  while (offset < module.length) {
    const id = module[offset]!;
    const [size, bodyStart] = readU32(module, offset + 1);
    const end = bodyStart + size;
    if (end > module.length) throw new RangeError('section exceeds module');
    if (id !== MEMORY_SECTION) {
      parts.push(module.subarray(offset, end));
      offset = end;
      continue;
    }
    const [count, countEnd] = readU32(module, bodyStart);
    let cursor = countEnd;
    const body: number[] = writeU32(count);
    for (let i = 0; i < count; i++) {
      const flags = module[cursor++]!;
      if (flags & 0x04) throw new RangeError('memory64 is not supported');
      if (flags & 0x02) throw new RangeError('shared memory is not supported');
      let min: number;
      let max: number | undefined;
      [min, cursor] = readU32(module, cursor);
      if (flags & 0x01) [max, cursor] = readU32(module, cursor);
      const newMax = Math.min(max ?? Number.POSITIVE_INFINITY, maxPages);
      if (min > newMax) throw new RangeError(`module needs ${min} pages at start, above the cap of ${maxPages}`);
      if (max === undefined || newMax < max) capped++;
      body.push(flags | 0x01, ...writeU32(min), ...writeU32(newMax));
    }
    if (cursor !== end) throw new RangeError('malformed memory section');
    parts.push(Uint8Array.of(MEMORY_SECTION, ...writeU32(body.length), ...body));
    offset = end;
  }
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(total);
  let position = 0;
  for (const part of parts) {
    out.set(part, position);
    position += part.length;
  }
  return { bytes: out, capped };
}
