import type { IngressEvent } from '../service/ingress-event.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { commandResult, validateOutputCommands, type CommandResult, type ValidatedCommand } from './envelope.js';
import { EXECUTORS } from './executors/index.js';
import { idsOf, messageOf, type ExecutionContext } from './executors/types.js';

export interface BatchLimits {
  readonly maxTimers: number;
}

/**
 * Validates a handler result's output commands as one batch and runs them in order, one
 * executor per kind. Validation and the resource checks are all or nothing: if one command
 * fails them, none runs, and every command of the batch gets a `Rejected` result with its
 * own ids. Past that point each command stands alone: one that fails to execute is rejected
 * and the rest still run.
 */
export async function runBatch(output: unknown, event: IngressEvent, record: ResolvedPlugin, limits: BatchLimits, context: ExecutionContext): Promise<CommandResult[]> {
  const batch = validateOutputCommands(output, event, record);
  if (!batch.ok) {
    const notRun = batch.valid.map((command) => commandResult(idsOf(command), 'Rejected', 'not run: another command of the same handler result was rejected (all or nothing)'));
    return [...batch.results, ...notRun];
  }
  const problem = preflight(batch.commands, context, limits);
  if (problem) return batch.commands.map((command) => commandResult(idsOf(command), 'Rejected', problem));
  const results: CommandResult[] = [];
  for (const command of batch.commands) results.push(await execute(command, context));
  return results;
}

async function execute<K extends ValidatedCommand['kind']>(command: Extract<ValidatedCommand, { kind: K }>, context: ExecutionContext): Promise<CommandResult> {
  const executor = EXECUTORS[command.kind as K];
  try {
    return await executor.execute(command, context);
  } catch (error) {
    return commandResult(idsOf(command), 'Rejected', `command failed inside the host: ${messageOf(error)}`);
  }
}

/** Resource checks for the whole batch before anything runs. */
function preflight(commands: readonly ValidatedCommand[], context: ExecutionContext, limits: BatchLimits): string | null {
  const timers = new Set(context.timers.status().map((t) => t.timer_id));
  for (const command of commands) {
    if (command.kind === 'timer_set') timers.add(command.timerId);
    if (command.kind === 'timer_cancel') timers.delete(command.timerId);
  }
  if (timers.size > limits.maxTimers) return `output commands would leave ${timers.size} timers; the limit is ${limits.maxTimers}`;
  return null;
}
