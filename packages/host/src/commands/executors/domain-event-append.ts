import { rfc3339 } from '../../service/ids.js';
import { commandResult } from '../envelope.js';
import { idsOf, messageOf, type Executor } from './types.js';

/** `domain_event_append`: hands the event to the embedding host's sink (`serve` writes an event log). */
export const domainEventAppend: Executor<'domain_event_append'> = {
  kind: 'domain_event_append',
  async execute(command, context) {
    const ids = idsOf(command);
    if (!context.appendDomainEvent) return commandResult(ids, 'Unsupported', 'this host has no domain event sink');
    try {
      await context.appendDomainEvent({
        plugin: context.record.identity,
        type: command.type,
        data: command.data,
        command_id: command.command_id,
        source_event_id: command.source_event_id,
        appended_at: rfc3339(),
      });
      return commandResult(ids, 'Recorded', `domain event ${command.type} appended`);
    } catch (error) {
      return commandResult(ids, 'Rejected', `domain event could not be appended: ${messageOf(error)}`);
    }
  },
};
