import { executeRequest, grantHeaders } from '../../hostapi/request.js';
import type { JsonValue } from '../../manifest/types.js';
import { commandResult } from '../envelope.js';
import { idsOf, messageOf, type CommandOf, type ExecutionContext, type Executor } from './types.js';

/**
 * `host_request_dispatch`: the request runs off the dispatch path, with `Idempotency-Key:
 * <command_id>`, and its result comes back as a `host_response` event; the command is done
 * once that event is accepted. It waits for a slot under the cap on requests in flight, and
 * the dispatcher waits with it, holding the queue and the sources behind it (backpressure,
 * not loss).
 */
export const hostRequestDispatch: Executor<'host_request_dispatch'> = {
  kind: 'host_request_dispatch',
  stage: 'outbox',
  settlesLater: true,
  async execute(command, context) {
    const release = await context.requestSlot(command.command_id);
    context.background(respond(command, context).finally(release));
    return commandResult(idsOf(command), 'Recorded', `request dispatched; the response arrives as a host_response event on ingress ${command.replyIngress}`);
  },
};

async function respond(command: CommandOf<'host_request_dispatch'>, context: ExecutionContext): Promise<void> {
  let reply: JsonValue;
  try {
    const attached = grantHeaders(context.record, command.request, context.secrets);
    // The command id is the idempotency key: after a crash the same request can be sent again.
    const guestKey = command.request.headers.some((h) => h.name.toLowerCase() === 'idempotency-key');
    const hostHeaders = [...('reply' in attached ? [] : attached.headers), ...(guestKey ? [] : [{ name: 'Idempotency-Key', value: command.command_id }])];
    reply = parseReply('reply' in attached ? attached.reply : await executeRequest(command.request, { hostHeaders, redact: (text) => context.secrets.redact(text) }));
  } catch (error) {
    reply = { error: { code: 'internal', message: `the request could not be run: ${messageOf(error)}` } };
  }
  const payload: JsonValue = {
    command_id: command.command_id,
    correlation_id: command.correlation_id,
    source_event_id: context.event.correlation_id,
    ...(typeof reply === 'object' && reply !== null && !Array.isArray(reply) && 'error' in reply ? { error: reply['error'] as JsonValue } : { response: reply }),
  };
  await context.deliverResponse(command.command_id, command.replyIngress, 'host_response', `host_request:${command.command_id}`, payload);
}

function parseReply(raw: string): JsonValue {
  try {
    return JSON.parse(raw) as JsonValue;
  } catch {
    return { error: { code: 'internal', message: 'the request host API returned an unreadable reply' } };
  }
}
