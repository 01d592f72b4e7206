import { commandResult } from '../envelope.js';
import { idsOf, type Executor } from './types.js';

/** `diagnostic_status_update`: the plugin's own word on its status, until the next lifecycle call or status poll. */
export const diagnosticStatusUpdate: Executor<'diagnostic_status_update'> = {
  kind: 'diagnostic_status_update',
  async execute(command, context) {
    if (command.status !== undefined) context.setComponentStatus(command.status);
    return commandResult(idsOf(command), 'Recorded', command.message ?? 'plugin service status update recorded');
  },
};
