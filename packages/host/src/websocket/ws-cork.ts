import type WebSocket from 'ws';

interface Corkable {
  cork(): void;
  uncork(): void;
}

const corked = new WeakSet<object>();

/**
 * Holds a ws client's outgoing frames until the current run of callbacks and promise
 * continuations is over (`process.nextTick` runs after them), so the frames sent in answer to
 * one batch of events leave in one write instead of one syscall each. ws has no public cork:
 * its TCP socket is read defensively (nothing happens if it is absent).
 */
export function corkUntilTick(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: Partial<Corkable> | null })._socket;
  if (!raw || typeof raw.cork !== 'function' || typeof raw.uncork !== 'function' || corked.has(raw)) return;
  const stream = raw as Corkable;
  stream.cork();
  corked.add(stream);
  process.nextTick(() => {
    corked.delete(stream);
    stream.uncork();
  });
}
