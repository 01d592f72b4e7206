import { commandResult } from '../envelope.js';
import { idsOf, type Executor } from './types.js';

/** `timer_set`: arms (or replaces) a host timer that delivers `timer` events. */
export const timerSet: Executor<'timer_set'> = {
  kind: 'timer_set',
  async execute(command, context) {
    context.timers.set({
      timerId: command.timerId,
      ingress: command.ingress,
      delayMs: command.delayMs,
      ...(command.intervalMs !== undefined ? { intervalMs: command.intervalMs } : {}),
      ...(command.data !== undefined ? { data: command.data } : {}),
    });
    return commandResult(idsOf(command), 'Recorded', `timer ${command.timerId} set`);
  },
};
