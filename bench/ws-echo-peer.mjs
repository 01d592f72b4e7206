// The far end of bench/websocket.mjs, in a process of its own (so the host process's CPU time
// and event loop are the host's alone): a loopback WebSocket server that offers frames at a
// rate and times each echo. Talks to its parent over IPC:
//   ← { port }                                 listening
//   ← { connected: true }                      the host dialled in
//   → { rate, seconds, first, drainMs }        offer `rate` msg/s for `seconds`, frames numbered from `first`
//   ← { sent, sendSeconds, elapsed, latencies } echo latencies in ms, in arrival order
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const server = createServer();
const wss = new WebSocketServer({ server });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
let socket = null;
wss.on('connection', (s) => {
  socket = s;
  process.send({ connected: true });
});
process.send({ port: server.address().port });

async function offer({ rate, seconds, first, drainMs }) {
  const sentAt = new Map();
  const latencies = [];
  const onMessage = (data) => {
    const n = Number(String(data).slice('echo: '.length));
    const t0 = sentAt.get(n);
    if (t0 === undefined) return;
    sentAt.delete(n);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  socket.on('message', onMessage);
  const total = Math.round(rate * seconds);
  const started = Date.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(first + i, process.hrtime.bigint());
    socket.send(String(first + i));
  }
  const sendSeconds = (Date.now() - started) / 1000;
  // Drain: wait for every echo, but stop once nothing has arrived for 3 s (frames that never come back were dropped).
  const deadline = Date.now() + drainMs;
  let last = latencies.length;
  let lastProgress = Date.now();
  while (latencies.length < total && Date.now() < deadline && Date.now() - lastProgress < 3_000) {
    await new Promise((r) => setTimeout(r, 20));
    if (latencies.length !== last) {
      last = latencies.length;
      lastProgress = Date.now();
    }
  }
  socket.off('message', onMessage);
  return { sent: total, sendSeconds, elapsed: (Date.now() - started) / 1000, latencies };
}

process.on('message', (message) => {
  if (message === 'close') {
    for (const c of wss.clients) c.terminate();
    server.close(() => process.exit(0));
    return;
  }
  void offer(message).then((result) => process.send(result));
});
