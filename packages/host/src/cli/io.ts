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

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
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

/** A failure the user caused by how they called the command (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command that ran and failed (exit 1); `report` is printed first when present. */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2) + '\n');
}
