import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { JournalWriteError, type Journal, type JournalLimits } from '../../src/journal/journal.js';
import { JOURNAL_CONFLICT, JOURNAL_FENCED, JOURNAL_UNCONFIRMED, MIN_NATS_SERVER, openJetStreamJournal, type JetStreamJournal, type JetStreamJournalOptions } from '../../src/journal/jetstream-journal.js';
import { subjectToken } from '../../src/journal/jetstream-log.js';
import { journalConformance, newEvent, snapshot } from './conformance.js';
import { findNatsServer, natsSkipReason, startNatsServer, type NatsServer } from './nats-server.js';

// A small max_payload, so that large groups and big states are written in several parts
// throughout the conformance suite too.
const MAX_PAYLOAD = 64 * 1024;
const skip = natsSkipReason();

if (skip) {
  describe('jetstream journal', { skip }, () => {
    it('needs nats-server', () => {});
  });
} else {
  let server: NatsServer | undefined;
  before(async () => {
    server = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}` });
  });
  after(() => server?.stop());
  const url = (): string => {
    if (!server) throw new Error('nats-server did not start');
    return server.url;
  };

  let prefixes = 0;
  const optionsOf = new WeakMap<Journal, JetStreamJournalOptions>();
  async function openFresh(extra: Partial<JetStreamJournalOptions> = {}): Promise<JetStreamJournal> {
    const options: JetStreamJournalOptions = { servers: url(), prefix: `t${process.pid}_${++prefixes}`, ...extra };
    const journal = await openJetStreamJournal(options);
    optionsOf.set(journal, options);
    return journal;
  }
  async function reopen(journal: Journal): Promise<JetStreamJournal> {
    await journal.close();
    const options = optionsOf.get(journal)!;
    const again = await openJetStreamJournal(options);
    optionsOf.set(again, options);
    return again;
  }

  journalConformance({
    name: 'jetstream',
    open: (limits?: Partial<JournalLimits>) => openFresh(limits ? { limits } : {}),
    reopen,
  });

  async function manager(t: TestContext, at = url()): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
    const nc = await connect({ servers: at });
    t.after(() => nc.close());
    return { nc, jsm: await jetstreamManager(nc) };
  }

  function writeError(code: string, pattern: RegExp): (error: unknown) => boolean {
    return (error) => {
      assert.ok(error instanceof JournalWriteError, `expected a JournalWriteError, got ${String(error)}`);
      assert.equal(error.code, code);
      assert.match(error.message, pattern);
      assert.ok(error.message.length <= 400);
      return true;
    };
  }

  describe('jetstream journal', () => {
    it('keeps each plugin on its own subject of one file-stored stream that never discards, and describes itself in a KV bucket', async (t) => {
      const journal = await openFresh();
      t.after(() => journal.close());
      await journal.append('project:a.b', [newEvent(1)]);
      await journal.commit('builtin:c', { state: { k: 1 } });
      const { nc, jsm } = await manager(t);
      const info = await jsm.streams.info(journal.stream, { subjects_filter: '>' });
      assert.equal(info.config.storage, 'file');
      assert.equal(info.config.discard, 'new');
      assert.equal(info.config.retention, 'limits');
      assert.equal(info.config.max_age, 0);
      assert.deepEqual(info.config.subjects, [journal.subjects]);
      const root = journal.subjects.slice(0, -2);
      assert.deepEqual(Object.keys(info.state.subjects ?? {}).sort(), [`${root}.${subjectToken('builtin:c')}`, `${root}.${subjectToken('project:a.b')}`].sort());
      const kv = await new Kvm(nc).open(journal.bucket);
      assert.equal((await kv.get('journal'))?.json<{ format: number }>().format, 1);
      assert.match(journal.serverVersion, /^\d+\.\d+\.\d+/);
    });

    it('writes a transaction larger than max_payload in parts, and replay takes only whole transactions', async (t) => {
      const journal = await openFresh();
      const P = 'project:big';
      const big = { blob: 'ü'.repeat(90_000) }; // 180 kB of UTF-8: four parts
      await journal.append(P, [newEvent(1)]);
      await journal.commit(P, { state: big });
      // A transaction cut short: two of three parts, as a crash mid-write leaves them.
      const { nc } = await manager(t);
      const subject = `${journal.subjects.slice(0, -2)}.${subjectToken(P)}`;
      const js = jetstream(nc);
      for (const part of ['1/3', '2/3']) {
        const h = headers();
        h.set('Yoi-Journal', '1');
        h.set('Yoi-Tx', 'cut-short');
        h.set('Yoi-Part', part);
        await js.publish(subject, '{"reset":true,"m":[', { headers: h });
      }
      const again = await reopen(journal);
      t.after(() => again.close());
      assert.deepEqual(await again.state(P), big);
      assert.deepEqual((await again.unacked(P)).map((e) => e.seq), [1]);
      assert.equal(again.logStats().skipped_messages, 2);
      // The next write follows the parts on the subject.
      assert.deepEqual((await again.append(P, [newEvent(2)])).map((e) => e.seq), [2]);
      const third = await reopen(again);
      t.after(() => third.close());
      assert.deepEqual((await third.unacked(P)).map((e) => e.seq), [1, 2]);
    });

    it("compacts a plugin's log into one snapshot, purges what came before, and reads the same records back", async (t) => {
      const journal = await openFresh({ compactAfterMessages: 10 });
      const P = 'project:compact';
      for (let i = 1; i <= 30; i++) {
        await journal.append(P, [newEvent(i)]);
        if (i % 2 === 0) await journal.commit(P, { ack: [i - 1], state: { last: i }, outboxAdd: [{ command_id: `c${i}`, source_seq: i, command: { i } }] });
      }
      await journal.commit(P, { outboxDone: ['c2'] }); // waits for the compaction the last call started
      const before = await snapshot(journal, P);
      assert.ok(journal.logStats().compactions >= 3, `compactions: ${journal.logStats().compactions}`);
      assert.equal(journal.logStats().compaction_failures, 0);
      const { jsm } = await manager(t);
      const messages = (await jsm.streams.info(journal.stream)).state.messages;
      assert.ok(messages <= 11, `the stream holds ${messages} messages after compaction`);
      const again = await reopen(journal);
      t.after(() => again.close());
      assert.deepEqual(await snapshot(again, P), before);
      assert.deepEqual((await again.append(P, [newEvent(31)])).map((e) => e.seq), [31]);
    });

    it('fences a writer whose view is stale: its write is refused with nothing stored, it reads the log again, and other plugins of the same tick are unaffected', async (t) => {
      const first = await openFresh();
      t.after(() => first.close());
      const second = await openJetStreamJournal(optionsOf.get(first)!);
      t.after(() => second.close());
      await first.append('p', [newEvent(1)]);
      const [stale, fresh] = await Promise.allSettled([second.append('p', [newEvent(2)]), second.append('q', [newEvent(3)])]);
      assert.equal(stale.status, 'rejected');
      writeError(JOURNAL_CONFLICT, /changed on the server.*nothing of this write was stored/)((stale as PromiseRejectedResult).reason);
      assert.equal(fresh.status, 'fulfilled');
      assert.equal(second.logStats().conflicts, 1);
      assert.deepEqual((await second.unacked('p')).map((e) => e.event.payload), [newEvent(1).event.payload], 'it read the other writer’s event');
      assert.deepEqual((await second.append('p', [newEvent(2)])).map((e) => e.seq), [2]);
      await assert.rejects(first.commit('p', { ack: [1] }), writeError(JOURNAL_CONFLICT, /changed on the server/));
      await first.commit('p', { ack: [1] });
      assert.deepEqual((await first.unacked('p')).map((e) => e.seq), [2]);
    });

    it('with claims required (several hosts): only the host whose claim is the log\'s owner record writes; a later claim fences the earlier owner for good', async (t) => {
      const a = await openFresh({ requireClaims: true, writer: 'host-a' });
      const options = optionsOf.get(a)!;
      const b = await openJetStreamJournal({ ...options, writer: 'host-b' });
      t.after(async () => {
        await a.close();
        await b.close();
      });
      const fenced: string[] = [];
      a.onFenced((plugin) => fenced.push(plugin));
      // No claim, no write.
      await assert.rejects(a.append('p', [newEvent(1)]), writeError(JOURNAL_FENCED, /holds no lease/));
      await a.claim('p', 'host-a@1');
      assert.equal(a.owns('p'), true);
      const [first] = await a.append('p', [newEvent(1)]);
      await a.commit('p', { state: { k: 1 } });
      // Another host claims: it reads what A wrote, and writes on.
      await b.claim('p', 'host-b@7');
      assert.deepEqual(await b.state('p'), { k: 1 });
      assert.deepEqual((await b.unacked('p')).map((e) => e.seq), [first!.seq]);
      await b.commit('p', { ack: [first!.seq], state: { k: 2 } });
      // A's next write conflicts with B's claim, reads the log again and is fenced, and stays fenced.
      await assert.rejects(a.commit('p', { state: { k: 3 } }), (error: unknown) => error instanceof JournalWriteError && (error.code === 'YOI_JOURNAL_CONFLICT' || error.code === 'YOI_JOURNAL_FENCED'));
      await assert.rejects(a.commit('p', { state: { k: 3 } }), writeError(JOURNAL_FENCED, /another host took the plugin over/));
      await assert.rejects(a.append('p', [newEvent(2)]), writeError(JOURNAL_FENCED, /holds no lease/));
      assert.deepEqual(fenced, ['p']);
      assert.equal(a.owns('p'), false);
      assert.equal(a.logStats().fenced >= 2, true);
      // Nothing of A's refused writes is in the log; B goes on.
      await b.refresh('p');
      assert.deepEqual(await b.state('p'), { k: 2 });
      await b.commit('p', { state: { k: 4 } });
      await a.refresh('p');
      assert.deepEqual(await a.state('p'), { k: 4 });
      // A claims again (a new lease): it owns the log again and B is fenced.
      await a.claim('p', 'host-a@9');
      await a.commit('p', { state: { k: 5 } });
      await assert.rejects(b.commit('p', { state: { k: 6 } }));
      await assert.rejects(b.commit('p', { state: { k: 6 } }), writeError(JOURNAL_FENCED, /./));
    });

    it('refuses writes to a full stream with a JournalWriteError, stores nothing of them, and goes on once it has room', async (t) => {
      const journal = await openFresh({ maxBytes: 16 * 1024 });
      t.after(() => journal.close());
      const P = 'project:full';
      let failure: unknown = null;
      let accepted = 0;
      for (let i = 1; i <= 200 && failure === null; i++) {
        try {
          await journal.append(P, [newEvent(i)]);
          accepted = i;
        } catch (error) {
          failure = error;
        }
      }
      writeError('YOI_JOURNAL_WRITE', /journal write failed \(jetstream\): the journal stream is full.*nothing of this write was stored/)(failure);
      assert.ok(accepted > 0);
      const stats = journal.stats();
      assert.equal(stats.write_errors, 1);
      assert.match(stats.last_write_error ?? '', /full/);
      assert.deepEqual((await journal.unacked(P)).map((e) => e.seq), Array.from({ length: accepted }, (_, i) => i + 1));
      const { jsm } = await manager(t);
      const info = await jsm.streams.info(journal.stream);
      await jsm.streams.update(journal.stream, { ...info.config, max_bytes: 1024 * 1024 });
      assert.deepEqual((await journal.append(P, [newEvent(0)])).map((e) => e.seq), [accepted + 1]);
      assert.equal(journal.stats().last_write_error, null);
    });

    it('retries a snapshot that did not fit after a later write, and purges the log once it is written', async (t) => {
      const journal = await openFresh({ compactAfterMessages: 3, maxBytes: 36 * 1024 });
      t.after(() => journal.close());
      const P = 'project:snapshot';
      for (const n of [1, 2, 3]) await journal.commit(P, { state: { blob: String(n).repeat(10_000) } });
      // The third message made a snapshot due; it does not fit. An empty commit waits for it.
      await journal.commit(P, {});
      assert.deepEqual([journal.logStats().compactions, journal.logStats().compaction_failures], [0, 1]);
      await journal.append(P, [newEvent(1)]);
      await journal.commit(P, {});
      assert.deepEqual([journal.logStats().compactions, journal.logStats().compaction_failures], [0, 2], 'tried again after the next write');
      const { jsm } = await manager(t);
      const info = await jsm.streams.info(journal.stream);
      await jsm.streams.update(journal.stream, { ...info.config, max_bytes: 1024 * 1024 });
      await journal.commit(P, { state: { small: false } });
      await journal.commit(P, {});
      assert.deepEqual([journal.logStats().compactions, journal.logStats().compaction_failures], [1, 2]);
      assert.equal((await jsm.streams.info(journal.stream)).state.messages, 1, 'the snapshot alone is left');
      const again = await reopen(journal);
      t.after(() => again.close());
      assert.deepEqual(await again.state(P), { blob: '3'.repeat(10_000), small: false });
    });

    it('fails writes clearly when the stream was deleted or the server has no storage left, storing nothing', async (t) => {
      const journal = await openFresh();
      t.after(() => journal.close());
      await journal.append('p', [newEvent(1)]);
      const { jsm } = await manager(t);
      await jsm.streams.delete(journal.stream);
      await assert.rejects(journal.append('p', [newEvent(2)]), writeError('YOI_JOURNAL_WRITE', /no JetStream stream took the message.*nothing of this write was stored/));

      const small = await startNatsServer({ config: 'jetstream { max_file_store: 65536 }' });
      t.after(() => small.stop());
      const tiny = await openJetStreamJournal({ servers: small.url, prefix: 'tiny' });
      t.after(() => tiny.close());
      let failure: unknown = null;
      let accepted = 0;
      for (let i = 1; i <= 500 && failure === null; i++) {
        await tiny.append('p', [newEvent(i)]).then(() => (accepted = i), (error: unknown) => (failure = error));
      }
      writeError('YOI_JOURNAL_WRITE', /the NATS server has no JetStream storage left.*nothing of this write was stored/)(failure);
      assert.equal((await tiny.unacked('p')).length, accepted);
    });

    it('survives a crash of nats-server: a write it cannot confirm fails as unconfirmed, and after a restart everything acknowledged is there', async (t) => {
      const own = await startNatsServer();
      t.after(() => own.stop());
      const journal = await openJetStreamJournal({ servers: own.url, prefix: 'crash', writeTimeoutMs: 1500 });
      t.after(() => journal.close());
      const P = 'project:crash';
      await journal.append(P, [newEvent(1), newEvent(2)]);
      await journal.commit(P, { ack: [1], state: { k: 'v' } });
      await own.kill();
      await assert.rejects(journal.append(P, [newEvent(3)]), writeError(JOURNAL_UNCONFIRMED, /did not acknowledge the write within 1500 ms.*may have been stored/));
      assert.equal(journal.logStats().unconfirmed, 1);
      await own.restart();
      // The journal reconnects by itself; it reads the plugin's log again before writing to it.
      const [third] = await retryWhileUnconfirmed(() => journal.append(P, [newEvent(3)]));
      // The unconfirmed append may or may not have reached the server before it died (then it is
      // an accepted event too: at least once); either way no seq is reused and nothing acknowledged is lost.
      const unacked = await journal.unacked(P);
      assert.deepEqual(unacked.map((e) => e.seq), Array.from({ length: third!.seq - 1 }, (_, i) => i + 2));
      assert.ok(third!.seq === 3 || third!.seq === 4);
      assert.deepEqual(unacked.map((e) => (e.event.payload as { n: number }).n), third!.seq === 3 ? [2, 3] : [2, 3, 3]);
      assert.deepEqual(await journal.state(P), { k: 'v' });
      const again = await openJetStreamJournal({ servers: own.url, prefix: 'crash' });
      t.after(() => again.close());
      assert.deepEqual(await snapshot(again, P), await snapshot(journal, P));
    });

    it('fails to open with a clear error: no server (credentials redacted), no JetStream, an unsafe stream, a newer format', async (t) => {
      await assert.rejects(openJetStreamJournal({ servers: 'nats://user:hunter2@127.0.0.1:1', connectTimeoutMs: 2000 }), (error: unknown) => {
        writeError('YOI_JOURNAL_OPEN', /cannot open the JetStream journal at nats:\/\/\*\*\*@127\.0\.0\.1:1: the NATS server is not reachable/)(error);
        assert.doesNotMatch((error as Error).message, /hunter2/);
        return true;
      });
      const plain = await startNatsServer({ jetstream: false });
      t.after(() => plain.stop());
      await assert.rejects(openJetStreamJournal({ servers: plain.url, connectTimeoutMs: 2000 }), writeError('YOI_JOURNAL_OPEN', /JetStream is not enabled/));

      const { nc, jsm } = await manager(t);
      const unsafe: [Partial<StreamConfig>, RegExp][] = [
        [{ discard: 'old' as StreamConfig['discard'] }, /not safe for a journal: it discards old messages/],
        [{ max_age: 3600 * 1e9 }, /not safe for a journal: its messages expire/],
        [{ max_msgs: 1000 }, /not safe for a journal: it limits its message count/],
        [{ max_msgs_per_subject: 10 }, /not safe for a journal: it limits messages per subject/],
        [{ deny_purge: true }, /not safe for a journal: it denies purges/],
        [{ retention: 'interest' as StreamConfig['retention'] }, /not safe for a journal: its retention is interest/],
        [{ duplicate_window: 1e9 }, /deduplicates for less than writeTimeoutMs/],
      ];
      for (const [i, [setting, pattern]] of unsafe.entries()) {
        await jsm.streams.add({ name: `unsafe${i}_journal`, subjects: [`unsafe${i}.journal.>`], discard: 'new' as StreamConfig['discard'], ...setting });
        await assert.rejects(openJetStreamJournal({ servers: url(), prefix: `unsafe${i}` }), writeError('YOI_JOURNAL_OPEN', pattern));
      }
      // A log it cannot read whole is not used in part: a foreign message, a foreign subject.
      const js = jetstream(nc);
      for (const [prefix, subject, pattern] of [
        ['foreign1', 'foreign1.journal.cA', /could not be read.*is not a journal record/],
        ['foreign2', 'foreign2.journal.not.a.token', /could not be read.*not a plugin's journal subject/],
      ] as const) {
        const journal = await openJetStreamJournal({ servers: url(), prefix });
        await journal.append('p', [newEvent(1)]);
        await journal.close();
        await js.publish(subject, 'hello');
        await assert.rejects(openJetStreamJournal({ servers: url(), prefix }), writeError('YOI_JOURNAL_OPEN', pattern));
      }
      const kv = await new Kvm(nc).create('newer_journal_meta');
      await kv.put('journal', JSON.stringify({ format: 2 }));
      await assert.rejects(openJetStreamJournal({ servers: url(), prefix: 'newer' }), writeError('YOI_JOURNAL_OPEN', /journal format 2; this version reads format 1/));
      await assert.rejects(openJetStreamJournal({ servers: url(), prefix: 'bad.prefix' }), /prefix must be/);
    });

    it('without nats-server the tests fail in CI with how to install it, and skip with that reason elsewhere', async (t) => {
      const saved = { NATS_SERVER: process.env.NATS_SERVER, CI: process.env.CI };
      t.after(() => {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      });
      process.env.NATS_SERVER = '/nonexistent/nats-server';
      assert.equal(findNatsServer(), null);
      await assert.rejects(startNatsServer(), /need nats-server .*apt-get install -y nats-server/);
      delete process.env.CI;
      assert.match(String(natsSkipReason()), /not installed \(outside CI\): skipped; to run them, .*apt-get install -y nats-server/);
      process.env.CI = 'true';
      assert.equal(natsSkipReason(), false, 'never skipped in CI');
    });

    it(`refuses a server older than ${MIN_NATS_SERVER}, the oldest it supports`, async (t) => {
      // A loopback peer that speaks just the NATS handshake, announcing an old version.
      const old = createServer((socket) => {
        socket.write(`INFO {"server_id":"old","version":"2.8.4","proto":1,"headers":true,"max_payload":1048576}\r\n`);
        socket.on('data', (data) => {
          if (data.toString().includes('PING')) socket.write('PONG\r\n');
        });
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
      t.after(() => new Promise<void>((resolve) => old.close(() => resolve())));
      const port = (old.address() as AddressInfo).port;
      await assert.rejects(openJetStreamJournal({ servers: `nats://127.0.0.1:${port}`, connectTimeoutMs: 2000 }), writeError('YOI_JOURNAL_OPEN', new RegExp(`nats-server 2\\.8\\.4 is older than ${MIN_NATS_SERVER.replace(/\./g, '\\.')}`)));
    });
  });
}

/** Retries a write while the server is still coming back (bounded: 40 tries). */
async function retryWhileUnconfirmed<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt >= 40 || !(error instanceof JournalWriteError) || error.code !== JOURNAL_UNCONFIRMED) throw error;
    }
  }
}
