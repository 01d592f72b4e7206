import { executeRequest, grantHeaders } from '../../hostapi/request.js';
import type { JsonValue } from '../../manifest/types.js';
import { commandResult } from '../envelope.js';
import { idsOf, messageOf, type CommandOf, type ExecutionContext, type Executor } from './types.js';

/**
 * `host_request_dispatch`: the request runs off the dispatch path and its result comes back
 * as a `host_response` event. When every request slot is taken the command waits for one,
 * and with it the dispatch loop, the queue and the sources behind it: backpressure, not loss.
 */
export const hostRequestDispatch: Executor<'host_request_dispatch'> = {
  kind: 'host_request_dispatch',
  async execute(command, context) {
    const release = await context.requestSlots.acquire();
    context.background(respond(command, context).finally(release));
    return commandResult(idsOf(command), 'Recorded', `request dispatched; the response arrives as a host_response event on ingress ${command.replyIngress}`);
  },
};

async function respond(command: CommandOf<'host_request_dispatch'>, context: ExecutionContext): Promise<void> {
  let reply: JsonValue;
  try {
    const attached = grantHeaders(context.record, command.request, context.secrets);
    reply = parseReply('reply' in attached ? attached.reply : await executeRequest(command.request, { hostHeaders: attached.headers, redact: (text) => context.secrets.redact(text) }));
  } catch (error) {
    reply = { error: { code: 'internal', message: `the request could not be run: ${messageOf(error)}` } };
  }
  const payload: JsonValue = {
    command_id: command.command_id,
    correlation_id: command.correlation_id,
    source_event_id: context.event.correlation_id,
    ...(typeof reply === 'object' && reply !== null && !Array.isArray(reply) && 'error' in reply ? { error: reply['error'] as JsonValue } : { response: reply }),
  };
  await context.deliverResponse(command.replyIngress, 'host_response', `host_request:${command.command_id}`, payload);
}

function parseReply(raw: string): JsonValue {
  try {
    return JSON.parse(raw) as JsonValue;
  } catch {
    return { error: { code: 'internal', message: 'the request host API returned an unreadable reply' } };
  }
}
