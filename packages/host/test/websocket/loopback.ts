/** A loopback WebSocket server (127.0.0.1) for driver tests, and a bounded wait. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';

export interface Loopback {
  readonly port: number;
  readonly sockets: ServerSocket[];
  readonly received: string[];
  readonly upgrades: { at: number; headers: Record<string, string | string[] | undefined> }[];
  refuse: boolean;
  server: Server;
  wss: WebSocketServer;
}

export async function loopback(t: TestContext, options: { autoPong?: boolean; onConnection?: (socket: ServerSocket) => void; onMessage?: (socket: ServerSocket, text: string) => void } = {}): Promise<Loopback> {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true, autoPong: options.autoPong ?? true });
  const state: Loopback = { port: 0, sockets: [], received: [], upgrades: [], refuse: false, server, wss };
  server.on('upgrade', (req, socket, head) => {
    state.upgrades.push({ at: Date.now(), headers: req.headers });
    if (state.refuse) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      state.sockets.push(ws);
      ws.on('message', (data) => {
        state.received.push(data.toString());
        options.onMessage?.(ws, data.toString());
      });
      options.onConnection?.(ws);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (state as { port: number }).port = (server.address() as AddressInfo).port;
  t.after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

