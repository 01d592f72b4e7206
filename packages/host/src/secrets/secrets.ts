import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSafeId } from '../manifest/ids.js';
import { parseTomlText } from '../manifest/toml-reader.js';

/**
 * Secret values the host attaches on a plugin's behalf (request headers, WebSocket handshake
 * headers, `{{secret:NAME}}` in frames a grant allows). Plugins only ever name them. Values
 * come from environment variables `YOI_SECRET_<NAME>` (name upper-cased, `.` and `-` as `_`)
 * or from `<workspace>/.yoi/secrets.toml` (`[secrets] name = "value"`), which must not be
 * readable by group or others.
 */
export class Secrets {
  readonly #values: ReadonlyMap<string, string>;
  /** Why the secrets file was ignored, if it was. */
  readonly problems: readonly string[];

  constructor(values: ReadonlyMap<string, string> = new Map(), problems: readonly string[] = []) {
    this.#values = values;
    this.problems = problems;
  }

  static envName(name: string): string {
    return `YOI_SECRET_${name.toUpperCase().replace(/[.-]/g, '_')}`;
  }

  static async load(workspace: string, env: NodeJS.ProcessEnv = process.env): Promise<Secrets> {
    const values = new Map<string, string>();
    const problems: string[] = [];
    const path = join(resolve(workspace), '.yoi', 'secrets.toml');
    const info = await stat(path).catch(() => null);
    if (info) {
      if ((info.mode & 0o077) !== 0) problems.push('.yoi/secrets.toml is readable by group or others (chmod 600 it); it was ignored');
      else {
        const parsed = parseTomlText(await readFile(path, 'utf8'));
        const table = parsed.ok ? (parsed.value['secrets'] as Record<string, unknown> | undefined) : undefined;
        if (!parsed.ok || (table !== undefined && (typeof table !== 'object' || table === null))) problems.push('.yoi/secrets.toml could not be parsed; it was ignored');
        else for (const [name, value] of Object.entries(table ?? {})) if (isSafeId(name) && typeof value === 'string' && value.length > 0) values.set(name, value);
      }
    }
    for (const [key, value] of Object.entries(env)) {
      if (!key.startsWith('YOI_SECRET_') || !value) continue;
      values.set(key.slice('YOI_SECRET_'.length).toLowerCase(), value);
    }
    return new Secrets(values, problems);
  }

  /** The value of a named secret (names match case-insensitively with `_` for `.`/`-`). */
  get(name: string): string | undefined {
    return this.#values.get(name) ?? this.#values.get(name.toLowerCase().replace(/[.-]/g, '_'));
  }

  /** Replaces every known secret value (≥ 4 characters) in `text` with `<secret:NAME>`. */
  redact(text: string): string {
    let out = text;
    for (const [name, value] of this.#values) if (value.length >= 4) out = out.split(value).join(`<secret:${name}>`);
    return out;
  }

  /** Whether `text` contains any known secret value. */
  contains(text: string): boolean {
    for (const value of this.#values.values()) if (value.length >= 4 && text.includes(value)) return true;
    return false;
  }
}

export const NO_SECRETS = new Secrets();
