import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { runCli } from '@yoi-plugins/cli/internal/cli/program.js';
import type { CliIo } from '@yoi-plugins/cli/internal/cli/io.js';
import { PluginError } from '../src/errors.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');
export const YOI_MANIFESTS = join(FIXTURES, 'yoi-manifests');

/** A fresh temporary directory removed after the test. */
export function tempDir(t: TestContext, prefix = 'yoi-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeFiles(root: string, files: Record<string, string | Uint8Array>): string {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return root;
}

/** 8 bytes that look like a WebAssembly component preamble (never executed by A's code). */
export const COMPONENT_PREAMBLE = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00);
export const CORE_MODULE_PREAMBLE = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);

export function echoManifest(overrides: { id?: string; version?: string; extra?: string; tools?: string; permissions?: string } = {}): string {
  return `schema_version = 1
id = "${overrides.id ?? 'echo'}"
name = "Echo"
version = "${overrides.version ?? '0.1.0'}"
surfaces = ["tool"]
permissions = [
  ${overrides.permissions ?? '{ kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" },'}
]

[runtime]
kind = "wasm-component"
component = "plugin.component.wasm"
world = "yoi:plugin/tool@1.0.0"

${overrides.tools ?? `[[tools]]
name = "echo"
description = "Echo input text."
input_schema = { type = "object", properties = { text = { type = "string" } }, required = ["text"] }`}
${overrides.extra ?? ''}
`;
}

/** Writes a plugin source directory with a component-looking artifact. */
export function writePluginDir(root: string, manifest: string = echoManifest(), component: Uint8Array = COMPONENT_PREAMBLE): string {
  return writeFiles(root, { 'plugin.toml': manifest, 'plugin.component.wasm': component });
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs the CLI in-process with captured output; `answers` feed interactive prompts in order. */
export async function cli(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; answers?: string[] } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const answers = [...(options.answers ?? [])];
  const io: CliIo = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? { HOME: '/nonexistent-home', XDG_DATA_HOME: join(tmpdir(), 'yoi-no-user-store') },
    interactive: options.answers !== undefined,
    prompt: async (question) => {
      stdout += question;
      return answers.shift() ?? '';
    },
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}

/** What `until` keeps polling on. */
type Falsy = undefined | null | false | 0 | '';

/**
 * Polls `fn` (sync or async) until it returns a truthy value and returns it; fails after `ms`.
 * The bound is a safety net, never a timing assertion. The one polling helper of the suite.
 */
export async function until<T>(fn: () => T | Falsy | Promise<T | Falsy>, what: string | (() => string), ms = 20_000, everyMs = 10): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value as T;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Awaits `promise`, asserts it rejects with a PluginError of `code` (and a message matching `message`), and returns the error. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<PluginError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PluginError, `expected a PluginError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}`);
}
