/**
 * HTTP/2 faults through the ConnectionPool (and an Agent) against the fault server in its own
 * process, over h2c (prior knowledge) and TLS (ALPN, `'auto'`): GOAWAY below streams in flight,
 * REFUSED_STREAM, stream limits that change mid-connection, resets, a silent session, sessions
 * that end without GOAWAY, and a seeded random mix. The server records every attempt's fate per
 * `x-request-id`, so "sent again once, never processed twice, never lost" is checked on the
 * server's side, not inferred from the client's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  AcquireTimeoutError,
  Agent,
  ConnectionPool,
  HeadersTimeoutError,
  type HttpResponse,
  isHttpoolError,
  type PoolOptions,
  RequestTimeoutError,
  SocketError,
  StreamResetError,
} from '../../src/index.js';
import { assertClean, settle } from '../helpers/h2-checks.js';
import { type H2FaultServer, startH2FaultServer } from '../helpers/h2-fault-server.js';
import { prng } from '../helpers/random.js';
import { eventually, sleep } from '../helpers/servers.js';

let server: H2FaultServer;

/** Errors nobody caught, anywhere in this process, while these tests ran. */
const uncaught: unknown[] = [];
const onUncaught = (error: unknown) => uncaught.push(error);

before(async () => {
  server = await startH2FaultServer();
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
after(async () => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  await server.close();
});

/** The two ways in: h2c with prior knowledge, and TLS with h2 chosen by ALPN. */
const transports = [
  {
    name: 'h2c',
    origin: (s: H2FaultServer) => s.h2cOrigin,
    options: (_s: H2FaultServer): PoolOptions => ({ http2: 'prior-knowledge' }),
  },
  {
    name: 'TLS',
    origin: (s: H2FaultServer) => s.tlsOrigin,
    options: (s: H2FaultServer): PoolOptions => ({ http2: 'auto', tls: { ca: s.ca } }),
  },
] as const;

let nextId = 0;
/** A request id no other test uses. */
const rid = (tag: string) => `${tag}-${++nextId}`;

/** Sends one request named `id`; resolves with the response's id header, session and body. */
async function call(
  pool: ConnectionPool,
  id: string,
  path: string,
  options: { method?: string; body?: string; headersTimeout?: number; timeout?: number } = {},
): Promise<{ id: string | null; session: number; stream: number; body: string }> {
  const res: HttpResponse = await pool.request({
    path,
    method: options.method ?? 'GET',
    body: options.body ?? null,
    headers: { 'x-request-id': id },
    ...(options.headersTimeout === undefined ? {} : { headersTimeout: options.headersTimeout }),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
  });
  assert.equal(res.httpVersion, '2.0');
  const body = await res.text();
  return {
    id: res.headers.get('x-request-id'),
    session: Number(res.headers.get('x-session')),
    stream: Number(res.headers.get('x-stream-id')),
    body,
  };
}

/** The attempts the server recorded for `id`, in arrival order. */
async function attemptsOf(s: H2FaultServer, id: string) {
  return (await s.attempts()).filter((a) => a.requestId === id);
}

for (const transport of transports) {
  describe(`HTTP/2 faults over ${transport.name}`, () => {
    const open = (s: H2FaultServer, extra: PoolOptions = {}) =>
      new ConnectionPool(transport.origin(s), { ...transport.options(s), ...extra });

    test('GOAWAY below streams in flight: those at or below finish, those above (a POST too) go again once elsewhere', async () => {
      const pool = open(server, { maxSize: 4 });
      await call(pool, rid('warm'), '/');
      const below = rid('below');
      const trigger = rid('trigger');
      const above = [rid('above'), rid('above'), rid('above-post'), rid('above')];
      // In stream order: one slow stream below the GOAWAY's last id, the stream that sends it
      // (last id = its own), and four above it, sent while the session is still open.
      const pending = [
        call(pool, below, '/?delay=400'),
        call(pool, trigger, '/goaway?streams=6'),
        // Slow enough to be open when the GOAWAY goes (once all six are).
        ...above.map((id) =>
          id.startsWith('above-post')
            ? call(pool, id, '/?delay=300', { method: 'POST', body: `body of ${id}` })
            : call(pool, id, '/?delay=300'),
        ),
      ];
      const results = await Promise.all(pending);
      const ids = [below, trigger, ...above];
      for (const [i, result] of results.entries()) {
        assert.equal(result.id, ids[i], 'a response to another request');
        assert.equal(result.body, `ok ${ids[i]}`);
      }
      // At or below the last id: on the first session, once.
      assert.equal(results[0]!.session, results[1]!.session);
      const counts = await server.counts();
      for (const id of [below, trigger])
        assert.deepEqual(counts[id], { received: 1, processed: 1 }, id);
      for (const [i, id] of above.entries()) {
        // Received twice (refused by the GOAWAY, then answered), processed once, on another session.
        assert.deepEqual(counts[id], { received: 2, processed: 1 }, id);
        const attempts = await attemptsOf(server, id);
        assert.deepEqual(
          attempts.map((a) => a.fate),
          ['goaway', 'ok'],
          id,
        );
        assert.notEqual(results[i + 2]!.session, results[1]!.session);
      }
      assert.equal(pool.stats().replayed, 4);
      await assertClean(pool);
      await pool.close();
    });

    test('REFUSED_STREAM on a reused connection: a POST goes again once; refused every time, exactly one replay', async () => {
      const pool = open(server);
      await call(pool, rid('warm'), '/');
      const once = rid('refuse-once');
      const result = await call(pool, once, '/refuse?times=1', { method: 'POST', body: 'x' });
      assert.equal(result.id, once);
      assert.deepEqual((await server.counts())[once], { received: 2, processed: 1 });

      const always = rid('refuse-always');
      await assert.rejects(
        call(pool, always, '/refuse', { method: 'POST', body: 'x' }),
        (error) => {
          assert.ok(error instanceof SocketError, String(error));
          assert.equal(error.unprocessed, true);
          return true;
        },
      );
      // One replay and no more, whichever connection it went to.
      assert.deepEqual((await server.counts())[always], { received: 2, processed: 0 });
      assert.equal(pool.stats().replayed, 2);
      await assertClean(pool);
      await pool.close();
    });

    test('REFUSED_STREAM on a brand-new connection is not sent again: no connect-and-refuse loop', async () => {
      const pool = open(server);
      const id = rid('refuse-new');
      const sessionsBefore = (await server.stats()).sessions;
      await assert.rejects(call(pool, id, '/refuse'), (error) => {
        assert.ok(error instanceof SocketError, String(error));
        assert.equal(error.unprocessed, true);
        return true;
      });
      assert.deepEqual((await server.counts())[id], { received: 1, processed: 0 });
      assert.equal((await server.stats()).sessions - sessionsBefore, 1);
      assert.equal(pool.stats().replayed, 0);
      await assertClean(pool);
      await pool.close();
    });

    test('SETTINGS_MAX_CONCURRENT_STREAMS 1, then raised mid-connection: followed both ways', async () => {
      // Its own server: the peak it records is over its whole life.
      const narrow = await startH2FaultServer({ settings: { maxConcurrentStreams: 1 } });
      after(() => narrow.close());
      const pool = open(narrow, { maxSize: 1 });
      await call(pool, rid('warm'), '/');
      const first = await Promise.all(
        Array.from({ length: 4 }, () => call(pool, rid('mcs1'), '/?delay=20')),
      );
      assert.equal(new Set(first.map((r) => r.session)).size, 1);
      assert.equal((await narrow.stats()).maxStreamsPerSession, 1);
      await narrow.settings({ maxConcurrentStreams: 4 });
      const raised = await Promise.all(
        Array.from({ length: 8 }, () => call(pool, rid('mcs4'), '/?delay=50')),
      );
      assert.equal(new Set(raised.map((r) => r.session)).size, 1);
      assert.equal((await narrow.stats()).maxStreamsPerSession, 4);
      await assertClean(pool);
      await pool.close();
    });

    test('SETTINGS_MAX_CONCURRENT_STREAMS dropped to 0 mid-connection: streams in flight finish, new ones go to another connection', async () => {
      const pool = open(server, { maxSize: 2 });
      const warm = await call(pool, rid('warm'), '/');
      const inFlight = [rid('inflight'), rid('inflight')];
      const pending = inFlight.map((id) => call(pool, id, '/?delay=300'));
      await server.waitForStreams(2);
      await server.settings({ maxConcurrentStreams: 0 }, warm.session);
      const next = await call(pool, rid('after-zero'), '/', { timeout: 3000 });
      assert.notEqual(next.session, warm.session);
      const done = await Promise.all(pending);
      done.forEach((r, i) => {
        assert.equal(r.id, inFlight[i]);
        assert.equal(r.session, warm.session);
      });
      await assertClean(pool);
      await pool.close();
    });

    test('SETTINGS_MAX_CONCURRENT_STREAMS 0 with no room for another connection: the waiter fails with AcquireTimeoutError, bounded', async () => {
      const pool = open(server, { maxSize: 1 });
      const warm = await call(pool, rid('warm'), '/');
      await server.settings({ maxConcurrentStreams: 0 }, warm.session);
      const started = performance.now();
      await assert.rejects(pool.request({ path: '/', acquireTimeout: 200 }), AcquireTimeoutError);
      // Only a hang is caught: the bound is generous.
      assert.ok(performance.now() - started < 5000);
      // The request timeout bounds it as well.
      await assert.rejects(
        pool.request({ path: '/', timeout: 200, acquireTimeout: 60_000 }),
        RequestTimeoutError,
      );
      await assertClean(pool);
      await pool.destroy();
    });

    test('RST_STREAM mid-body: StreamResetError on that body; another stream on the connection is unaffected', async () => {
      const pool = open(server);
      await call(pool, rid('warm'), '/');
      const other = call(pool, rid('neighbour'), '/?delay=150');
      const id = rid('rst');
      const res = await pool.request({ path: '/rst?bytes=1000', headers: { 'x-request-id': id } });
      assert.equal(res.status, 200);
      await assert.rejects(res.text(), (error) => {
        assert.ok(error instanceof StreamResetError, String(error));
        assert.equal(error.http2Code, 2);
        assert.match(error.message, /INTERNAL_ERROR/);
        return true;
      });
      const neighbour = await other;
      assert.equal(neighbour.session, Number(res.headers.get('x-session')));
      assert.deepEqual((await server.counts())[id], { received: 1, processed: 1 });
      await assertClean(pool);
      await pool.close();
    });

    test('RST_STREAM before the headers: StreamResetError, not sent again', async () => {
      const pool = open(server);
      await call(pool, rid('warm'), '/');
      const id = rid('rst-head');
      await assert.rejects(call(pool, id, '/rst?headers=0&code=8'), (error) => {
        assert.ok(error instanceof StreamResetError, String(error));
        assert.equal(error.http2Code, 8);
        assert.match(error.message, /CANCEL/);
        return true;
      });
      assert.deepEqual((await server.counts())[id], { received: 1, processed: 1 });
      const next = await call(pool, rid('after-rst'), '/');
      assert.ok(next.body.startsWith('ok '));
      await assertClean(pool);
      await pool.close();
    });

    test('a silent session: HeadersTimeoutError, then the unanswered PING closes the connection and fails its other stream', async () => {
      const pool = open(server, { headersTimeout: 200, pingTimeout: 200 });
      await call(pool, rid('warm'), '/');
      const started = performance.now();
      // A second stream on the same session with its own, longer head timeout: only the
      // connection's death can end it early.
      const patient = settle(
        call(pool, rid('patient'), '/stall-headers', { headersTimeout: 20_000 }),
      );
      await server.waitForStreams(1);
      await assert.rejects(call(pool, rid('silent'), '/silent'), HeadersTimeoutError);
      const { error } = await patient;
      assert.ok(error instanceof SocketError, String(error));
      assert.match(error.message, /PING/);
      await eventually(() => pool.stats().open === 0, 3000, 'the silent connection to close');
      assert.ok(performance.now() - started < 10_000);
      await assertClean(pool);
      await pool.close();
    });

    test("a silent session: a request's own timeout, too, sends the PING that closes the connection", async () => {
      const pool = open(server, { pingTimeout: 200 });
      await call(pool, rid('warm'), '/');
      const patient = settle(
        call(pool, rid('patient-timeout'), '/stall-headers', { headersTimeout: 20_000 }),
      );
      await server.waitForStreams(1);
      await assert.rejects(
        call(pool, rid('silent-timeout'), '/silent', { timeout: 200 }),
        RequestTimeoutError,
      );
      const { error } = await patient;
      assert.ok(error instanceof SocketError, String(error));
      assert.match(error.message, /PING/);
      await eventually(() => pool.stats().open === 0, 3000, 'the silent connection to close');
      await assertClean(pool);
      await pool.close();
    });

    for (const mode of ['close', 'reset', 'goaway'] as const) {
      test(`the session ends (${mode}) with streams in flight: GETs go again, a POST fails typed, nothing uncaught`, async () => {
        const pool = open(server, { maxSize: 2 });
        const warm = await call(pool, rid('warm'), '/');
        const gets = [rid(`${mode}-get`), rid(`${mode}-get`)];
        const post = rid(`${mode}-post`);
        const pending = [
          ...gets.map((id) => settle(call(pool, id, '/?delay=300'))),
          settle(call(pool, post, '/echo?delay=300', { method: 'POST', body: 'once' })),
        ];
        await server.waitForStreams(3);
        await sleep(20);
        await server.destroySessions(mode, warm.session);
        const outcomes = await Promise.all(pending);
        const counts = await server.counts();
        for (const [i, id] of gets.entries()) {
          const { value, error } = outcomes[i]!;
          if (mode !== 'goaway' || error === undefined) {
            // Without a GOAWAY the connection just died before an answer: a GET goes again.
            assert.equal(error, undefined, `${id}: ${String(error)}`);
            assert.equal(value!.id, id);
            assert.notEqual(value!.session, warm.session);
            assert.equal(counts[id]!.received, 2, id);
          } else {
            // node:http2's session.destroy() resets each stream (RST_STREAM NO_ERROR) before
            // its GOAWAY, which names them all as maybe processed: a typed error, not a replay.
            assert.ok(isHttpoolError(error), String(error));
            assert.equal(counts[id]!.received, 1, id);
          }
        }
        const postOutcome = outcomes[2]!;
        // The POST was handed to a session the server may have read it on: never sent twice.
        // The echo answers once the body ended, so it may have arrived before the end.
        if (postOutcome.error !== undefined) {
          assert.ok(postOutcome.error instanceof SocketError, String(postOutcome.error));
          assert.notEqual(postOutcome.error.unprocessed, true);
        } else assert.equal(postOutcome.value!.id, post);
        assert.equal(counts[post]!.received, 1);
        await assertClean(pool);
        await pool.close();
        assert.deepEqual(uncaught, []);
      });
    }
  });
}

describe('HTTP/2 faults through an Agent', () => {
  test("an Agent with http2: 'auto' replays streams above a GOAWAY's last id once", async () => {
    const agent = new Agent({ http2: 'auto', tls: { ca: server.ca }, maxSize: 4 });
    const url = (path: string) => `${server.tlsOrigin}${path}`;
    await (
      await agent.request(url('/'), { headers: { 'x-request-id': rid('agent-warm') } })
    ).text();
    const trigger = rid('agent-trigger');
    const above = [rid('agent-above'), rid('agent-above')];
    const responses = await Promise.all([
      agent.request(url('/goaway?streams=3'), { headers: { 'x-request-id': trigger } }),
      ...above.map((id) =>
        agent.request(url('/?delay=300'), {
          method: 'PUT',
          body: id,
          headers: { 'x-request-id': id },
        }),
      ),
    ]);
    assert.equal(await responses[0]!.text(), `ok ${trigger}`);
    for (const [i, id] of above.entries()) {
      assert.equal(await responses[i + 1]!.text(), `ok ${id}`);
    }
    const counts = await server.counts();
    for (const id of above) assert.deepEqual(counts[id], { received: 2, processed: 1 });
    await agent.close();
  });
});

describe('HTTP/2 faults at random', () => {
  /** One request of a round: what it asked for, and what became of it. */
  interface Planned {
    id: string;
    method: 'GET' | 'PUT' | 'POST';
    path: string;
    /** A path that answers `ok <id>` unless something else on the connection fails it. */
    benign: boolean;
    outcome?: { value?: string; error?: unknown; headerId?: string | null };
  }

  test('a seeded mix of paths, faults and methods: no answer to the wrong request, no GET lost, no POST twice, nothing leased', async () => {
    const seed = Number(process.env['HTTPOOL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`h2 fault mix: seed ${seed} (HTTPOOL_SEED=${seed} repeats this run)`);
    const random = prng(seed);
    const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const runUntil = performance.now() + 12_000;
    let rounds = 0;
    const tally = { requests: 0, failed: 0, replayed: 0 };
    for (; rounds < 16 && performance.now() < runUntil; rounds++) {
      const transport = pick(transports);
      const pool = new ConnectionPool(transport.origin(server), {
        ...transport.options(server),
        maxSize: 3,
        headersTimeout: 600,
        pingTimeout: 500,
      });
      const context = `seed ${seed}, round ${rounds} (${transport.name})`;
      if (random() < 0.5) await call(pool, rid('fuzz-warm'), '/');
      const planned: Planned[] = [];
      const n = int(4, 12);
      // At most one GOAWAY a round, sent as soon as its stream arrives. The fault server names
      // its own stream as the last, even below streams it has begun to answer (a real server
      // would not): so in such a round the benign requests are slow enough to be unanswered
      // when it goes, and one above it goes again once, to a session without a GOAWAY.
      const goawayAt = random() < 0.4 ? int(0, n - 1) : -1;
      for (let i = 0; i < n; i++) {
        const method = pick(['GET', 'GET', 'PUT', 'POST'] as const);
        const faults = [
          '/refuse?times=1',
          `/rst?bytes=${int(0, 3000)}`,
          '/rst?headers=0',
          '/stall-headers',
          `/drip?chunks=${int(1, 4)}&every=5`,
        ];
        const benign = i !== goawayAt && random() < 0.55;
        let path: string;
        if (i === goawayAt) path = '/goaway?streams=1';
        else if (!benign) path = pick(faults);
        else if (goawayAt >= 0) path = `/?delay=${int(250, 350)}`;
        else path = pick(['/', `/?delay=${int(1, 150)}`, '/echo', `/?size=${int(0, 20_000)}`]);
        planned.push({ id: rid('fuzz'), method, path, benign });
      }
      const kill = random() < 0.3 ? pick(['close', 'reset', 'goaway'] as const) : undefined;
      const running = planned.map(async (p) => {
        const result = await settle(
          (async () => {
            const res = await pool.request({
              method: p.method,
              path: p.path,
              body: p.method === 'GET' ? null : `body of ${p.id}`,
              headers: { 'x-request-id': p.id },
              timeout: 5000,
            });
            p.outcome = { headerId: res.headers.get('x-request-id') };
            return res.text();
          })(),
        );
        p.outcome = { ...p.outcome, ...result };
      });
      if (kill !== undefined) {
        await sleep(int(0, 60));
        await server.destroySessions(kill);
      }
      await Promise.all(running);
      const counts = await server.counts();
      for (const p of planned) {
        const where = `${context}: ${p.method} ${p.path} ${p.id}`;
        const { value, error, headerId } = p.outcome!;
        const count = counts[p.id] ?? { received: 0, processed: 0 };
        if (headerId !== undefined) assert.equal(headerId, p.id, `${where}: another's response`);
        if (error !== undefined) {
          assert.ok(isHttpoolError(error), `${where}: untyped ${String(error)}`);
          // "Not processed" must be the server's truth.
          if (error instanceof SocketError && error.unprocessed === true) {
            assert.equal(count.processed, 0, `${where}: said unprocessed, but processed`);
          }
        } else if (p.path.startsWith('/echo')) {
          assert.equal(JSON.parse(value!).headers['x-request-id'], p.id, where);
        } else if (p.path === '/' || p.path.startsWith('/?delay') || p.path.startsWith('/refuse')) {
          assert.equal(value, `ok ${p.id}`, where);
        } else if (p.path.startsWith('/?size=')) {
          // Never a short success.
          assert.equal(value!.length, Number(p.path.slice('/?size='.length)), where);
        }
        if (p.method === 'POST') assert.ok(count.processed <= 1, `${where}: processed twice`);
        // Without a session killed under them, nothing takes an answer from a benign request:
        // a GOAWAY or a refusal costs it one replay at most.
        if (kill === undefined && p.benign) {
          assert.equal(error, undefined, `${where}: lost (${String(error)})`);
        }
      }
      await assertClean(pool);
      tally.requests += planned.length;
      tally.failed += planned.filter((p) => p.outcome!.error !== undefined).length;
      tally.replayed += pool.stats().replayed;
      await pool.close();
    }
    console.log(`h2 fault mix: ${rounds} rounds, ${JSON.stringify(tally)}`);
    assert.ok(rounds >= 3, `only ${rounds} rounds ran`);
    assert.deepEqual(uncaught, []);
  });
});

describe('HTTP/2: a waiter on a connection with no streams to give', () => {
  // In a process of its own, so that an event loop that runs dry ends that process only.
  test('holds the event loop until its acquireTimeout fires', () => {
    const entry = new URL('../../src/index.js', import.meta.url).href;
    const script = `
        import { createServer } from 'node:http2';
        import { ConnectionPool } from ${JSON.stringify(entry)};
        const server = createServer();
        server.on('session', (session) => session.unref());
        server.on('stream', (stream) => {
          // Answered, then no more streams on this session.
          stream.session.settings({ maxConcurrentStreams: 0 });
          stream.respond({ ':status': 200 });
          stream.end('ok');
        });
        await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
        server.unref();
        const pool = new ConnectionPool('http://127.0.0.1:' + server.address().port, {
          http2: 'prior-knowledge',
          maxSize: 1,
        });
        await (await pool.request({})).text();
        const hold = setTimeout(() => {}, 200);
        await new Promise((resolve) => setTimeout(resolve, 100));
        clearTimeout(hold);
        // Only the waiter is left: its timer and the idle connection are both unref'd.
        const outcome = await pool.request({ acquireTimeout: 300 }).then(
          () => 'answered',
          (error) => error.code,
        );
        console.log('settled ' + outcome);
        await pool.destroy();
      `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    // Exit code 13 is Node's "unsettled top-level await": the loop ran dry under the waiter.
    assert.equal(child.status, 0, `exit ${child.status}: ${child.stderr}`);
    assert.match(child.stdout, /settled ERR_ACQUIRE_TIMEOUT/);
  });
});
