import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildError, buildPlugin, createDevBuildSession, type BuildResult, type DevBuildSession } from '../../build/build.js';
import { DevHostCache } from '../../build/dev-host-cache.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import { boundText } from '@yoi-plugins/host/internal/diagnostics.js';
import { readPluginDirectory } from '@yoi-plugins/host/internal/package/directory.js';
import { loadPluginPackage } from '@yoi-plugins/host/internal/package/plugin-package.js';
import { callControl } from '@yoi-plugins/host/internal/serve/control-file.js';
import { parseEnablementConfig } from '@yoi-plugins/host/internal/store/enablement.js';
import { enablementFile, type StoreOptions } from '@yoi-plugins/host/internal/store/locations.js';
import { diffRequests, type RequestDiff } from '@yoi-plugins/host/internal/store/request-diff.js';
import { loadWorkspace } from '@yoi-plugins/host/internal/store/workspace.js';
import type { Manifest } from '@yoi-plugins/host/internal/manifest/types.js';
import { CommandFailure, type CliIo } from '../io.js';
import { runEnable } from './enable.js';

/** What one turn of the dev loop did. */
export type DevCycle =
  | { readonly status: 'build_failed'; readonly message: string; readonly lines: readonly string[] }
  | { readonly status: 'check_failed'; readonly message: string }
  /** The package requests something the enablement does not grant yet (or is not enabled at all): the loop stops here. */
  | { readonly status: 'needs_consent'; readonly identity: string; readonly added: readonly string[]; readonly first: boolean }
  | { readonly status: 'pin_failed'; readonly message: string }
  | {
      readonly status: 'live';
      readonly identity: string;
      readonly version: string;
      readonly digest: string;
      readonly built: boolean;
      readonly repinned: boolean;
      /** `reloaded`: serve runs the new package; `reload_failed`: serve kept the old one (`reason`); `serve_not_running`. */
      readonly serve: 'reloaded' | 'unchanged' | 'reload_failed' | 'serve_not_running';
      readonly reason: string | null;
      readonly log_lines: readonly { readonly stream: string; readonly text: string }[];
      /** The whole turn, and its build (type check, bundle, componentize) and reload parts. */
      readonly duration_ms: number;
      readonly build_ms: number;
      readonly reload_ms: number;
      /** Where the turn's time went (ms): the build's type check, bundle and component, then package check, re-pin and reload. */
      readonly phases_ms: { readonly type_check: number; readonly bundle: number; readonly component: number; readonly package: number; readonly pin: number; readonly reload: number };
      /** How the component was made: `slot` (the bundle swapped into the cached dev loader), `template` (the loader was built first), `full`. */
      readonly component: 'slot' | 'template' | 'full' | 'up_to_date';
    };

interface LogCursor {
  logId: string | null;
  after: number;
}

interface ReloadOutcome {
  readonly plugin: string;
  readonly outcome: 'applied' | 'failed';
  readonly reason: string | null;
}

const requestsOf = (m: Manifest) => ({ permissions: m.permissions, request: m.request, websocket: m.websocket });
const addedLabels = (diff: RequestDiff) => [...diff.permissions.added, ...diff.request.added.map((l) => `request target ${l}`), ...diff.websocket.added.map((l) => `websocket target ${l}`)];

/**
 * One plugin directory's edit → live loop (`yoi plugin dev`): build (type-check, bundle,
 * componentize), check the package, re-pin it in the workspace with `enable` semantics, and
 * reload it in the workspace's running serve. A rebuild that requests nothing new re-pins
 * silently; anything new stops the loop (`needs_consent`): grants are never widened here.
 */
export class DevLoop {
  readonly #dir: string;
  readonly #stores: StoreOptions;
  readonly #io: CliIo;
  readonly #log: LogCursor = { logId: null, after: 0 };
  readonly #build: DevBuildSession;

  /** `watching`: the loop runs on (the host cache also prepares the interruptible rewrite, in the background). */
  constructor(io: CliIo, dir: string, stores: StoreOptions, options: { watching: boolean } = { watching: false }) {
    this.#io = io;
    this.#dir = dir;
    this.#stores = stores;
    this.#build = createDevBuildSession(new DevHostCache(defaultCacheDir(io.env), { rewrite: options.watching }));
  }

