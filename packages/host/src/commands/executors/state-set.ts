import { commandResult } from '../envelope.js';
import { idsOf, type Executor } from './types.js';

/** `state_set`: a key of the plugin's durable state, committed with the event that set it. */
export const stateSet: Executor<'state_set'> = {
  kind: 'state_set',
  stage: 'plan',
  async execute(command, context) {
    context.state.set(command.key, command.value);
    return commandResult(idsOf(command), 'Recorded', `state key ${command.key.slice(0, 64)} set`);
  },
};
