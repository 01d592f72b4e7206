import { commandResult } from '../envelope.js';
import { idsOf, type Executor } from './types.js';

/** `state_delete`: removing a key that is not set is not an error. */
export const stateDelete: Executor<'state_delete'> = {
  kind: 'state_delete',
  stage: 'plan',
  async execute(command, context) {
    const removed = context.state.delete(command.key);
    return commandResult(idsOf(command), 'Recorded', removed ? `state key ${command.key.slice(0, 64)} removed` : `state key ${command.key.slice(0, 64)} was not set`);
  },
};
