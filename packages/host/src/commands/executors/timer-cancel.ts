import { commandResult } from '../envelope.js';
import { idsOf, type Executor } from './types.js';

/** `timer_cancel`: cancelling a timer that is not active is not an error. */
export const timerCancel: Executor<'timer_cancel'> = {
  kind: 'timer_cancel',
  async execute(command, context) {
    const cancelled = context.timers.cancel(command.timerId);
    return commandResult(idsOf(command), 'Recorded', cancelled ? `timer ${command.timerId} cancelled` : `timer ${command.timerId} was not active`);
  },
};
