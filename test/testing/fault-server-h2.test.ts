/**
 * FaultServer over HTTP/2 (TLS with ALPN h2, and h2c): each fault reaches httpool's pool and
 * Agent as the README promises (unprocessed streams sent again, and processed once; resets
 * typed), the record says what the server saw and did, and a seed replays a random run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Agent,
  BodyTimeoutError,
  ConnectionPool,
  HeadersTimeoutError,
  InvalidArgumentError,
  isHttpoolError,
  SocketError,
  StreamResetError,
} from '../../src/index.js';
import { FaultServer, type FaultServerOptions, type ServerFault } from '../../src/testing/index.js';
import { eventually } from '../helpers/servers.js';

type H2Options = FaultServerOptions & { protocol: 'h2' | 'h2c' };

/** A pool that speaks HTTP/2 to `server`, whichever way it listens. */
function h2Pool(
  server: FaultServer,
  options: ConstructorParameters<typeof ConnectionPool>[1] = {},
) {
  return new ConnectionPool(server.origin, {
    http2: 'prior-knowledge',
    ...(server.tls === undefined ? {} : { tls: { ca: server.tls.ca } }),
    ...options,
  });
}

const get = async (pool: ConnectionPool, id: string) => {
  const res = await pool.request({ path: `/${id}`, headers: { 'x-id': id } });
  return { version: res.httpVersion, text: await res.text() };
};

const fates = (server: FaultServer) =>
  server.requests.map((r) => [r.id, r.connection, r.fate] as const);

