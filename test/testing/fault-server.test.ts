/**
 * FaultServer: a real loopback server whose faults, by schedule or seeded at random, reach
 * the client as they would from a misbehaving server; and the mock plays the same faults
 * with the same effect on the pool.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BodyTimeoutError,
  ConnectionPool,
  HeadersTimeoutError,
  InvalidArgumentError,
  isHttpoolError,
  SocketError,
} from '../../src/index.js';
import { type Fault, FaultServer, MockAgent } from '../../src/testing/index.js';
import { eventually } from '../helpers/servers.js';

/** GET /1 then GET /2, where the second meets a fault; what the pool and the server saw. */
async function staleRun(pool: ConnectionPool) {
  const texts: string[] = [];
  for (const path of ['/1', '/2']) texts.push(await (await pool.request({ path })).text());
  return { texts, replayed: pool.stats().replayed, requests: pool.stats().requests };
}

describe('FaultServer', () => {
  test('a GET on a stale connection is replayed, against the fault server as against the mock', async () => {
    await using server = await FaultServer.start({
      schedule: [undefined, 'close'],
      handler: (request) => ({ body: `answer ${request.path}` }),
    });
    const real = new ConnectionPool(server.origin);
    const onServer = await staleRun(real);
    await real.close();

    await using agent = new MockAgent();
    agent.intercept('http://api.test', { path: '/1' }).reply(200, 'answer /1');
    agent.intercept('http://api.test', { path: '/2' }).fault('close');
    agent.intercept('http://api.test', { path: '/2' }).reply(200, 'answer /2');
    const onMock = await staleRun(agent.pool('http://api.test'));

    assert.deepEqual(onServer, { texts: ['answer /1', 'answer /2'], replayed: 1, requests: 3 });
    assert.deepEqual(onMock, onServer);
    assert.deepEqual(
      server.requests.map((r) => [r.path, r.connection, r.fate]),
      [
        ['/1', 1, 'ok'],
        ['/2', 1, 'close'],
        ['/2', 2, 'ok'],
      ],
    );
    assert.deepEqual(
      agent.calls.map((c) => [c.path, c.connection]),
      server.requests.map((r) => [r.path, r.connection]),
    );
  });

  test('it records every request: method, path, headers, body, connection', async () => {
    await using server = await FaultServer.start();
    const pool = new ConnectionPool(server.origin);
    const res = await pool.request({
      method: 'POST',
      path: '/up?x=1',
      headers: { 'x-id': 'up-1', 'content-type': 'text/plain' },
      body: 'hello',
    });
    assert.equal(res.headers.get('x-id'), 'up-1');
    assert.match(await res.text(), /^id:up-1:x*$/);
    const chunked = await pool.request({
      method: 'PUT',
      path: '/stream',
      body: (async function* () {
        yield 'a';
        yield 'b';
      })(),
    });
    await chunked.dump();
    await pool.close();
    const [first, second] = server.requests;
    assert.equal(first?.method, 'POST');
    assert.equal(first?.path, '/up?x=1');
    assert.equal(first?.headers['content-type'], 'text/plain');
    assert.equal(Buffer.from(first?.body ?? []).toString(), 'hello');
    assert.equal(first?.id, 'up-1');
    assert.equal(second?.id, '/stream', 'without x-id, the path names it');
    assert.equal(Buffer.from(second?.body ?? []).toString(), 'ab');
    assert.equal(second?.connection, first?.connection);
    assert.equal(server.connections, 1);
  });

  test('each scheduled fault reaches the client as it would from a real misbehaving server', async () => {
    const cases: Array<{ fault: Fault; check: (pool: ConnectionPool) => Promise<void> }> = [
      {
        fault: 'reset',
        check: async (pool) => {
          const error = await pool.request({ path: '/' }).catch((e: unknown) => e);
          assert.ok(error instanceof SocketError, String(error));
        },
      },
      {
        fault: 'stall',
        check: async (pool) => {
          await assert.rejects(pool.request({ path: '/' }), HeadersTimeoutError);
        },
      },
      {
        fault: 'stall-body',
        check: async (pool) => {
          const res = await pool.request({ path: '/' });
          await assert.rejects(res.text(), BodyTimeoutError);
        },
      },
      {
        fault: 'cut-body',
        check: async (pool) => {
          const res = await pool.request({ path: '/' });
          const error = await res.text().catch((e: unknown) => e);
          assert.ok(isHttpoolError(error), String(error));
        },
      },
      {
        fault: 'drip',
        check: async (pool) => {
          const res = await pool.request({ path: '/', headers: { 'x-id': 'drip' } });
          assert.match(await res.text(), /^id:drip:x*$/);
        },
      },
      {
        fault: 'connection-close',
        check: async (pool) => {
          const res = await pool.request({ path: '/' });
          assert.equal(res.headers.get('connection'), 'close');
          await res.text();
        },
      },
    ];
    for (const { fault, check } of cases) {
      await using server = await FaultServer.start({ schedule: [fault], maxFaultDelay: 2 });
      // Real timers, short bounds only where a stall must end: no timing is asserted.
      const bound = fault.startsWith('stall') ? 150 : 30_000;
      const pool = new ConnectionPool(server.origin, { headersTimeout: bound, bodyTimeout: bound });
      await check(pool);
      assert.deepEqual(
        server.requests.map((r) => r.fate),
        [fault],
      );
      assert.equal(pool.stats().leased, 0);
      await pool.destroy();
    }
  });

  test('faults on an idle connection: the next GET goes on a new connection and succeeds', async () => {
    for (const fault of ['idle-close', 'idle-reset', 'stray-bytes', 'connection-close'] as const) {
      await using server = await FaultServer.start({ schedule: [fault], maxFaultDelay: 1 });
      const pool = new ConnectionPool(server.origin);
      await (await pool.request({ path: '/a' })).text();
      // The fault comes a moment after the answer: once the server's side has closed.
      await eventually(() => server.open === 0, 5000, `${fault} to close the connection`);
      const res = await pool.request({ path: '/b', headers: { 'x-id': 'b' } });
      assert.match(await res.text(), /^id:b:/);
      assert.equal(server.connections, 2, fault);
      await pool.close();
    }
  });

  test('idleTimeout closes idle connections without a hint; the pool sends again', async () => {
    await using server = await FaultServer.start({ idleTimeout: 20 });
    const pool = new ConnectionPool(server.origin);
    await (await pool.request({ path: '/' })).text();
    await eventually(() => server.open === 0, 5000, 'the idle connection to be closed');
    await (await pool.request({ path: '/' })).text();
    assert.equal(server.connections, 2);
    assert.equal(pool.stats().leased, 0);
    await pool.close();
  });

  test('random faults print their seed, and the same seed replays the same choices', async () => {
    const rates = { 'idle-close': 0.3, 'connection-close': 0.3 } as const;
    const runs: string[][] = [];
    const printed: string[] = [];
    for (let run = 0; run < 2; run++) {
      await using server = await FaultServer.start({
        rates,
        seed: 1234,
        log: (line) => printed.push(line),
      });
      const pool = new ConnectionPool(server.origin);
      for (let i = 0; i < 30; i++) {
        const res = await pool.request({ path: `/${i}` });
        await res.text();
        // Let an idle-close land before the next request: the order of arrivals is the same.
        await eventually(() => server.open <= 1, 5000);
        if (server.requests.at(-1)?.fate !== 'ok') {
          await eventually(() => server.open === 0, 5000);
        }
      }
      await pool.close();
      runs.push(server.requests.map((r) => `${r.path}:${r.fate}`));
      assert.equal(server.seed, 1234);
    }
    assert.deepEqual(runs[1], runs[0]);
    assert.ok(new Set(runs[0]?.map((r) => r.split(':')[1])).size >= 2, 'faults were drawn');
    assert.equal(printed.length, 2);
    assert.match(printed[0] ?? '', /seed 1234/);
  });

  test('bad options are refused, typed', async () => {
    await assert.rejects(
      FaultServer.start({ rates: { explode: 0.1 } as never }),
      InvalidArgumentError,
    );
    await assert.rejects(FaultServer.start({ rates: { stall: 2 } }), InvalidArgumentError);
    await assert.rejects(
      FaultServer.start({ rates: { stall: 0.6, reset: 0.6 } }),
      InvalidArgumentError,
    );
    await assert.rejects(FaultServer.start({ schedule: ['nope' as never] }), InvalidArgumentError);
    await assert.rejects(FaultServer.start({ idleTimeout: -1 }), InvalidArgumentError);
    await assert.rejects(FaultServer.start({ handler: { status: 42 } }), InvalidArgumentError);
  });
});
