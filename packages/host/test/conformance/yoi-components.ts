/**
 * Components built from Yoi's WIT alone: a hand-written core module (the canonical ABI of
 * Yoi's worlds, nothing of ours) embedded with the WIT text Yoi ships
 * (`resources/plugin/wit/yoi-plugin-{tool,instance}-v1.wit` and
 * `deps/yoi-host/yoi-host-v1.wit`, restated below) and turned into a component by
 * wasm-tools, as `wit-bindgen` + `wasm-tools component new` would for a Rust guest. They
 * import exactly `yoi:host/request`, `yoi:host/websocket` and `yoi:host/fs` and nothing else.
 *
 * Behaviour, chosen by the tool name (tool world `call`, instance world `handle-tool`):
 * - `echo`: returns its input (send a ToolOutput, get it back);
 * - `request`, `fs-read`, `fs-list`, `fs-write`: passes its input to that host function and
 *   returns `{"summary":"host reply","content":"<hex of the reply>"}`;
 * - `ws`: opens a pull WebSocket with its input, sends `hello`, receives (2 s), closes, and
 *   returns the four replies hex-encoded, separated by newlines;
 * - `grow`: grows linear memory by 16 MiB (traps if refused); `table`: grows its table to 257
 *   elements (traps if refused); `big`: a 70 000-byte output; `trap`: traps.
 * Instance world: `start(config)` returns a JSON object config verbatim (so a config
 * `{"error":…}` makes start fail) and keeps a JSON string config as a reply template;
 * `handle-ingress` answers an event that has a `"text":` field with that template, each `@ID@`
 * replaced by the event's correlation id (so output commands can name their source event),
 * and anything else with `{"accepted":true}`.
 */
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';

/** Yoi's WIT (HEAD b12e0785), package by package, in one source. */
export const YOI_WIT = `package yoi:plugin@1.0.0;

world tool {
  import yoi:host/request@1.0.0;
  import yoi:host/websocket@1.0.0;
  import yoi:host/fs@1.0.0;
  export call: func(tool-name: string, input-json: string) -> string;
}

world instance {
  import yoi:host/request@1.0.0;
  import yoi:host/websocket@1.0.0;
  import yoi:host/fs@1.0.0;
  export start: func(config-json: string) -> string;
  export handle-tool: func(name: string, input-json: string) -> string;
  export handle-ingress: func(name: string, event-json: string) -> string;
  export status: func() -> string;
  export stop: func() -> string;
}

package yoi:host@1.0.0 {
  interface request {
    request: func(request-json: string) -> string;
  }
  interface websocket {
    open: func(request-json: string) -> string;
    send-text: func(handle: u32, text: string) -> string;
    recv: func(handle: u32, timeout-ms: u32) -> string;
    close: func(handle: u32) -> string;
  }
  interface fs {
    read: func(request-json: string) -> string;
    %list: func(request-json: string) -> string;
    write: func(request-json: string) -> string;
  }
}
`;

const ARENA = 196608; // pages 0–2: constants, return area, template; the bump arena starts at page 3
const TEMPLATE = 65536; // page 1–2: the reply template (≤ 128 KiB)

/** Constants in the data segment: name → [offset, text]. */
const CONSTANTS: Record<string, [number, string]> = {
  echo: [1024, 'echo'],
  request: [1040, 'request'],
  fsRead: [1056, 'fs-read'],
  fsList: [1072, 'fs-list'],
  fsWrite: [1088, 'fs-write'],
  ws: [1104, 'ws'],
  grow: [1120, 'grow'],
  big: [1136, 'big'],
  trap: [1152, 'trap'],
  table: [1160, 'table'],
  hello: [1168, 'hello'],
  grewTable: [1600, '{"summary":"table grew to 257 elements","content":null}'],
  hostPrefix: [1184, '{"summary":"host reply","content":"'],
  close: [1232, '"}'],
  unknown: [1248, '{"summary":"unknown tool","content":null}'],
  grew: [1296, '{"summary":"grew 16 MiB","content":null}'],
  running: [1344, '{"state":"running"}'],
  status: [1376, '{"state":"running","ready":true}'],
  stopped: [1424, '{"state":"stopped"}'],
  accepted: [1456, '{"accepted":true}'],
  textKey: [1488, '"text":'],
  idKey: [1504, '"correlation_id":"'],
  idMark: [1536, '@ID@'],
  hex: [1552, '0123456789abcdef'],
};
const at = (name: string) => CONSTANTS[name]![0];
const len = (name: string) => Buffer.byteLength(CONSTANTS[name]![1]);
const str = (name: string) => `(i32.const ${at(name)}) (i32.const ${len(name)})`;
const ret = (ptr: string, length: string) => `(i32.store (i32.const 8) ${ptr}) (i32.store (i32.const 12) ${length}) (i32.const 8)`;
const retConst = (name: string) => ret(`(i32.const ${at(name)})`, `(i32.const ${len(name)})`);