describe('FaultServer over HTTP/2', () => {
  for (const protocol of ['h2', 'h2c'] as const) {
    test(`${protocol}: the default answer names its request; the record has what was sent`, async () => {
      await using server = await FaultServer.start({ protocol });
      assert.equal(server.protocol, protocol);
      assert.equal(server.origin.startsWith(protocol === 'h2' ? 'https://' : 'http://'), true);
      assert.equal(server.tls === undefined, protocol === 'h2c');
      const pool = h2Pool(server);
      const res = await pool.request({
        method: 'POST',
        path: '/up?x=1',
        headers: { 'x-id': 'up-1', 'content-type': 'text/plain' },
        body: 'hello',
      });
      assert.equal(res.httpVersion, '2.0');
      assert.equal(res.headers.get('x-id'), 'up-1');
      assert.match(await res.text(), /^id:up-1:x*$/);
      const second = await get(pool, 'b');
      assert.match(second.text, /^id:b:x*$/);
      await pool.close();
      const [first, next] = server.requests;
      assert.equal(first?.method, 'POST');
      assert.equal(first?.path, '/up?x=1');
      assert.equal(first?.headers['content-type'], 'text/plain');
      assert.equal(first?.headers[':method'], undefined, 'pseudo-headers are not fields');
      assert.equal(Buffer.from(first?.body ?? []).toString(), 'hello');
      assert.deepEqual(
        [first?.streamId, next?.streamId, first?.connection, next?.connection],
        [1, 3, 1, 1],
      );
      assert.equal(server.connections, 1);
      assert.deepEqual(
        server.attempts('b').map((r) => r.fate),
        ['ok'],
      );
    });
  }

  test('h2: an Agent with http2 auto picks h2 by ALPN, trusting the server certificate', async () => {
    await using server = await FaultServer.start({ protocol: 'h2' });
    const agent = new Agent({ http2: 'auto', tls: { ca: server.tls?.ca } });
    const res = await agent.request(`${server.origin}/a`, { headers: { 'x-id': 'a' } });
    assert.equal(res.httpVersion, '2.0');
    assert.match(await res.text(), /^id:a:/);
    await agent.close();
    const other = new Agent({ http2: 'auto' });
    await assert.rejects(other.request(`${server.origin}/b`), (e: unknown) => isHttpoolError(e));
    await other.close();
  });

  test('REFUSED_STREAM on a reused session is sent again, once; on a new one it fails unprocessed', async () => {
    await using server = await FaultServer.start({
      protocol: 'h2c',
      schedule: (r) => (r.id === 'b' && server.attempts('b').length === 0 ? 'refuse' : undefined),
    });
    const pool = h2Pool(server);
    await get(pool, 'a');
    assert.match((await get(pool, 'b')).text, /^id:b:/);
    assert.equal(pool.stats().replayed, 1);
    assert.deepEqual(
      server.attempts('b').map((r) => r.fate),
      ['refuse', 'ok'],
    );
    await pool.close();

    await using fresh = await FaultServer.start({ protocol: 'h2c', schedule: ['refuse'] });
    const pool2 = h2Pool(fresh);
    const error = await get(pool2, 'c').catch((e: unknown) => e);
    assert.ok(error instanceof SocketError && error.unprocessed === true, String(error));
    assert.deepEqual(fates(fresh), [['c', 1, 'refuse']]);
    await pool2.close();
  });

  test('GOAWAY below streams in flight: those above are sent again on a new session, each processed once', async () => {
    await using server = await FaultServer.start({
      protocol: 'h2',
      // The first attempt of `b` meets the GOAWAY; the others answer after a moment, so
      // they are in flight when it goes out.
      schedule: (r) => (r.id === 'b' && server.attempts('b').length === 0 ? 'goaway' : undefined),
      handler: (r) => ({ delay: 20, headers: { 'x-id': r.id }, body: `id:${r.id}:` }),
    });
    const pool = h2Pool(server);
    await get(pool, 'a');
    const ids = ['b', 'c', 'd', 'e'];
    const answers = await Promise.all(ids.map((id) => get(pool, id)));
    assert.deepEqual(
      answers.map((a) => a.text),
      ids.map((id) => `id:${id}:`),
    );
    const goaway = server.attempts('b')[0];
    assert.equal(goaway?.fate, 'goaway');
    for (const record of server.requests) {
      if (record.connection !== 1 || record.id === 'b') continue;
      // Above the GOAWAY's last id (b's id - 2): not processed; below: answered.
      const above: boolean = (record.streamId ?? 0) > (goaway?.streamId ?? 0);
      assert.equal(record.fate, above ? 'dropped' : 'ok', `${record.id} ${record.streamId}`);
    }
    for (const id of ['a', ...ids]) {
      const processed = server.attempts(id).filter((r) => r.fate === 'ok');
      assert.equal(processed.length, 1, `${id} processed once`);
    }
    assert.ok(pool.stats().replayed >= 1);
    assert.equal(server.attempts('b')[1]?.connection, 2);
    await pool.close();
  });

  test('GOAWAY on the first stream of a session: refused, unprocessed, the session drains', async () => {
    await using server = await FaultServer.start({ protocol: 'h2c', schedule: ['goaway'] });
    const pool = h2Pool(server);
    const error = await get(pool, 'a').catch((e: unknown) => e);
    assert.ok(error instanceof SocketError && error.unprocessed === true, String(error));
    assert.match((await get(pool, 'b')).text, /^id:b:/);
    assert.deepEqual(fates(server), [
      ['a', 1, 'goaway'],
      ['b', 2, 'ok'],
    ]);
    await pool.close();
  });

  test('RST_STREAM before the head and mid-body fail that stream with StreamResetError; the session carries on', async () => {
    for (const fault of ['reset-stream', 'reset-body'] as const) {
      await using server = await FaultServer.start({
        protocol: 'h2c',
        schedule: [undefined, fault],
        handler: (r) => ({ body: `id:${r.id}:${'y'.repeat(4000)}` }),
      });
      const pool = h2Pool(server);
      await get(pool, 'a');
      const answer = pool.request({ path: '/b', headers: { 'x-id': 'b' } });
      // Mid-body, the head has come and the body fails; before it, the request fails.
      const error = await (fault === 'reset-body'
        ? answer.then((res) => res.text())
        : answer
      ).catch((e: unknown) => e);
      assert.ok(error instanceof StreamResetError, `${fault}: ${String(error)}`);
      assert.equal(error.http2Code, 2);
      assert.match((await get(pool, 'c')).text, /^id:c:/);
      assert.deepEqual(fates(server), [
        ['a', 1, 'ok'],
        ['b', 1, fault],
        ['c', 1, 'ok'],
      ]);
      assert.equal(pool.stats().leased, 0);
      await pool.close();
    }
  });

  test('stalls end on the client timeouts; a cut body and a lost connection are typed errors', async () => {
    const cases: Array<{ fault: ServerFault; check: (pool: ConnectionPool) => Promise<void> }> = [
      {
        fault: 'stall',
        check: (pool) => assert.rejects(get(pool, 'x'), HeadersTimeoutError),
      },
      {
        fault: 'stall-body',
        check: async (pool) => {
          const res = await pool.request({ path: '/x' });
          await assert.rejects(res.text(), BodyTimeoutError);
        },
      },
      {
        fault: 'cut-body',
        check: async (pool) => {
          const res = await pool.request({ path: '/x' });
          const error = await res.text().catch((e: unknown) => e);
          assert.ok(isHttpoolError(error), String(error));
        },
      },
      {
        fault: 'close',
        check: async (pool) => {
          const error = await get(pool, 'x').catch((e: unknown) => e);
          assert.ok(error instanceof SocketError, String(error));
          assert.notEqual(error.unprocessed, true, 'the stream reached the server');
        },
      },
      {
        fault: 'reset',
        check: async (pool) => {
          const error = await get(pool, 'x').catch((e: unknown) => e);
          assert.ok(error instanceof SocketError, String(error));
        },
      },
    ];
    for (const { fault, check } of cases) {
      await using server = await FaultServer.start({ protocol: 'h2c', schedule: [fault] });
      // Real timers, short bounds only where a stall must end: no timing is asserted.
      const bound = fault.startsWith('stall') ? 150 : 30_000;
      const pool = h2Pool(server, { headersTimeout: bound, bodyTimeout: bound });
      await check(pool);
      assert.deepEqual(
        server.requests.map((r) => r.fate),
        [fault],
      );
      await eventually(() => pool.stats().leased === 0, 5000, `${fault}: the lease to end`);
      await pool.destroy();
    }
  });

  test('a GET whose reused session is lost without GOAWAY is sent again on a new one', async () => {
    for (const fault of ['close', 'reset'] as const) {
      await using server = await FaultServer.start({
        protocol: 'h2c',
        schedule: [undefined, fault],
      });
      const pool = h2Pool(server);
      await get(pool, 'a');
      assert.match((await get(pool, 'b')).text, /^id:b:/);
      assert.deepEqual(fates(server), [
        ['a', 1, 'ok'],
        ['b', 1, fault],
        ['b', 2, 'ok'],
      ]);
      assert.equal(pool.stats().replayed, 1);
      await pool.close();
    }
  });

  test('drip and delay answer in full; a closing session sends the next request on a new one', async () => {
    for (const fault of [
      'drip',
      'delay',
      'connection-close',
      'idle-close',
      'idle-reset',
    ] as const) {
      await using server = await FaultServer.start({
        protocol: 'h2',
        schedule: [fault],
        maxFaultDelay: 2,
        handler: (r) => ({ body: `id:${r.id}:abc`, dripBytes: 2 }),
      });
      const pool = h2Pool(server);
      assert.equal((await get(pool, 'a')).text, 'id:a:abc', fault);
      const closes = fault !== 'drip' && fault !== 'delay';
      if (closes) await eventually(() => server.open === 0, 5000, `${fault} to close`);
      assert.equal((await get(pool, 'b')).text, 'id:b:abc');
      assert.equal(server.connections, closes ? 2 : 1, fault);
      assert.deepEqual(
        server.requests.map((r) => r.fate),
        [fault, 'ok'],
      );
      await pool.close();
    }
  });

  test('SETTINGS_MAX_CONCURRENT_STREAMS: at start, and lowered by the max-streams fault', async () => {
    /** Three requests at once on one connection; the most the handler saw at a time. */
    const burst = async (options: H2Options, warm: boolean) => {
      let running = 0;
      let most = 0;
      await using server = await FaultServer.start({
        ...options,
        handler: async (r) => {
          running++;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, 30));
          running--;
          return { body: `id:${r.id}:` };
        },
      });
      const pool = h2Pool(server, { maxSize: 1 });
      if (warm) await get(pool, 'warm');
      most = 0;
      const texts = await Promise.all(
        ['x', 'y', 'z'].map(async (id) => (await get(pool, id)).text),
      );
      assert.deepEqual(texts, ['id:x:', 'id:y:', 'id:z:']);
      assert.equal(server.connections, 1);
      await pool.close();
      return most;
    };
    assert.equal(await burst({ protocol: 'h2c' }, true), 3, 'unlimited, they run at once');
    assert.equal(await burst({ protocol: 'h2c', maxConcurrentStreams: 1 }, false), 1);
    assert.equal(await burst({ protocol: 'h2c', schedule: ['max-streams'] }, true), 1);
    assert.equal(
      await burst({ protocol: 'h2', schedule: ['max-streams'], maxStreamsFault: 2 }, true),
      2,
    );
  });

  test('idleTimeout closes idle sessions; the pool opens another', async () => {
    await using server = await FaultServer.start({ protocol: 'h2c', idleTimeout: 20 });
    const pool = h2Pool(server);
    await get(pool, 'a');
    await eventually(() => server.open === 0, 5000, 'the idle session to close');
    await get(pool, 'b');
    assert.equal(server.connections, 2);
    await pool.close();
  });

  test('random faults print their seed, and the same seed replays the same faults and outcomes', async () => {
    const rates = { refuse: 0.15, 'reset-stream': 0.1, 'reset-body': 0.1, delay: 0.2, drip: 0.1 };
    const runs: string[][] = [];
    const printed: string[] = [];
    for (let run = 0; run < 2; run++) {
      await using server = await FaultServer.start({
        protocol: 'h2c',
        rates,
        seed: 4321,
        maxFaultDelay: 3,
        log: (line) => printed.push(line),
      });
      const pool = h2Pool(server);
      const outcomes: string[] = [];
      for (let i = 0; i < 30; i++) {
        const outcome = await get(pool, `r${i}`).then(
          (a) => (a.text.startsWith(`id:r${i}:`) ? 'ok' : 'wrong'),
          (e: unknown) => (isHttpoolError(e) ? e.code : String(e)),
        );
        outcomes.push(outcome);
      }
      await pool.close();
      assert.equal(server.seed, 4321);
      runs.push([...outcomes, ...server.requests.map((r) => `${r.id}:${r.fate}:${r.connection}`)]);
    }
    assert.deepEqual(runs[1], runs[0]);
    const drawn = new Set(runs[0]?.filter((r) => r.includes(':')).map((r) => r.split(':')[1]));
    assert.ok(drawn.size >= 4, `faults were drawn: ${[...drawn].join(', ')}`);
    assert.ok(runs[0]?.includes('ERR_STREAM_RESET'), 'a reset failed its request');
    assert.equal(printed.length, 2);
    assert.match(printed[0] ?? '', /seed 4321/);
  });

  test('faults and options a protocol has no form of are refused, typed', async () => {
    await assert.rejects(
      FaultServer.start({ protocol: 'h2c', schedule: ['stray-bytes'] }),
      (e: unknown) => e instanceof InvalidArgumentError && /no HTTP\/2 form/.test(e.message),
    );
    await assert.rejects(
      FaultServer.start({ protocol: 'h2', rates: { 'stray-bytes': 0.1 } }),
      InvalidArgumentError,
    );
    await assert.rejects(
      FaultServer.start({ schedule: ['goaway'] }),
      (e: unknown) => e instanceof InvalidArgumentError && /HTTP\/2's own/.test(e.message),
    );
    await assert.rejects(FaultServer.start({ rates: { refuse: 0.5 } }), InvalidArgumentError);
    await assert.rejects(
      FaultServer.start({ protocol: 'h2c', tls: { key: 'k', cert: 'c' } }),
      InvalidArgumentError,
    );
    await assert.rejects(FaultServer.start({ maxConcurrentStreams: 1 }), InvalidArgumentError);
    await assert.rejects(
      FaultServer.start({ protocol: 'h2c', maxConcurrentStreams: -1 }),
      InvalidArgumentError,
    );
    await assert.rejects(FaultServer.start({ protocol: 'h3' as never }), InvalidArgumentError);
    await assert.rejects(
      FaultServer.start({ protocol: 'h2c', handler: { raw: ['HTTP/1.1 200 OK\r\n\r\n'] } }),
      InvalidArgumentError,
    );
    await assert.rejects(
      FaultServer.start({ protocol: 'h2c', handler: { status: 101 } }),
      InvalidArgumentError,
    );
  });

  test('a handler reply the protocol cannot send is a 500, recorded', async () => {
    await using server = await FaultServer.start({
      protocol: 'h2c',
      handler: (r) => (r.id === 'bad' ? { fault: 'stray-bytes' } : { body: 'fine' }),
    });
    const pool = h2Pool(server);
    const res = await pool.request({ path: '/', headers: { 'x-id': 'bad' } });
    assert.equal(res.status, 500);
    await res.dump();
    assert.equal((await get(pool, 'ok')).text, 'fine');
    await pool.close();
  });
});
