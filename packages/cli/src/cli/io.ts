import { isatty } from 'node:tty';

/** Everything a command touches outside itself, so the CLI runs in-process in tests. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Whether a person can answer prompts. */
  readonly interactive: boolean;
  /** Asks one question; resolves to the answer (only called when `interactive`). */
  readonly prompt: (question: string) => Promise<string>;
}

/**
 * Writes to a stream whose reader may have gone (`yoi plugin list | head -1`): a closed pipe
 * (EPIPE) ends the output quietly instead of crashing with a stack trace; the command still
 * finishes with its own exit code.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') {
      closed = true;
      return;
    }
    throw error;
  });
  return (text) => {
    if (!closed) stream.write(text);
  };
}

export function processIo(): CliIo {
  return {
    stdout: quietOnClosedPipe(process.stdout),
    stderr: quietOnClosedPipe(process.stderr),
    cwd: process.cwd(),
    env: process.env,
    // By descriptor: touching process.stdin would set up a stdin stream (ms) that most commands never read.
    interactive: isatty(0) && isatty(1),
    prompt: async (question) => {
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
  };
}

/**
 * The stable `error.code` values of `--json` failures (docs/cli.md lists them). Host errors
 * (`PluginError`) are reported with their own code in lower case, e.g. `sandbox_timeout`.
 */
export const CLI_FAILURE_CODES = [
  'usage',
  'not_found',
  'not_enabled',
  'tool_error',
  'tool_invalid',
  'plugin_rejected',
  'build_failed',
  'type_error',
  'pack_failed',
  'template_failed',
  'cancelled',
  'needs_consent',
  'enablement_invalid',
  'io',
  'serve_refused',
  'demo_failed',
  'failed',
  'internal',
] as const;
export type FailureCode = (typeof CLI_FAILURE_CODES)[number] | Lowercase<import('@yoi-plugins/host/internal/errors.js').ErrorCode>;

/** When each CLI failure code is used, one line each (docs/cli.md and docs/errors.md). */
export const CLI_FAILURE_DESCRIPTIONS: Readonly<Record<(typeof CLI_FAILURE_CODES)[number], string>> = {
  usage: 'a usage error: a missing argument, an unknown command, option or template, an impossible option value (exit 2)',
  not_found: 'no such plugin package, ref or dead letter',
  not_enabled: 'the plugin is not enabled (or not resolved) in the workspace',
  tool_error: 'the tool ran and reported an error (`tool error: <code>`, as Yoi renders it)',
  tool_invalid: "the tool's declaration is invalid",
  plugin_rejected: '`check` (or `enable` of a path) found the package invalid',
  build_failed: '`build` failed for a reason other than type errors',
  type_error: '`build`: the TypeScript compiler reported errors',
  pack_failed: '`pack` could not write the package',
  template_failed: '`new` could not write the template',
  cancelled: 'the operator answered no',
  needs_consent: '`dev`: the rebuilt plugin requests something the enablement does not grant (or it is not enabled yet); the loop stopped without granting anything',
  enablement_invalid: '`.yoi/plugins.toml` is not valid, or could not be edited safely',
  io: 'a file could not be read or written',
  serve_refused: 'the running serve refused the operation',
  demo_failed: 'the demo did not complete',
  failed: 'any other failure (the message says which)',
  internal: 'a bug: please report it',
};

/** A failure the user caused by how they called the command (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

/**
 * A command that ran and failed (exit 1). `details` are merged into the `--json` error
 * document (e.g. the ToolOutput of a tool that reported an error); `reported` means the
 * command already printed its JSON document, which carries the error itself; `lines` are
 * shown under the message on stderr (e.g. every located compiler error).
 */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  constructor(
    message: string,
    readonly code: FailureCode = 'failed',
    readonly options: { readonly details?: Record<string, unknown>; readonly reported?: boolean; readonly lines?: readonly string[] } = {},
  ) {
    super(message);
  }
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2) + '\n');
}

/** A host error as a command failure: the message with its code in brackets, the code in lower case for `--json`. */
export function hostFailure(error: import('@yoi-plugins/host/internal/errors.js').PluginError): CommandFailure {
  return new CommandFailure(`${error.message} [${error.code}]`, error.code.toLowerCase() as FailureCode);
}
