import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseEnablementConfig, type EnablementEntry } from '@yoi-plugins/host/internal/store/enablement.js';
import { cli, tempDir, type CliResult } from '@yoi-plugins/host/test/helpers.js';

/** Shared by the enable tests: a workspace, the CLI run in it, and readers of its enablement. */

export interface EnableJson {
  command: string;
  status: string;
  reference: string;
  version: string;
  digest: string;
  installed: { path: string; changed: boolean } | null;
  enablement_path: string;
  replaced: boolean;
  upgrade: {
    from: { version: string | null; digest: string | null };
    comments_kept: boolean;
    diff: { compared_with: string; permissions: LabelDiff; request: LabelDiff; websocket: LabelDiff };
  } | null;
  granted: { permissions: string[]; request: string[]; websocket: string[]; fs: string[] };
  not_granted: string[];
  limits: Record<string, number>;
  plugin_status: string | null;
  diagnostics: { kind: string; message: string }[];
  /** Whether a running serve was told (`serve`) or there was none (`in-process`). */
  via: 'serve' | 'in-process';
}

export interface LabelDiff {
  added: string[];
  removed: string[];
  unchanged: string[];
}

export interface Item {
  reference: string;
  status: string;
  digest: string | null;
  pinned_digest: string | null;
  configured_fs_grants: string[];
  diagnostics: { kind: string; message: string }[];
}

export interface Workspace {
  root: string;
  ws: string;
  store: string;
  enablementPath: string;
  run(args: string[], options?: { answers?: string[] }): Promise<CliResult>;
  entries(): EnablementEntry[];
  text(): string;
  list(): Promise<Map<string, Item>>;
}

export function workspace(t: TestContext): Workspace {
  const root = realpathSync(tempDir(t));
  const ws = join(root, 'ws');
  const store = join(ws, '.yoi', 'plugins');
  mkdirSync(ws, { recursive: true });
  const env = { HOME: root, XDG_DATA_HOME: join(root, 'data'), YOI_BUILTIN_DIR: join(root, 'builtin') };
  const enablementPath = join(ws, '.yoi', 'plugins.toml');
  const run = (args: string[], options: { answers?: string[] } = {}) => cli([...args, '--workspace', ws], { env, cwd: root, ...options });
  const text = () => readFileSync(enablementPath, 'utf8');
  return {
    root,
    ws,
    store,
    enablementPath,
    run,
    text,
    entries() {
      const parsed = parseEnablementConfig(text());
      assert.ok(parsed.ok, !parsed.ok ? parsed.diagnostic.message : '');
      return JSON.parse(JSON.stringify(parsed.value.enabled)) as EnablementEntry[];
    },
    async list() {
      const result = await run(['plugin', 'list', '--json']);
      assert.equal(result.code, 0, result.stderr);
      return new Map(result.json<{ items: Item[] }>().items.map((i) => [i.reference, i]));
    },
  };
}

