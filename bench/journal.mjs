#!/usr/bin/env node
// Journal throughput and commit latency, for the durable LMDB engine, the JetStream engine (on a
// nats-server this bench starts on a loopback port with a temporary store, stopped by PID at the
// end; skipped with a note when nats-server is not installed) and the in-memory one:
// appends awaited one by one (one durable write each) and issued many per tick (group commit),
// commits (ack + outbox command + state change) likewise, and the p50/p99 of the durable-write
// latency. A raw lmdb-js row (durable puts of the same record, same tick) is the baseline.
// Bounded: fixed counts. `--json` prints the rows as JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { MemoryJournal, openJetStreamJournal, openLmdbJournal } from '../packages/host/dist/src/index.js';
import { findNatsServer, startNatsServer } from '../packages/host/dist/test/journal/nats-server.js';

const SINGLE = Number(process.env.BENCH_JOURNAL_SINGLE ?? 400);
const TICKS = Number(process.env.BENCH_JOURNAL_TICKS ?? 40);
const PER_TICK = Number(process.env.BENCH_JOURNAL_PER_TICK ?? 1000);
const json = process.argv.includes('--json');
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-journal-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const PLUGIN = 'project:bench';

let made = 0;
function newEvent() {
  const n = ++made;
  return {
    ingress: 'events',
    event: { kind: 'websocket_text', source: 'bench', ingress_name: 'events', payload: { text: `message ${n} ${'x'.repeat(120)}`, url: 'wss://gateway.example/' }, created_at: new Date().toISOString(), attempt: 1, correlation_id: `0190c2d6-0000-7000-8000-${String(n).padStart(12, '0')}` },
  };
}

function commitOf(seq, i) {
  return { ack: [seq], outboxAdd: [{ command_id: `cmd-${i}`, source_seq: seq, command: { kind: 'websocket_send', payload: { text: `reply ${i}` } } }], state: { last_seq: seq } };
}

const rate = (count, ms) => count / (ms / 1000);

function percentiles(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] * 1000);
  return { p50_us: at(0.5), p99_us: at(0.99) };
}

/** Runs `count` calls, `perTick` of them issued together and awaited together; per-call latency is issue → resolve. */
async function run(count, perTick, call) {
  const latencies = [];
  const results = [];
  const started = performance.now();
  for (let done = 0; done < count; done += perTick) {
    const issued = performance.now();
    const batch = await Promise.all(Array.from({ length: Math.min(perTick, count - done) }, (_, k) => call(done + k).then((value) => {
      latencies.push(performance.now() - issued);
      return value;
    })));
    results.push(...batch);
  }
  return { results, per_s: rate(count, performance.now() - started), ...percentiles(latencies) };
}

const PLUGINS = Number(process.env.BENCH_JOURNAL_PLUGINS ?? 50);

async function measure(label, journal, reopen) {
  const rows = [];
  const row = (name, ops, r) => rows.push({ engine: label, case: name, ops, per_s: r.per_s, p50_us: r.p50_us, p99_us: r.p99_us });
  const single = await run(SINGLE, 1, () => journal.append(PLUGIN, [newEvent()]));
  row('append, awaited one by one', SINGLE, single);
  const batched = await run(TICKS * PER_TICK, PER_TICK, () => journal.append(PLUGIN, [newEvent()]));
  row(`append, ${PER_TICK} per tick`, TICKS * PER_TICK, batched);
  const seqs = [...single.results, ...batched.results].map(([e]) => e.seq);
  row('commit, awaited one by one', SINGLE, await run(SINGLE, 1, (i) => journal.commit(PLUGIN, commitOf(seqs[i], i))));
  row(`commit, ${PER_TICK} per tick`, TICKS * PER_TICK, await run(TICKS * PER_TICK, PER_TICK, (i) => journal.commit(PLUGIN, commitOf(seqs[SINGLE + i], SINGLE + i))));
  // Ingress spread over many plugins: the JetStream engine writes one message per plugin per tick.
  row(`append, ${PER_TICK}/tick, ${PLUGINS} plugins`, TICKS * PER_TICK, await run(TICKS * PER_TICK, PER_TICK, (i) => journal.append(`project:bench-${i % PLUGINS}`, [newEvent()])));
  const stats = journal.stats();
  if ((await journal.unacked(PLUGIN)).length !== 0) throw new Error(`${label}: events left unacknowledged`);
  if ((await journal.outbox(PLUGIN)).length !== SINGLE + TICKS * PER_TICK) throw new Error(`${label}: outbox entries missing`);
  if (stats.write_errors !== 0) throw new Error(`${label}: ${stats.write_errors} write errors`);
  rows.push({ engine: label, case: 'durable writes (flushes)', ops: stats.flushes ?? 0, per_s: null });
  await journal.close();
  if (reopen) {
    // Reopening reads the records back (the JetStream engine replays its logs into memory).
    const records = SINGLE + TICKS * PER_TICK * 2;
    const started = performance.now();
    const again = await reopen();
    const outbox = (await again.outbox(PLUGIN)).length;
    let events = 0;
    for (let p = 0; p < PLUGINS; p++) events += (await again.unacked(`project:bench-${p}`)).length;
    const ms = performance.now() - started;
    if (outbox + events !== records) throw new Error(`${label}: ${outbox + events} of ${records} records after reopening`);
    rows.push({ engine: label, case: 'reopen + read all records', ops: records, per_s: rate(records, ms) });
    await again.close();
  }
  return rows;
}

async function rawLmdb() {
  const db = open({ path: join(root, 'raw'), encoding: 'string', overlappingSync: false });
  const record = JSON.stringify({ ...newEvent(), accepted_at: Date.now() });
  let key = 0;
  const started = performance.now();
  for (let t = 0; t < TICKS; t++) {
    await Promise.all(Array.from({ length: PER_TICK }, () => db.put([PLUGIN, ++key], record)));
  }
  const row = { engine: 'lmdb-js raw', case: `put, ${PER_TICK} per tick`, ops: TICKS * PER_TICK, per_s: rate(TICKS * PER_TICK, performance.now() - started) };
  await db.close();
  return row;
}

async function jetstreamRows() {
  if (findNatsServer() === null) return [{ engine: 'jetstream', case: 'skipped: nats-server is not installed', ops: 0, per_s: null }];
  const server = await startNatsServer();
  try {
    const open = () => openJetStreamJournal({ servers: server.url, prefix: 'bench' });
    return await measure('jetstream', await open(), open);
  } finally {
    await server.stop();
  }
}

const rows = [
  await rawLmdb(),
  ...(await measure('lmdb', await openLmdbJournal({ dir: join(root, 'journal') }), () => openLmdbJournal({ dir: join(root, 'journal') }))),
  ...(await jetstreamRows()),
  ...(await measure('memory', new MemoryJournal())),
];

if (json) {
  console.log(JSON.stringify({ node: process.version, cpus: cpus().length, rows }, null, 2));
} else {
  console.log(`\njournal — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; lmdb: synced before the promise resolves; jetstream: acknowledged by nats-server (file storage, one local server)\n`);
  console.log(['engine'.padEnd(13), 'case'.padEnd(30), 'ops'.padStart(8), 'ops/s'.padStart(11), 'p50 µs'.padStart(9), 'p99 µs'.padStart(9)].join(''));
  for (const row of rows) {
    console.log([row.engine.padEnd(13), row.case.padEnd(30), String(row.ops).padStart(8), (row.per_s === null ? '' : Math.round(row.per_s).toString()).padStart(11), String(row.p50_us ?? '').padStart(9), String(row.p99_us ?? '').padStart(9)].join(''));
  }
}
