import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ConnectionPool, isHttpoolError } from '../../src/index.js';
import { FAILING_FATES, startFaultServer } from '../helpers/fault-server.js';

const seed = Number(process.env['HTTPOOL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = 12_000;
const CONCURRENCY = 64;

test(`thousands of GETs and POSTs against a faulty server keep every promise (seed ${seed})`, async () => {
  console.log(`fault suite seed: ${seed} (replay with HTTPOOL_SEED=${seed})`);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  after(() => process.off('unhandledRejection', onUnhandled));

  const server = await startFaultServer(seed, {
    idleClose: 0.05,
    resetAfter: 0.02,
    connectionClose: 0.03,
    stall: 0.004,
    cutBody: 0.01,
    unsolicited: 0.01,
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
      method === 'GET' && !(server.seen.get(id) ?? []).some(({ fate }) => FAILING_FATES.has(fate)),
  );
  assert.equal(
    JSON.stringify(unexplained.map(({ id, code }) => ({ id, code, seen: server.seen.get(id) }))),
    '[]',
    'GETs failed without a server fault',
  );
  // No POST reaches the server twice.
  for (const [id, attempts] of server.seen) {
    const posts = attempts.filter(({ method }) => method === 'POST');
    assert.ok(posts.length <= 1, `POST ${id} reached the server ${posts.length} times`);
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
  for (const attempts of server.seen.values()) {
    for (const { fate } of attempts) fates.set(fate, (fates.get(fate) ?? 0) + 1);
  }
  console.log(
    `fault suite: ${REQUESTS} requests in ${Date.now() - started} ms, ${succeeded} ok, ` +
      `${failures.length} failed ${JSON.stringify(Object.fromEntries(byCode))}; ` +
      `replayed ${stats.replayed}; connections ${server.connections}; ` +
      `server fates ${JSON.stringify(Object.fromEntries(fates))}`,
  );
});
