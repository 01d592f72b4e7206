import type { JsonValue } from '../manifest/types.js';
import type { IngressEvent } from '../service/ingress-event.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { commandResult, validateOutputCommands, type CommandResult, type ValidatedCommand } from './envelope.js';
import { EXECUTORS } from './executors/index.js';
import { idsOf, messageOf, type ExecutionContext } from './executors/types.js';

/** Bounds of a plugin's durable state: small enough to hand back in one event (64 KiB). */
export const STATE_LIMITS = { keys: 64, bytes: 48 * 1024 } as const;

export interface BatchLimits {
  readonly maxTimers: number;
  readonly stateKeys: number;
  readonly stateBytes: number;
}

/** What the batch is checked against: the timers and durable state as planned so far. */
export interface PlanView {
  timerIds(): ReadonlySet<string>;
  state(): ReadonlyMap<string, JsonValue>;
  /** Command ids still pending in the outbox (an id must not be reused while its command is pending). */
  pendingCommandIds(): ReadonlySet<string>;
}

export interface BatchPlan {
  /** Results of commands that took effect while planning, and of rejected ones. */
  readonly results: readonly CommandResult[];
  /** Commands that act on the world, in order: they run from the outbox once the result is committed. */
  readonly outbox: readonly ValidatedCommand[];
}

/**
 * Validates a handler result's output commands as one batch and plans them. Validation and
 * the resource checks are all or nothing: if one command fails them, none takes effect, and
 * every command of the batch gets a `Rejected` result with its own ids. Otherwise commands
 * that change the plugin's own timers, state and status take effect now (their durable part
 * is committed with the event's acknowledgement), and the others are returned for the outbox.
 * A plan with nothing to run now is returned as is, not as a promise (the common case of an
 * ingress batch); `context` is asked for only when a command runs now.
 */
export function planBatch(output: unknown, event: IngressEvent, record: ResolvedPlugin, limits: BatchLimits, view: PlanView, context: () => ExecutionContext): BatchPlan | Promise<BatchPlan> {
  const batch = validateOutputCommands(output, event, record);
  if (!batch.ok) {
    const notRun = batch.valid.map((command) => commandResult(idsOf(command), 'Rejected', 'not run: another command of the same handler result was rejected (all or nothing)'));
    return { results: [...batch.results, ...notRun], outbox: [] };
  }
  if (batch.commands.length === 0) return NOTHING_PLANNED;
  const problem = preflight(batch.commands, view, limits);
  if (problem) return { results: batch.commands.map((command) => commandResult(idsOf(command), 'Rejected', problem)), outbox: [] };
  if (batch.commands.every((command) => EXECUTORS[command.kind].stage === 'outbox')) return { results: [], outbox: batch.commands };
  return runPlanned(batch.commands, context());
}

const NOTHING_PLANNED: BatchPlan = Object.freeze({ results: Object.freeze([]), outbox: Object.freeze([]) });

/** Runs the commands that take effect now, in order; the others go to the outbox. */
async function runPlanned(commands: readonly ValidatedCommand[], context: ExecutionContext): Promise<BatchPlan> {
  const results: CommandResult[] = [];
  const outbox: ValidatedCommand[] = [];
  for (const command of commands) {
    if (EXECUTORS[command.kind].stage === 'outbox') outbox.push(command);
    else results.push(await runCommand(command, context));
  }
  return { results, outbox };
}

/** Runs one command with its executor; a throw inside the host becomes a `Rejected` result. */
export async function runCommand<K extends ValidatedCommand['kind']>(command: Extract<ValidatedCommand, { kind: K }>, context: ExecutionContext): Promise<CommandResult> {
  const executor = EXECUTORS[command.kind as K];
  try {
    return await executor.execute(command, context);
  } catch (error) {
    return commandResult(idsOf(command), 'Rejected', `command failed inside the host: ${messageOf(error)}`);
  }
}

/** Resource checks for the whole batch before anything takes effect. */
function preflight(commands: readonly ValidatedCommand[], view: PlanView, limits: BatchLimits): string | null {
  const pending = view.pendingCommandIds();
  const reused = commands.find((command) => EXECUTORS[command.kind].stage === 'outbox' && pending.has(command.command_id));
  if (reused) return `command_id ${reused.command_id.slice(0, 64)} is still pending from an earlier result; command ids must be unique`;
  const timers = new Set(view.timerIds());
  const state = new Map(view.state());
  for (const command of commands) {
    if (command.kind === 'timer_set') timers.add(command.timerId);
    if (command.kind === 'timer_cancel') timers.delete(command.timerId);
    if (command.kind === 'state_set') state.set(command.key, command.value);
    if (command.kind === 'state_delete') state.delete(command.key);
  }
  if (timers.size > limits.maxTimers) return `output commands would leave ${timers.size} timers; the limit is ${limits.maxTimers}`;
  if (state.size > limits.stateKeys) return `output commands would leave ${state.size} durable state keys; the limit is ${limits.stateKeys}`;
  const bytes = stateBytes(state);
  if (bytes > limits.stateBytes) return `output commands would leave ${bytes} bytes of durable state; the limit is ${limits.stateBytes}`;
  return null;
}

/** Size of a state as the bounds count it: each key plus its value's JSON, in UTF-8 bytes. */
function stateBytes(state: ReadonlyMap<string, JsonValue>): number {
  let total = 0;
  for (const [key, value] of state) total += Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
  return total;
}
