/** A host API call the host refused or could not complete; `code` is the host's (denied, timeout, …). */
export class HostApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostApiError';
  }
}

/** Parses a host API reply; an `{"error":…}` reply becomes a HostApiError. */
export function unwrapReply<T>(raw: string): T {
  const reply = JSON.parse(raw) as { error?: { code?: string; message?: string } };
  if (reply && typeof reply === 'object' && reply.error) throw new HostApiError(reply.error.code ?? 'error', reply.error.message ?? 'host API call failed');
  return reply as T;
}
