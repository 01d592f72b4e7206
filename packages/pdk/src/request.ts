import { request as hostRequest } from 'yoi:host/request@1.0.0';
import { unwrapReply } from './host-error.js';
import type { RequestDescriptor } from './commands.js';

export interface HttpResponse {
  status: number;
  headers: { name: string; value: string }[];
  body: string;
  truncated: boolean;
}

/**
 * One bounded outbound HTTP request through the host (inside a call; for a service, prefer
 * `commands.hostRequest`, whose response arrives as an event). Needs `host_api.request` and a
 * declared, granted target. Throws HostApiError when the host refuses or the request fails.
 */
export function request(descriptor: RequestDescriptor): HttpResponse {
  return unwrapReply<HttpResponse>(hostRequest(JSON.stringify(descriptor)));
}

export { HostApiError } from './host-error.js';
