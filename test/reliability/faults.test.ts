import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ConnectionPool, isHttpoolError } from '../../src/index.js';
import { FAILING_FATES, FaultServer } from '../../src/testing/index.js';

const seed = Number(process.env['HTTPOOL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = 12_000;
const CONCURRENCY = 64;

test(`thousands of GETs and POSTs against a faulty server keep every promise (seed ${seed})`, async () => {
  console.log(`fault suite seed: ${seed} (replay with HTTPOOL_SEED=${seed})`);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  after(() => process.off('unhandledRejection', onUnhandled));

  const server = await FaultServer.start({
    seed,
    rates: {
      stall: 0.004,
      'cut-body': 0.01,
      'connection-close': 0.03,
      'idle-reset': 0.02,
      'idle-close': 0.05,
      'stray-bytes': 0.01,
    },
  });
  after(() => server.close());
  const pool = new ConnectionPool(server.origin, {
    maxSize: 8,
    headersTimeout: 300,
    bodyTimeout: 300,
  });

  const failures: Array<{ id: string; method: string; code: string }> = [];
  let next = 0;
  let succeeded = 0;
  const started = Date.now();
  async function worker(): Promise<void> {
    while (next < REQUESTS && Date.now() - started < 60_000) {
      const n = next++;
      const id = `r${n}`;
      const method = n % 3 === 2 ? 'POST' : 'GET';
      try {
        const response = await pool.request({
          method,
          path: `/${id}`,
          headers: { 'x-id': id },
          body: method === 'POST' ? `payload-${id}` : null,
        });
        const text = await response.text();
        // A response must belong to the request that asked for it.
        assert.equal(response.headers.get('x-id'), id);
        assert.ok(
          text.startsWith(`id:${id}:`),
          `request ${id} got a body for ${text.slice(0, 20)}`,
        );
        succeeded++;
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        assert.ok(isHttpoolError(error), `untyped error for ${id}: ${String(error)}`);
        failures.push({ id, method, code: error.code });
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.equal(succeeded + failures.length, REQUESTS, 'every request settled');

  // No GET fails unless the server really cut or stalled its answer.
  const unexplained = failures.filter(
    ({ id, method }) =>
      method === 'GET' && !server.attempts(id).some(({ fate }) => FAILING_FATES.has(fate)),
  );
  const seen = (id: string) => server.attempts(id).map(({ method, fate }) => ({ method, fate }));
  assert.equal(
    JSON.stringify(unexplained.map(({ id, code }) => ({ id, code, seen: seen(id) }))),
    '[]',
    'GETs failed without a server fault',
  );
  // No POST reaches the server twice.
  const posts = new Map<string, number>();
  for (const { id, method } of server.requests) {
    if (method === 'POST') posts.set(id, (posts.get(id) ?? 0) + 1);
  }
  assert.ok(posts.size > 0, 'no POST reached the server');
  for (const [id, count] of posts) {
    assert.ok(count <= 1, `POST ${id} reached the server ${count} times`);
  }
  // Every lease came home.
  const stats = pool.stats();
  assert.equal(stats.leased, 0);
  assert.equal(stats.waiting, 0);
  await pool.close();
  assert.equal(pool.stats().open, 0);
  assert.deepEqual(unhandled, []);

  const byCode = new Map<string, number>();
  for (const { code } of failures) byCode.set(code, (byCode.get(code) ?? 0) + 1);
  const fates = new Map<string, number>();
  for (const { fate } of server.requests) fates.set(fate, (fates.get(fate) ?? 0) + 1);
  console.log(
    `fault suite: ${REQUESTS} requests in ${Date.now() - started} ms, ${succeeded} ok, ` +
      `${failures.length} failed ${JSON.stringify(Object.fromEntries(byCode))}; ` +
      `replayed ${stats.replayed}; connections ${server.connections}; ` +
      `server fates ${JSON.stringify(Object.fromEntries(fates))}`,
  );
});
