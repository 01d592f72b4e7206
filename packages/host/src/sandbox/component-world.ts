import type { AuthoritySubject } from '../authority/authorize.js';
import { authorizeHostApi } from '../authority/authorize.js';
import { INSTANCE_WORLD, TOOL_WORLD, type HostApi } from '../manifest/types.js';

/** What a component imports and exports, read from its WIT (`componentWit`) at transpile time. */
export interface ComponentInterface {
  /** Versioned interface imports, e.g. `yoi:host/request@1.0.0`, `wasi:clocks/wall-clock@0.2.3`. */
  readonly imports: readonly string[];
  /** World-level function imports (`import name: func…`), always refused. */
  readonly functionImports: readonly string[];
  /** Exported functions → normalised signature `(string,string)->string`. */
  readonly exports: Readonly<Record<string, string>>;
  /** Exported interfaces (not used by our worlds). */
  readonly interfaceExports: readonly string[];
}

/** Extracts the root world's imports and exports from `componentWit` output. */
export function parseComponentWit(wit: string): ComponentInterface {
  const imports: string[] = [];
  const functionImports: string[] = [];
  const exports: Record<string, string> = {};
  const interfaceExports: string[] = [];
  const worldStart = wit.search(/^world\s+[\w-]+\s*\{/m);
  const body = worldStart >= 0 ? wit.slice(worldStart) : wit;
  // Statements at the world's top level end with `;`; nested interface bodies use braces.
  let depth = 0;
  let statement = '';
  for (const char of body) {
    if (char === '{') depth++;
    if (char === '}') depth--;
    if (depth === 1 && char !== '{') {
      if (char === ';') {
        record(statement.trim());
        statement = '';
      } else statement += char;
    } else if (depth !== 1) statement = '';
  }
  function record(text: string): void {
    const clean = text.replace(/\/\/.*$/gm, '').replace(/\s+/g, ' ').trim();
    let match = /^import ([\w.-]+:[\w./-]+(?:@[\w.+-]+)?)$/.exec(clean);
    if (match) return void imports.push(match[1]!);
    match = /^import (%?[\w-]+): func/.exec(clean);
    if (match) return void functionImports.push(match[1]!);
    match = /^import (%?[\w-]+)\s*:\s*interface/.exec(clean);
    if (match) return void imports.push(match[1]!);
    match = /^export (%?[\w-]+): func\s*(\(.*)$/.exec(clean);
    if (match) return void (exports[match[1]!.replace(/^%/, '')] = normalizeSignature(match[2]!));
    match = /^export (\S+)$/.exec(clean);
    if (match) interfaceExports.push(match[1]!);
  }
  return { imports, functionImports, exports, interfaceExports };
}

/** `(a: string, b: u32) -> string` → `(string,u32)->string` (parameter names do not matter). */
export function normalizeSignature(signature: string): string {
  const match = /^\((.*)\)\s*(?:->\s*(.+))?$/.exec(signature.trim());
  if (!match) return signature.replace(/\s+/g, '');
  const params = match[1]!.trim() === '' ? [] : match[1]!.split(',').map((p) => p.split(':').slice(1).join(':').trim());
  return `(${params.join(',')})->${(match[2] ?? '').replace(/\s+/g, '')}`;
}

const STRING_IN_OUT = '(string,string)->string';
const WORLD_EXPORTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  [TOOL_WORLD]: { call: STRING_IN_OUT },
  [INSTANCE_WORLD]: {
    start: '(string)->string',
    'handle-tool': STRING_IN_OUT,
    'handle-ingress': STRING_IN_OUT,
    status: '()->string',
    stop: '()->string',
  },
};

export const HOST_INTERFACES: Readonly<Record<string, HostApi>> = {
  'yoi:host/request@1.0.0': 'request',
  'yoi:host/websocket@1.0.0': 'websocket',
  'yoi:host/fs@1.0.0': 'fs',
};

/**
 * Imports a language runtime needs that carry no authority (see worker/inert.ts): real
 * clocks and randomness, stdout/stderr captured into the plugin's bounded log, and empty
 * environment, stdin, terminal and preopens. Matched on `<interface>@0.2` (any patch).
 */
const INERT_INTERFACES: readonly string[] = [
  'wasi:clocks/monotonic-clock@0.2',
  'wasi:clocks/wall-clock@0.2',
  'wasi:random/random@0.2',
  'wasi:random/insecure-seed@0.2',
  'wasi:cli/stdout@0.2',
  'wasi:cli/stderr@0.2',
  'wasi:cli/stdin@0.2',
  'wasi:cli/environment@0.2',
  'wasi:cli/exit@0.2',
  'wasi:cli/terminal-input@0.2',
  'wasi:cli/terminal-output@0.2',
  'wasi:cli/terminal-stdin@0.2',
  'wasi:cli/terminal-stdout@0.2',
  'wasi:cli/terminal-stderr@0.2',
  'wasi:filesystem/preopens@0.2',
  'wasi:filesystem/types@0.2',
  'wasi:io/streams@0.2',
  'wasi:io/error@0.2',
  'wasi:io/poll@0.2',
];

export function isInertImport(name: string): boolean {
  return INERT_INTERFACES.some((prefix) => name === prefix || name.startsWith(`${prefix}.`));
}

/** Why a component may not run for `world` under these grants, or null. Names the offending import or export. */
export function componentWorldProblem(iface: ComponentInterface, world: string, subject: AuthoritySubject): string | null {
  const expected = WORLD_EXPORTS[world];
  if (!expected) return `plugin component world \`${world}\` is unsupported`;
  for (const [name, signature] of Object.entries(expected)) {
    const actual = iface.exports[name];
    if (actual === undefined) return `component does not export expected \`${world}\` ${name} function`;
    if (actual !== signature) return `component export \`${name}\` has signature ${actual}; \`${world}\` expects ${signature}`;
  }
  for (const name of iface.functionImports) {
    return `unsupported component import \`${name}\`; only yoi:host interfaces and the inert runtime set are available`;
  }
  for (const name of iface.imports) {
    const api = HOST_INTERFACES[name];
    if (api !== undefined) {
      const denied = authorizeHostApi(subject, api);
      if (denied) return `plugin host API dispatch denied for import \`${name}\`: ${denied}`;
      continue;
    }
    if (isInertImport(name)) continue;
    return `unsupported component import \`${name}\`; no WASI filesystem, ambient network, environment or other imports are available`;
  }
  return null;
}
