import { WebSocketServer } from 'ws';
import { WebSocketPullSession } from './dist/src/hostapi/websocket.js';
import { parseManifest } from './dist/src/manifest/parse.js';
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise(r => wss.once('listening', r));
const port = wss.address().port;
wss.on('connection', (ws) => { ws.send('welcome'); ws.on('message', (d) => ws.send(d.toString())); });
const text = `schema_version = 1
id = "echo"
name = "Echo"
version = "0.1.0"
surfaces = ["tool"]
permissions = [ { kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" }, { kind = "host_api", api = "websocket" } ]
[runtime]
kind = "wasm-component"
component = "plugin.component.wasm"
world = "yoi:plugin/tool@1.0.0"
[[tools]]
name = "echo"
description = "e"
input_schema = { type = "object" }
[[websocket]]
scheme = "ws"
host = "127.0.0.1"
path_prefixes = ["/ws"]
`;
const m = parseManifest(new TextEncoder().encode(text));
if (!m.ok) throw new Error(JSON.stringify(m));
const D = 'sha256:' + 'a'.repeat(64);
const subject = { identity: 'project:echo', version: '0.1.0', digest: D, manifest: m.value, grants: { id: 'project:echo', version: '0.1.0', digest: D, permissions: m.value.permissions, request: [], websocket: m.value.websocket, fs: [] } };
let lost = 0;
for (let i = 0; i < 100; i++) {
  const s = new WebSocketPullSession(subject);
  const o = JSON.parse(await s.call('open', [JSON.stringify({ url: `ws://127.0.0.1:${port}/ws` })]));
  const r = await s.call('recv', [o.handle, 300]);
  if (!r.includes('welcome')) { lost++; if (lost < 3) console.log(r); }
  s.closeAll();
}
console.log('lost', lost);
wss.close();
for (const c of wss.clients) c.terminate();
