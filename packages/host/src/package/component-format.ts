/**
 * What a runtime artifact's bytes are, judged from the 8-byte preamble only (nothing is
 * parsed or executed): a component (layer 1), a core module (layer 0, the retired raw
 * runtime's format), or anything else, treated as a not-yet-built placeholder.
 */
export type ComponentFormat = 'component' | 'core-module' | 'placeholder';

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

export function detectComponentFormat(bytes: Uint8Array): ComponentFormat {
  if (bytes.byteLength < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) return 'placeholder';
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 1) return 'component';
  if (layer === 0) return 'core-module';
  return 'placeholder';
}

export const CORE_MODULE_MESSAGE =
  'plugin component runtime artifact is a core WebAssembly module, not a component; the raw core-Wasm runtime is retired (build a wasm-component)';

export function placeholderMessage(path: string): string {
  return `plugin component runtime artifact \`${path}\` is a placeholder, not a WebAssembly component; build the component before enabling or execution`;
}