  async cycle(onProgress: (message: string) => void = () => undefined): Promise<DevCycle> {
    const started = performance.now();
    let built: boolean;
    let buildMs: number;
    let phases: BuildResult['phases'];
    let component: 'slot' | 'template' | 'full' | 'up_to_date';
    try {
      const result = await buildPlugin(this.#dir, { onProgress, dev: this.#build });
      built = !result.skipped;
      buildMs = Math.round(result.durationMs);
      phases = result.phases;
      component = result.skipped ? 'up_to_date' : (result.dev?.component ?? 'full');
    } catch (error) {
      if (error instanceof BuildError) return { status: 'build_failed', message: error.message, lines: error.lines };
      throw error;
    }
    const packageStarted = performance.now();
    const files = await readPluginDirectory(this.#dir);
    const loaded = files.ok ? loadPluginPackage(files.value) : files;
    if (!loaded.ok) return { status: 'check_failed', message: loaded.diagnostic.message };
    const { manifest, digest } = loaded.value;
    const identity = `project:${manifest.id}`;
    const packageMs = Math.round(performance.now() - packageStarted);
    const pinStarted = performance.now();

    const state = await loadWorkspace(this.#stores);
    const text = await readFile(enablementFile(this.#stores.workspace), 'utf8').catch(() => '');
    const parsed = text ? parseEnablementConfig(text) : null;
    if (parsed && !parsed.ok) return { status: 'pin_failed', message: `${enablementFile(this.#stores.workspace)} is not valid: ${parsed.diagnostic.message}` };
    const entry = parsed?.value.enabled.find((e) => e.id === identity) ?? null;
    const previous = entry ? (state.discovery.packages.find((p) => p.identity === identity && p.digest === entry.digest) ?? null) : null;
    const diff = diffRequests(previous ? requestsOf(previous.manifest) : null, entry?.grants ?? null, requestsOf(manifest));
    const added = addedLabels(diff);
    if (!entry || added.length > 0) return { status: 'needs_consent', identity, added, first: entry === null };

    let repinned = false;
    if (entry.digest !== digest) {
      // `enable <dir> --yes`: installs into the project store, keeps grants, config, limits and comments; grants nothing new.
      const quiet: CliIo = { ...this.#io, interactive: false, stdout: () => undefined, stderr: () => undefined };
      try {
        await runEnable(quiet, this.#dir, { workspace: this.#stores.workspace, yes: true, json: true });
      } catch (error) {
        return { status: 'pin_failed', message: error instanceof Error ? error.message : String(error) };
      }
      repinned = true;
    }
    const pinMs = Math.round(performance.now() - pinStarted);

    const reloadStarted = performance.now();
    const reload = await callControl(this.#stores.workspace, 'POST', '/v1/reload');
    let serve: 'reloaded' | 'unchanged' | 'reload_failed' | 'serve_not_running' = 'serve_not_running';
    let reason: string | null = null;
    if (reload) {
      const outcomes = ((reload.json as { outcomes?: ReloadOutcome[] } | null)?.outcomes ?? []).filter((o) => o.plugin === identity);
      const failed = outcomes.find((o) => o.outcome === 'failed');
      if (reload.status !== 200) [serve, reason] = ['reload_failed', `serve answered ${reload.status}`];
      else if (failed) [serve, reason] = ['reload_failed', failed.reason];
      else if (outcomes.length > 0) serve = 'reloaded';
      else serve = await this.#runningDigest(identity).then((running) => (running === digest ? 'unchanged' : 'reload_failed'));
      if (serve === 'reload_failed') reason ??= 'serve does not run this package (see `yoi plugin status`)';
    }
    const reloadMs = Math.round(performance.now() - reloadStarted);
    const log_lines = reload ? await this.#newLogLines(identity) : [];
    return { status: 'live', identity, version: manifest.version, digest, built, repinned, serve, reason, log_lines, duration_ms: Math.round(performance.now() - started), build_ms: buildMs, reload_ms: reloadMs,
      phases_ms: { type_check: phases.typeCheckMs, bundle: phases.bundleMs, component: phases.componentMs, package: packageMs, pin: pinMs, reload: reloadMs },
      component,
    };
  }

  async #runningDigest(identity: string): Promise<string | null> {
    const status = await callControl(this.#stores.workspace, 'GET', `/v1/status/${encodeURIComponent(identity)}`);
    return ((status?.json as { plugins?: { digest?: string }[] } | null)?.plugins?.[0]?.digest ?? null);
  }

  /**
   * The plugin's guest log lines since the last cycle, through serve's logs endpoint
   * (`GET /v1/plugins/:ref/logs`); none when this serve has no such endpoint.
   */
  async #newLogLines(identity: string): Promise<{ stream: string; text: string }[]> {
    const query = `after=${this.#log.after}${this.#log.logId ? `&log=${encodeURIComponent(this.#log.logId)}` : ''}`;
    const page = await callControl(this.#stores.workspace, 'GET', `/v1/plugins/${encodeURIComponent(identity)}/logs?${query}`);
    if (page?.status !== 200) return [];
    const body = page.json as { log_id?: string; next?: number; lines?: { stream: string; text: string }[] };
    this.#log.logId = body.log_id ?? null;
    this.#log.after = body.next ?? 0;
    return (body.lines ?? []).map((l) => ({ stream: l.stream, text: boundText(l.text, 2000) }));
  }
}

/** The message that stops the loop when a rebuild asks for more than the enablement grants. */
export function consentMessage(cycle: Extract<DevCycle, { status: 'needs_consent' }>, dir: string, workspace: string): CommandFailure {
  const how = `yoi plugin enable ${dir} --workspace ${workspace}`;
  const what = cycle.first ? `${cycle.identity} is not enabled in ${workspace} yet` : `${cycle.identity} now requests: ${cycle.added.join(', ')}`;
  return new CommandFailure(`${what}; the dev loop never grants anything by itself. Review and grant with \`${how}\`, then run dev again`, 'needs_consent', {
    details: { plugin: cycle.identity, added: cycle.added, first_enable: cycle.first, enable_command: how },
  });
}

const PLUGIN_OUTPUTS_IGNORED = ['.yoi-build', 'node_modules', '.git'] as const;

/** Whether a changed path (relative to the plugin directory) is a source edit, not the build's own output. */
export function isSourceChange(relativePath: string, componentPath: string | null): boolean {
  const parts = relativePath.split(/[\\/]/);
  if (parts.some((p) => (PLUGIN_OUTPUTS_IGNORED as readonly string[]).includes(p))) return false;
  if (relativePath.endsWith('.yoi-plugin')) return false;
  return componentPath === null || join(relativePath) !== join(componentPath);
}
