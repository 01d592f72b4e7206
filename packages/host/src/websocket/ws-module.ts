import { createRequire } from 'node:module';
import type WebSocket from 'ws';

const require = createRequire(import.meta.url);
let loaded: typeof WebSocket | undefined;

/**
 * The `ws` client class, loaded when the first connection is dialled rather than when the
 * host starts: most hosts and every short CLI command never dial (loading it costs 30–90 ms).
 */
export function webSocketClass(): typeof WebSocket {
  return (loaded ??= require('ws') as typeof WebSocket);
}
