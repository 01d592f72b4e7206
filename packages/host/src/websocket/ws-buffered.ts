import type WebSocket from 'ws';

/**
 * Bytes a ws client has already read from the network but not yet emitted as messages: its
 * frame parser's buffer plus the TCP socket's readable buffer. ws emits every frame of a read
 * chunk even after `pause()`, so these will arrive whatever we do; the inbox counts them when
 * deciding to pause. ws has no public accessor, so the fields are read defensively (0 if absent).
 */
export function bufferedInbound(socket: WebSocket | null): number {
  if (!socket) return 0;
  const internals = socket as unknown as { _receiver?: { _bufferedBytes?: unknown }; _socket?: { readableLength?: unknown } | null };
  const parser = internals._receiver?._bufferedBytes;
  const stream = internals._socket?.readableLength;
  return (typeof parser === 'number' ? parser : 0) + (typeof stream === 'number' ? stream : 0);
}
