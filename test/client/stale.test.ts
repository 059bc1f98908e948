import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { ConnectionPool, SocketError } from '../../src/index.js';
import { prng } from '../helpers/random.js';
import { eventually, sleep, startHttpServer, startRawServer } from '../helpers/servers.js';

const response = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** Runs `count` tasks with at most `concurrency` at once. */
async function runConcurrently(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

describe('stale kept-alive connections', () => {
  test("node:http keepAliveTimeout: the server's Keep-Alive hint is honoured, no failures", async () => {
    const server = await startHttpServer(
      (req, res) => res.end(req.url),
      (s) => {
        s.keepAliveTimeout = 30;
      },
    );
    const pool = new ConnectionPool(server.origin);
    for (let i = 0; i < 12; i++) {
      const res = await pool.request({ path: `/${i}` });
      assert.equal(await res.text(), `/${i}`);
      await sleep(20 + (i % 4) * 5);
    }
    // Node sends `Keep-Alive: timeout=0` for a 30 ms timeout: nothing is worth reusing.
    assert.equal(pool.stats().replayed, 0);
    await pool.close();
    await server.close();
  });

  test('node:http idle socket timeout (no hint): requests right at the edge never fail', async () => {
    // server.timeout closes a socket idle for 30 ms and says nothing in the response.
    const server = await startHttpServer(
      (req, res) => res.end(req.url),
      (s) => {
        s.keepAliveTimeout = 0;
        s.timeout = 30;
      },
    );
    const pool = new ConnectionPool(server.origin, { maxSize: 2 });
    const gaps = [22, 26, 28, 29, 30, 31, 32, 34, 38, 30, 29, 31, 30, 30, 28, 33];
    for (const [i, gap] of gaps.entries()) {
      const pair = await Promise.all(
        [`/${i}a`, `/${i}b`].map(async (path) => (await pool.request({ path })).text()),
      );
      assert.deepEqual(pair, [`/${i}a`, `/${i}b`]);
      await sleep(gap);
    }
    const stats = pool.stats();
    assert.equal(stats.leased, 0);
    // Each GET was answered exactly once; every other send met a closed socket and was replayed.
    assert.equal(server.requests, gaps.length * 2);
    assert.equal(stats.requests, gaps.length * 2 + stats.replayed);
    console.log(
      `edge run: ${server.connections} connections, ${stats.replayed} replays, ${stats.requests} requests sent`,
    );
    await pool.close();
    await server.close();
  });

  test('a server closing idle connections at random moments: no GET fails', async () => {
    const seed = Number(process.env['HTTPOOL_SEED'] ?? Date.now() % 2 ** 31);
    console.log(`random-close seed: ${seed} (rerun with HTTPOOL_SEED=${seed})`);
    const random = prng(seed);
    const idleTimers = new WeakMap<Socket, NodeJS.Timeout>();
    let closes = 0;
    const server = await startRawServer((socket, head) => {
      clearTimeout(idleTimers.get(socket));
      const path = head.split(' ')[1] ?? '';
      const roll = random();
      if (roll < 0.05) {
        // Close right after answering, without saying so (a restart, a load balancer).
        socket.end(response(path));
        closes++;
        return;
      }
      socket.write(response(path));
      if (roll < 0.45) {
        // Close while idle, a few ms later: sometimes a request is already on its way.
        const delay = Math.floor(random() * 5);
        const kind = random();
        idleTimers.set(
          socket,
          setTimeout(() => {
            closes++;
            if (kind < 0.3) socket.resetAndDestroy();
            else if (kind < 0.6) socket.destroy();
            else socket.end();
          }, delay),
        );
      }
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 8 });
    const failures: string[] = [];
    await runConcurrently(500, 32, async (i) => {
      try {
        const res = await pool.request({ path: `/req${i}` });
        const text = await res.text();
        if (text !== `/req${i}`) failures.push(`${i}: got ${text}`);
      } catch (error) {
        failures.push(`${i}: ${String(error)}`);
      }
      if (i % 16 === 0) await sleep(random() * 3);
    });
    const stats = pool.stats();
    console.log(
      `random-close: ${closes} server closes, ${server.connections} connections, ${stats.replayed} replays, seed ${seed}`,
    );
    assert.deepEqual(failures, [], `seed ${seed}`);
    assert.equal(stats.leased, 0);
    assert.ok(stats.created <= server.connections);
    assert.ok(server.connections >= 8, 'the server did close connections');
    await pool.close();
    assert.equal(pool.stats().open, 0);
    await server.close();
  });

  test('a POST whose connection dies mid-response-head fails with SocketError and is never replayed', async () => {
    const posts: string[] = [];
    const server = await startRawServer((socket, head, _index, body) => {
      if (head.startsWith('POST')) {
        posts.push(body.toString());
        // Read the whole request, start answering, and die.
        socket.end('HTTP/1.1 200 OK\r\ncontent-le');
      } else socket.write(response('ok'));
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    // A reused connection: the replay rule is even in play, and must say no.
    assert.equal(await (await pool.request({})).text(), 'ok');
    await assert.rejects(
      pool.request({ method: 'POST', body: 'charge-card', headers: { 'idempotency-key': 'k' } }),
      SocketError,
    );
    await assert.rejects(pool.request({ method: 'POST', body: 'charge-card-2' }), SocketError);
    assert.deepEqual(posts, ['charge-card', 'charge-card-2']);
    assert.equal(pool.stats().replayed, 0);
    assert.equal(pool.stats().leased, 0);
    await pool.close();
    await server.close();
  });

  test('a GET whose answer was cut short is not replayed either (the server answered)', async () => {
    let gets = 0;
    const server = await startRawServer((socket) => {
      gets++;
      if (gets === 1) socket.write(response('ok'));
      else socket.end('HTTP/1.1 200 OK\r\n');
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    await (await pool.request({})).text();
    await assert.rejects(pool.request({}), SocketError);
    assert.equal(gets, 2);
    assert.equal(pool.stats().replayed, 0);
    await pool.close();
    await server.close();
  });

  test('maxLifetime: a connection older than it is not lent again', async () => {
    const server = await startRawServer((socket) => socket.write(response('x')));
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { maxLifetime: 60, maxSize: 1, clock });
    await (await pool.request({})).text();
    await (await pool.request({})).text();
    assert.equal(server.connections, 1, 'young: reused');
    clock.advance(80);
    await (await pool.request({})).text();
    assert.equal(server.connections, 2, 'old: replaced');
    await eventually(() => server.open.size === 1, 1000, 'the old socket to close');
    // A connection whose lifetime ends while it is leased is closed on release.
    const conn = await pool.acquire();
    await (await conn.request({})).text();
    clock.advance(80);
    conn.release();
    assert.equal(pool.stats().idle, 0);
    await (await pool.request({})).text();
    assert.equal(server.connections, 3);
    assert.equal(pool.stats().replayed, 0);
    // An idle connection is closed when its lifetime ends, without waiting for a checkout.
    assert.equal(pool.stats().idle, 1);
    clock.advance(80);
    await eventually(() => server.open.size === 0, 1000, 'the idle socket to be retired');
    assert.equal(pool.stats().open, 0);
    await pool.close();
    await server.close();
  });

  for (const mode of ['close', 'keep-alive'] as const) {
    test(`an early response during an upload is delivered, the upload stops, the connection is closed (${mode})`, async () => {
      let uploaded = 0;
      let heads = 0;
      // Its own server: it answers after the first few KB of the body, not after the body.
      const early = createServer((socket) => {
        let answered = false;
        socket.on('error', () => {});
        socket.on('data', (chunk: Buffer) => {
          if (!answered && chunk.includes('\r\n\r\n')) heads++;
          uploaded += chunk.byteLength;
          if (!answered && uploaded > 4096) {
            answered = true;
            const body = 'too large';
            const connection = mode === 'close' ? 'connection: close\r\n' : '';
            socket.write(
              `HTTP/1.1 413 Content Too Large\r\n${connection}content-length: ${body.length}\r\n\r\n${body}`,
            );
            // Lingering close: stop sending but keep reading, so the client sees the answer.
            if (mode === 'close') socket.end();
          }
        });
      });
      await new Promise<void>((resolve) => early.listen(0, '127.0.0.1', resolve));
      const port = (early.address() as AddressInfo).port;
      let produced = 0;
      let stopped = false;
      async function* bigUpload() {
        try {
          for (let i = 0; i < 10_000; i++) {
            produced += 16 * 1024;
            yield new Uint8Array(16 * 1024);
            if (i % 8 === 0) await sleep(1);
          }
        } finally {
          stopped = true;
        }
      }
      const pool = new ConnectionPool(`http://127.0.0.1:${port}`, { maxSize: 1 });
      const res = await pool.request({ method: 'PUT', body: bigUpload() });
      assert.equal(res.status, 413);
      assert.equal(await res.text(), 'too large');
      await eventually(() => stopped, 2000, 'the upload to stop');
      assert.ok(produced < 10_000 * 16 * 1024, 'the upload stopped early');
      await eventually(() => pool.stats().open === 0, 1000, 'the connection to close');
      assert.equal(pool.stats().leased, 0);
      assert.equal(heads, 1);
      await new Promise<void>((resolve) => early.close(() => resolve()));
      await pool.close();
    });
  }

  test('an early response before a large fixed-length body was flushed: the connection is not reused', async () => {
    // The server reads a little of the body, answers, and reads no more. The client still
    // holds most of the body in its write buffer: that request was not fully written, so the
    // connection must not carry another one (it would queue behind the unsent bytes).
    const sockets: Socket[] = [];
    const early = createServer((socket) => {
      sockets.push(socket);
      let seen = 0;
      let answered = false;
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.byteLength;
        if (answered) return;
        if (chunk.includes('GET /next ')) {
          socket.write(response('next'));
          return;
        }
        if (seen > 4096) {
          answered = true;
          socket.write('HTTP/1.1 413 Content Too Large\r\ncontent-length: 4\r\n\r\nnope');
          socket.pause();
        }
      });
    });
    await new Promise<void>((resolve) => early.listen(0, '127.0.0.1', resolve));
    const port = (early.address() as AddressInfo).port;
    const clock = new FakeClock();
    const pool = new ConnectionPool(`http://127.0.0.1:${port}`, {
      maxSize: 1,
      headersTimeout: 1000,
      clock,
    });
    try {
      const res = await pool.request({ method: 'PUT', body: new Uint8Array(32 * 1024 * 1024) });
      assert.equal(res.status, 413);
      assert.equal(await res.text(), 'nope');
      // The verdict waits (a bounded while) for the upload's last bytes to leave; they never do.
      const pending = pool.request({ path: '/next' });
      await sleep(10);
      assert.equal(sockets.length, 1, 'a new connection before the flush wait ended');
      clock.advance(250);
      const next = await pending;
      assert.equal(await next.text(), 'next');
      assert.equal(sockets.length, 2, 'the second request went on a new connection');
    } finally {
      await pool.destroy();
      for (const socket of sockets) socket.destroy();
    }
    await new Promise<void>((resolve) => early.close(() => resolve()));
  });
});