function coreModule(world: 'tool' | 'instance'): string {
  const data = Object.values(CONSTANTS)
    .map(([offset, text]) => `(data (i32.const ${offset}) "${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}")`)
    .join('\n  ');
  const dispatch = (name: string, input: string) => `(call $dispatch ${name} ${input})`;
  const exports =
    world === 'tool'
      ? `(func (export "call") (param i32 i32 i32 i32) (result i32) ${dispatch('(local.get 0) (local.get 1)', '(local.get 2) (local.get 3)')})
  (func (export "cabi_post_call") (param i32) (call $reset))`
      : `(func (export "start") (param i32 i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 123)) (then (return ${ret('(local.get 0)', '(local.get 1)')})))
    (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 34))
      (then (global.set $tlen (call $unescape (i32.add (local.get 0) (i32.const 1)) (i32.sub (local.get 1) (i32.const 1)) (i32.const ${TEMPLATE})))))
    ${retConst('running')})
  (func (export "cabi_post_start") (param i32) (call $reset))
  (func (export "handle-tool") (param i32 i32 i32 i32) (result i32) ${dispatch('(local.get 0) (local.get 1)', '(local.get 2) (local.get 3)')})
  (func (export "cabi_post_handle-tool") (param i32) (call $reset))
  (func (export "handle-ingress") (param i32 i32 i32 i32) (result i32) (local $id i32) (local $idlen i32) (local $i i32)
    (if (i32.or (i32.eqz (global.get $tlen)) (i32.lt_s (call $find (local.get 2) (local.get 3) ${str('textKey')}) (i32.const 0)))
      (then (return ${retConst('accepted')})))
    (local.set $id (call $find (local.get 2) (local.get 3) ${str('idKey')}))
    (local.set $id (i32.add (i32.add (local.get 2) (local.get $id)) (i32.const ${len('idKey')})))
    (local.set $idlen (i32.const 0))
    (block $done (loop $scan
      (br_if $done (i32.eq (i32.load8_u (i32.add (local.get $id) (local.get $idlen))) (i32.const 34)))
      (local.set $idlen (i32.add (local.get $idlen) (i32.const 1)))
      (br $scan)))
    (call $out_begin (i32.add (global.get $tlen) (i32.const 65536)))
    (local.set $i (i32.const 0))
    (block $end (loop $copy
      (br_if $end (i32.ge_u (local.get $i) (global.get $tlen)))
      (if (call $starts (i32.add (i32.const ${TEMPLATE}) (local.get $i)) (i32.sub (global.get $tlen) (local.get $i)) ${str('idMark')})
        (then (call $emit (local.get $id) (local.get $idlen)) (local.set $i (i32.add (local.get $i) (i32.const ${len('idMark')}))))
        (else (call $emit_byte (i32.load8_u (i32.add (i32.const ${TEMPLATE}) (local.get $i)))) (local.set $i (i32.add (local.get $i) (i32.const 1)))))
      (br $copy)))
    (call $out_end))
  (func (export "cabi_post_handle-ingress") (param i32) (call $reset))
  (func (export "status") (result i32) ${retConst('status')})
  (func (export "cabi_post_status") (param i32) (call $reset))
  (func (export "stop") (result i32) ${retConst('stopped')})
  (func (export "cabi_post_stop") (param i32) (call $reset))`;
  return `(module
  (import "yoi:host/request@1.0.0" "request" (func $request (param i32 i32 i32)))
  (import "yoi:host/websocket@1.0.0" "open" (func $ws_open (param i32 i32 i32)))
  (import "yoi:host/websocket@1.0.0" "send-text" (func $ws_send (param i32 i32 i32 i32)))
  (import "yoi:host/websocket@1.0.0" "recv" (func $ws_recv (param i32 i32 i32)))
  (import "yoi:host/websocket@1.0.0" "close" (func $ws_close (param i32 i32)))
  (import "yoi:host/fs@1.0.0" "read" (func $fs_read (param i32 i32 i32)))
  (import "yoi:host/fs@1.0.0" "list" (func $fs_list (param i32 i32 i32)))
  (import "yoi:host/fs@1.0.0" "write" (func $fs_write (param i32 i32 i32)))
  (memory (export "memory") 4)
  (table $table 1 funcref)
  (global $bump (mut i32) (i32.const ${ARENA}))
  (global $tlen (mut i32) (i32.const 0))
  (global $out (mut i32) (i32.const 0))
  (global $outlen (mut i32) (i32.const 0))
  ${data}

  (func $alloc (param $size i32) (result i32) (local $r i32) (local $end i32) (local $have i32)
    (local.set $r (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
    (local.set $end (i32.add (local.get $r) (local.get $size)))
    (local.set $have (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then (if (i32.eq (memory.grow (i32.add (i32.div_u (i32.sub (local.get $end) (local.get $have)) (i32.const 65536)) (i32.const 1))) (i32.const -1))
        (then unreachable))))
    (global.set $bump (local.get $end))
    (local.get $r))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (call $alloc (local.get 3)))
  (func $reset (global.set $bump (i32.const ${ARENA})))

  ;; output buffer
  (func $out_begin (param $capacity i32) (global.set $out (call $alloc (local.get $capacity))) (global.set $outlen (i32.const 0)))
  (func $emit_byte (param $b i32) (i32.store8 (i32.add (global.get $out) (global.get $outlen)) (local.get $b)) (global.set $outlen (i32.add (global.get $outlen) (i32.const 1))))
  (func $emit (param $p i32) (param $n i32) (memory.copy (i32.add (global.get $out) (global.get $outlen)) (local.get $p) (local.get $n)) (global.set $outlen (i32.add (global.get $outlen) (local.get $n))))
  (func $emit_hex (param $p i32) (param $n i32) (local $i i32) (local $b i32)
    (block $end (loop $l
      (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $b (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (call $emit_byte (i32.load8_u (i32.add (i32.const ${at('hex')}) (i32.shr_u (local.get $b) (i32.const 4)))))
      (call $emit_byte (i32.load8_u (i32.add (i32.const ${at('hex')}) (i32.and (local.get $b) (i32.const 15)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))
  (func $out_end (result i32) ${ret('(global.get $out)', '(global.get $outlen)')})

  ;; strings
  (func $starts (param $p i32) (param $n i32) (param $c i32) (param $cn i32) (result i32) (local $i i32)
    (if (i32.lt_u (local.get $n) (local.get $cn)) (then (return (i32.const 0))))
    (block $end (loop $l
      (br_if $end (i32.ge_u (local.get $i) (local.get $cn)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.load8_u (i32.add (local.get $c) (local.get $i)))) (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.const 1))
  (func $equals (param $p i32) (param $n i32) (param $c i32) (param $cn i32) (result i32)
    (i32.and (i32.eq (local.get $n) (local.get $cn)) (call $starts (local.get $p) (local.get $n) (local.get $c) (local.get $cn))))
  (func $find (param $p i32) (param $n i32) (param $c i32) (param $cn i32) (result i32) (local $i i32)
    (block $end (loop $l
      (br_if $end (i32.gt_u (i32.add (local.get $i) (local.get $cn)) (local.get $n)))
      (if (call $starts (i32.add (local.get $p) (local.get $i)) (i32.sub (local.get $n) (local.get $i)) (local.get $c) (local.get $cn)) (then (return (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.const -1))
  ;; copies a JSON string body (after its opening quote) to $dst, undoing \\" and \\\\, up to the closing quote
  (func $unescape (param $p i32) (param $n i32) (param $dst i32) (result i32) (local $i i32) (local $o i32) (local $b i32)
    (block $end (loop $l
      (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $b (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (br_if $end (i32.eq (local.get $b) (i32.const 34)))
      (if (i32.eq (local.get $b) (i32.const 92)) (then
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $b (i32.load8_u (i32.add (local.get $p) (local.get $i))))))
      (i32.store8 (i32.add (local.get $dst) (local.get $o)) (local.get $b))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $o))
  (func $first_number (param $p i32) (param $n i32) (result i32) (local $i i32) (local $v i32) (local $b i32) (local $seen i32)
    (block $end (loop $l
      (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $b (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (if (i32.and (i32.ge_u (local.get $b) (i32.const 48)) (i32.le_u (local.get $b) (i32.const 57)))
        (then (local.set $seen (i32.const 1)) (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (i32.sub (local.get $b) (i32.const 48)))))
        (else (br_if $end (local.get $seen))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $v))

  ;; host calls: the reply lands as (ptr,len) at 16
  (func $reply_hex (call $out_begin (i32.add (i32.mul (i32.load (i32.const 20)) (i32.const 2)) (i32.const 128)))
    (call $emit ${str('hostPrefix')}) (call $emit_hex (i32.load (i32.const 16)) (i32.load (i32.const 20))) (call $emit ${str('close')}))

  (func $dispatch (param $name i32) (param $nlen i32) (param $in i32) (param $inlen i32) (result i32) (local $h i32) (local $r i32) (local $rl i32)
    (if (call $equals (local.get $name) (local.get $nlen) ${str('echo')}) (then (return ${ret('(local.get $in)', '(local.get $inlen)')})))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('request')}) (then (call $request (local.get $in) (local.get $inlen) (i32.const 16)) (call $reply_hex) (return (call $out_end))))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('fsRead')}) (then (call $fs_read (local.get $in) (local.get $inlen) (i32.const 16)) (call $reply_hex) (return (call $out_end))))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('fsList')}) (then (call $fs_list (local.get $in) (local.get $inlen) (i32.const 16)) (call $reply_hex) (return (call $out_end))))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('fsWrite')}) (then (call $fs_write (local.get $in) (local.get $inlen) (i32.const 16)) (call $reply_hex) (return (call $out_end))))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('ws')}) (then
      (call $out_begin (i32.const 262144))
      (call $emit ${str('hostPrefix')})
      (call $ws_open (local.get $in) (local.get $inlen) (i32.const 16))
      (local.set $r (i32.load (i32.const 16))) (local.set $rl (i32.load (i32.const 20)))
      (call $emit_hex (local.get $r) (local.get $rl))
      (local.set $h (call $first_number (local.get $r) (local.get $rl)))
      (call $ws_send (local.get $h) ${str('hello')} (i32.const 16))
      (call $emit_byte (i32.const 48)) (call $emit_byte (i32.const 97)) ;; hex of a newline
      (call $emit_hex (i32.load (i32.const 16)) (i32.load (i32.const 20)))
      (call $ws_recv (local.get $h) (i32.const 2000) (i32.const 16))
      (call $emit_byte (i32.const 48)) (call $emit_byte (i32.const 97))
      (call $emit_hex (i32.load (i32.const 16)) (i32.load (i32.const 20)))
      (call $ws_close (local.get $h) (i32.const 16))
      (call $emit_byte (i32.const 48)) (call $emit_byte (i32.const 97))
      (call $emit_hex (i32.load (i32.const 16)) (i32.load (i32.const 20)))
      (call $emit ${str('close')})
      (return (call $out_end))))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('grow')}) (then
      (if (i32.eq (memory.grow (i32.const 256)) (i32.const -1)) (then unreachable))
      (return ${retConst('grew')})))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('big')}) (then
      (call $out_begin (i32.const 70000))
      (memory.fill (global.get $out) (i32.const 120) (i32.const 70000))
      (global.set $outlen (i32.const 70000))
      (return (call $out_end))))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('trap')}) (then unreachable))
    (if (call $equals (local.get $name) (local.get $nlen) ${str('table')}) (then
      (if (i32.eq (table.grow $table (ref.null func) (i32.const 256)) (i32.const -1)) (then unreachable))
      (return ${retConst('grewTable')})))
    ${retConst('unknown')})

  ${exports}
)`;
}

const built = new Map<string, Promise<Uint8Array>>();

/** A component of Yoi's `tool` or `instance` world, from the core module above and Yoi's WIT only. */
export function yoiWitComponent(world: 'tool' | 'instance'): Promise<Uint8Array> {
  let component = built.get(world);
  if (!component) {
    component = (async () => {
      const core = await parse(coreModule(world));
      const embedded = await componentEmbed({ binary: core, witSource: YOI_WIT, world: `yoi:plugin/${world}@1.0.0` });
      return componentNew(embedded);
    })();
    built.set(world, component);
  }
  return component;
}

/** Decodes the hex `content` of a `host reply` ToolOutput; `ws` replies are split at newlines. */
export function hostReplies(content: string | null | undefined): string[] {
  return Buffer.from(content ?? '', 'hex').toString('utf8').split('\n');
}
