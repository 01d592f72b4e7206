import * as zlib from 'node:zlib';

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as used by ZIP. */

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c >>> 0;
  }
  return table;
})();

/** The table-driven CRC-32, for Node versions without `zlib.crc32` (before 20.15 / 22.2). */
export function crc32Portable(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// zlib's CRC-32 is the same function, ~10× faster (every package read checks every entry's CRC).
const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** The CRC-32 of `bytes` as an unsigned 32-bit integer. */
export const crc32: (bytes: Uint8Array) => number = native ? (bytes) => native(bytes) >>> 0 : crc32Portable;
