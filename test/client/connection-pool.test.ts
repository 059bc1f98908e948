import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  AcquireTimeoutError,
  Agent,
  BodyUsedError,
  ConnectionPool,
  EmptyPoolError,
  InvalidArgumentError,
  isHttpoolError,
  PoolClosedError,
  ResponseError,
  SocketError,
} from '../../src/index.js';
import { collectGarbage } from '../helpers/gc.js';
import { eventually, sleep, startHttpServer, startRawServer } from '../helpers/servers.js';

const okBody = (res: import('node:http').ServerResponse, body: string) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

describe('ConnectionPool over node:http', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const server = await startHttpServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const url = new URL(req.url ?? '/', 'http://x');
    const delay = Number(url.searchParams.get('delay') ?? 0);
    const size = Number(url.searchParams.get('size') ?? 0);
    setTimeout(() => {
      inFlight--;
      if (size > 0) {
        res.writeHead(200, { 'content-length': size });
        res.end(Buffer.alloc(size, 'x'));
      } else okBody(res, `you asked for ${url.pathname}`);
    }, delay);
  });
  after(() => server.close());

  test('maxSize holds under 200 concurrent requests, counted by the server', async () => {
    const before = server.connections;
    maxInFlight = 0;
    const pool = new ConnectionPool(server.origin, { maxSize: 5 });
    const bodies = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await pool.request({ path: `/r${i}?delay=1` });
        return res.text();
      }),
    );
    for (const [i, body] of bodies.entries()) assert.equal(body, `you asked for /r${i}`);
    assert.equal(server.connections - before, 5);
    assert.ok(maxInFlight <= 5, `server saw ${maxInFlight} concurrent requests`);
    const stats = pool.stats();
    assert.equal(stats.created, 5);
    assert.equal(stats.requests, 200);
    assert.equal(stats.leased, 0);
    assert.equal(stats.idle, 5);
    await pool.close();
    assert.equal(pool.stats().open, 0);
  });

  test('a manual lease sends several requests on one connection and goes home on dispose', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    {
      await using conn = await pool.acquire();
      for (const path of ['/a', '/b', '/c']) {
        const res = await conn.request({ path });
        assert.equal(await res.text(), `you asked for ${path}`);
      }
      assert.equal(pool.stats().leased, 1);
    }
    assert.deepEqual(
      { leased: pool.stats().leased, idle: pool.stats().idle, created: pool.stats().created },
      { leased: 0, idle: 1, created: 1 },
    );
    await pool.close();
  });

  test('acquire times out with AcquireTimeoutError when the pool stays full', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const held = await pool.acquire();
    await assert.rejects(pool.acquire({ timeout: 30 }), AcquireTimeoutError);
    assert.equal(pool.stats().waiting, 0);
    await assert.rejects(pool.acquire({ blocking: false }), EmptyPoolError);
    held.release();
    const again = await pool.acquire({ blocking: false });
    again.release();
    await pool.close();
  });

  test('aborting a waiting acquire rejects it with the reason and serves the next waiter', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const aborted = pool.acquire({ signal: controller.signal });
    const next = pool.acquire();
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await assert.rejects(aborted, (error) => error === reason);
    held.release();
    const conn = await next;
    conn.release();
    await pool.close();
  });

  test('waiters are served first come, first served', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const held = await pool.acquire();
    const order: number[] = [];
    const waiters = [0, 1, 2, 3].map(async (i) => {
      const conn = await pool.acquire();
      order.push(i);
      await sleep(1);
      conn.release();
    });
    held.release();
    await Promise.all(waiters);
    assert.deepEqual(order, [0, 1, 2, 3]);
    await pool.close();
  });

  test('an idle connection is closed after idleTimeout, as the server sees it', async () => {
    const pool = new ConnectionPool(server.origin, { idleTimeout: 40 });
    const res = await pool.request({ path: '/idle' });
    await res.text();
    assert.equal(pool.stats().idle, 1);
    const closed = server.nextClose();
    await closed;
    assert.equal(pool.stats().idle, 0);
    assert.equal(pool.stats().closed, 1);
    await pool.close();
  });

  test('a body released unread never leaks into the next request', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 1, maxDrainBytes: 64 * 1024 });
    const created = () => pool.stats().created;
    // Small body: drained and the connection reused.
    let conn = await pool.acquire();
    await conn.request({ path: '/x?size=1000' });
    conn.release();
    let res = await pool.request({ path: '/after-small' });
    assert.equal(await res.text(), 'you asked for /after-small');
    assert.equal(created(), 1);
    // Large body: too much to drain, so the connection is closed instead.
    conn = await pool.acquire();
    await conn.request({ path: '/x?size=2000000' });
    conn.release();
    res = await pool.request({ path: '/after-large' });
    assert.equal(await res.text(), 'you asked for /after-large');
    assert.equal(created(), 2);
    await pool.close();
  });

  test('pool.request hands the connection back once the body is read or dumped', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 1, maxDrainBytes: 4_000_000 });
    // 2 MB cannot all arrive before the head is handed over: the unread body holds the
    // socket paused, so the connection stays leased until the body is dealt with.
    const first = await pool.request({ path: '/one?size=2000000' });
    assert.equal(pool.stats().leased, 1);
    await first.dump();
    assert.equal(pool.stats().leased, 0);
    const second = await pool.request({ path: '/two?size=300000' });
    let length = 0;
    for await (const chunk of second.body) length += chunk.byteLength;
    assert.equal(length, 300000);
    await eventually(() => pool.stats().leased === 0, 1000, 'lease returned');
    assert.equal(pool.stats().created, 1);
    await pool.close();
  });

  test('close(): waiters rejected, idle closed now, leased closed when released', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    b.release();
    const waiting = pool.acquire();
    // b went straight to the waiter; get it back so one is idle.
    (await waiting).release();
    assert.deepEqual([pool.stats().leased, pool.stats().idle], [1, 1]);
    const blocked = pool.acquire({ blocking: true });
    const third = pool.acquire();
    // One waiter got the idle connection; the other waits.
    const got = await blocked;
    let closed = false;
    const closing = pool.close().then(() => {
      closed = true;
    });
    await assert.rejects(third, PoolClosedError);
    await assert.rejects(pool.acquire(), PoolClosedError);
    await assert.rejects(pool.request({}), PoolClosedError);
    await sleep(10);
    assert.equal(closed, false, 'close() waits for leased connections');
    a.release();
    got.release();
    await closing;
    assert.equal(closed, true);
    assert.equal(pool.stats().open, 0);
  });

  test('destroy() fails a request in flight and closes everything', async () => {
    const pool = new ConnectionPool(server.origin);
    const pending = pool.request({ path: '/slow?delay=500' });
    await eventually(() => inFlight > 0, 1000, 'request reaches the server');
    const failed = assert.rejects(pending, SocketError);
    await pool.destroy();
    await failed;
    assert.equal(pool.stats().open, 0);
  });

  test('a chunked request body from an async generator arrives whole', async () => {
    const echo = await startHttpServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      okBody(res, `${req.headers['transfer-encoding']}:${body}`);
    });
    const pool = new ConnectionPool(echo.origin);
    async function* parts() {
      yield 'hello ';
      yield new TextEncoder().encode('chunked ');
      yield 'world';
    }
    const res = await pool.request({ method: 'POST', path: '/', body: parts() });
    assert.equal(await res.text(), 'chunked:hello chunked world');
    const res2 = await pool.request({ method: 'PUT', path: '/', body: 'fixed' });
    assert.equal(await res2.text(), 'undefined:fixed');
    await pool.close();
    await echo.close();
  });

  test('bad input is refused before anything is sent, and the connection stays usable', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const before = server.requests;
    await assert.rejects(
      pool.request({ headers: { 'x-token': 'secret\r\nx-evil: 1' } }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && !error.message.includes('secret'),
    );
    await assert.rejects(pool.request({ method: 'GE T' }), InvalidArgumentError);
    assert.equal(server.requests, before);
    assert.equal(pool.stats().leased, 0);
    const res = await pool.request({ path: '/fine' });
    assert.equal(await res.text(), 'you asked for /fine');
    await pool.close();
  });

  test('options are checked', () => {
    assert.throws(() => new ConnectionPool('ftp://x'), InvalidArgumentError);
    assert.throws(() => new ConnectionPool('http://x/path'), InvalidArgumentError);
    assert.throws(() => new ConnectionPool('not a url'), InvalidArgumentError);
    assert.throws(() => new ConnectionPool(server.origin, { maxSize: 0 }), InvalidArgumentError);
    assert.throws(
      () => new ConnectionPool(server.origin, { idleTimeout: -1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new ConnectionPool(server.origin, { connectTimeout: Number.NaN }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new ConnectionPool(server.origin, { limits: { maxHeaderSize: -1 } }),
      InvalidArgumentError,
    );
  });
});

describe('ConnectionPool against raw servers', () => {
  const response = (body: string, extra = '') =>
    `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

  test('a connection the server closed while idle is never handed out', async () => {
    const server = await startRawServer((socket, head) => {
      socket.write(response(head.split(' ')[1] ?? ''));
      setTimeout(() => socket.end(), 5);
    });
    const pool = new ConnectionPool(server.origin);
    for (const path of ['/1', '/2', '/3']) {
      const res = await pool.request({ path });
      assert.equal(await res.text(), path);
      await server.nextClose();
      await sleep(5);
    }
    assert.equal(server.connections, 3);
    assert.equal(pool.stats().replayed, 0);
    await pool.close();
    await server.close();
  });

  test('Connection: close and HTTP/1.0 responses are not reused', async () => {
    let n = 0;
    const server = await startRawServer((socket) => {
      n++;
      if (n === 1) socket.write(response('a', 'connection: close\r\n'));
      else socket.end('HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nb');
    });
    const pool = new ConnectionPool(server.origin);
    assert.equal(await (await pool.request({})).text(), 'a');
    assert.equal(await (await pool.request({})).text(), 'b');
    assert.equal(server.connections, 2);
    assert.equal(pool.stats().idle, 0);
    await pool.close();
    await server.close();
  });

  test('bytes after a complete response poison the connection', async () => {
    const server = await startRawServer((socket) => {
      socket.write(response('first') + response('smuggled'));
    });
    const pool = new ConnectionPool(server.origin);
    assert.equal(await (await pool.request({})).text(), 'first');
    assert.equal(await (await pool.request({})).text(), 'first');
    assert.equal(server.connections, 2);
    await pool.close();
    await server.close();
  });

  test('unsolicited bytes on an idle connection close it; the next request gets its own answer', async () => {
    const server = await startRawServer((socket, head) => {
      socket.write(response(head.split(' ')[1] ?? ''));
      setTimeout(() => socket.write(response('/unsolicited')), 5);
    });
    const pool = new ConnectionPool(server.origin);
    assert.equal(await (await pool.request({ path: '/a' })).text(), '/a');
    await server.nextClose();
    assert.equal(await (await pool.request({ path: '/b' })).text(), '/b');
    assert.equal(server.connections, 2);
    await pool.close();
    await server.close();
  });

  test('a GET that meets a stale kept-alive connection is replayed once on a new one', async () => {
    // Every connection answers one request and then drops the next without a reply,
    // the keep-alive close race a server's idle timeout causes.
    const perConnection = new WeakMap<object, number>();
    const server = await startRawServer((socket, head) => {
      const seen = (perConnection.get(socket) ?? 0) + 1;
      perConnection.set(socket, seen);
      if (seen === 1) socket.write(response(head.split(' ')[1] ?? ''));
      else socket.destroy();
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    assert.equal(await (await pool.request({ path: '/one' })).text(), '/one');
    assert.equal(await (await pool.request({ path: '/two' })).text(), '/two');
    assert.equal(pool.stats().replayed, 1);
    assert.equal(server.connections, 2);
    await pool.close();
    await server.close();
  });

  test('a POST on a stale connection fails with SocketError and reaches the server once', async () => {
    const perConnection = new WeakMap<object, number>();
    const posts: string[] = [];
    const server = await startRawServer((socket, head, _index, body) => {
      const seen = (perConnection.get(socket) ?? 0) + 1;
      perConnection.set(socket, seen);
      if (head.startsWith('POST')) posts.push(body.toString());
      if (seen === 1) socket.write(response('ok'));
      else socket.destroy();
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    await (await pool.request({})).text();
    await assert.rejects(pool.request({ method: 'POST', body: 'charge-card' }), SocketError);
    assert.deepEqual(posts, ['charge-card']);
    assert.equal(pool.stats().replayed, 0);
    // With an Idempotency-Key the same POST may be replayed.
    await (await pool.request({})).text();
    const res = await pool.request({
      method: 'POST',
      body: 'charge-card',
      headers: { 'idempotency-key': 'k1' },
    });
    assert.equal(await res.text(), 'ok');
    assert.equal(pool.stats().replayed, 1);
    // X-Idempotency-Key counts as well: the serializer and the replay rule agree on both names.
    await (await pool.request({})).text(); // this GET may itself be replayed: count from here
    const replayedBefore = pool.stats().replayed;
    const again = await pool.request({
      method: 'POST',
      body: 'charge-card',
      headers: [['X-Idempotency-Key', 'k2']],
    });
    assert.equal(await again.text(), 'ok');
    assert.equal(pool.stats().replayed, replayedBefore + 1);
    await pool.close();
    await server.close();
  });

  test('a body cut short is an error, never a short success', async () => {
    const server = await startRawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf');
    });
    const pool = new ConnectionPool(server.origin);
    const res = await pool.request({});
    await assert.rejects(res.text(), SocketError);
    assert.equal(pool.stats().open, 0);
    await pool.close();
    await server.close();
  });

  test('a refused connection rejects the acquire and frees its slot', async () => {
    const server = await startRawServer(() => {});
    const origin = server.origin;
    await server.close();
    const pool = new ConnectionPool(origin, { maxSize: 1 });
    await assert.rejects(pool.request({}), SocketError);
    await assert.rejects(pool.request({}), SocketError);
    const stats = pool.stats();
    assert.equal(stats.open, 0);
    assert.equal(stats.connectFailed, 2);
    await pool.close();
  });

  test('Keep-Alive: timeout hint retires the idle connection early', async () => {
    const server = await startRawServer((socket) => {
      socket.write(response('x', 'keep-alive: timeout=1\r\n'));
    });
    // A 1 s hint minus the 1 s default threshold leaves nothing: never reused.
    const pool = new ConnectionPool(server.origin);
    await (await pool.request({})).text();
    await (await pool.request({})).text();
    assert.equal(server.connections, 2);
    await pool.close();
    // With a smaller threshold it is reused.
    const lenient = new ConnectionPool(server.origin, { keepAliveTimeoutThreshold: 500 });
    await (await lenient.request({})).text();
    await (await lenient.request({})).text();
    assert.equal(server.connections, 3);
    await lenient.close();
    await server.close();
  });

  test('maxRequestsPerConnection retires a connection after N requests', async () => {
    const server = await startRawServer((socket) => socket.write(response('x')));
    const pool = new ConnectionPool(server.origin, { maxRequestsPerConnection: 2 });
    for (let i = 0; i < 5; i++) await (await pool.request({})).text();
    assert.equal(server.connections, 3);
    await pool.close();
    await server.close();
  });

  test('HEAD and 204 responses carry no body even with a Content-Length', async () => {
    const server = await startRawServer((socket, head) => {
      if (head.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n');
      else socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const head = await pool.request({ method: 'HEAD' });
    assert.equal(head.headers.get('Content-Length'), '1000');
    assert.equal(await head.text(), '');
    const empty = await pool.request({ method: 'DELETE' });
    assert.equal(empty.status, 204);
    assert.equal(await empty.text(), '');
    assert.equal(server.connections, 1);
    await pool.close();
    await server.close();
  });
});

describe('protocol switches', () => {
  for (const trailing of ['', 'and then some bytes']) {
    test(`an unrequested 101 is refused (${trailing === '' ? 'head alone' : 'with bytes after it'})`, async () => {
      const server = await startRawServer((socket) => {
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n${trailing}`,
        );
      });
      const pool = new ConnectionPool(server.origin);
      await assert.rejects(pool.request({ headersTimeout: 2000 }), ResponseError);
      assert.equal(pool.stats().open, 0);
      await pool.close();
      await server.close();
    });
  }
});

describe('draining', () => {
  test('a dumped body whose server stalls is closed after a short drain wait, not bodyTimeout', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part');
    });
    const pool = new ConnectionPool(server.origin, { bodyTimeout: 60_000 });
    const res = await pool.request({});
    const started = Date.now();
    await res.dump();
    const waited = Date.now() - started;
    assert.ok(waited < 30_000, `dump waited ${waited} ms`);
    assert.equal(pool.stats().open, 0);
    assert.equal(pool.stats().leased, 0);
    await pool.close();
    await server.close();
  });
});

describe('bodies, backpressure and leases', () => {
  test('a response that completes while its reader pushed back does not leave the socket paused', async () => {
    const size = 70 * 1024;
    const server = await startRawServer((socket, head) => {
      if (head.startsWith('GET /big')) {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
        socket.write(Buffer.alloc(60 * 1024, 97));
        setTimeout(() => socket.write(Buffer.alloc(size - 60 * 1024, 98)), 50);
      } else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1, headersTimeout: 2000 });
    const big = await pool.request({ path: '/big' });
    // Nobody reads the big body yet: all of it arrives, over the 64 KiB pause mark.
    await eventually(() => pool.stats().idle === 1, 2000, 'the exchange to end');
    const small = await pool.request({ path: '/small' });
    assert.equal(await small.text(), 'ok');
    assert.equal((await big.bytes()).byteLength, size);
    assert.equal(server.connections, 1);
    await pool.close();
    await server.close();
  });

  test('releasing a lease while its body is being read fails the reader instead of truncating', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
      setTimeout(() => socket.write('world'), 50);
    });
    const pool = new ConnectionPool(server.origin);
    const conn = await pool.acquire();
    const res = await conn.request({});
    const text = res.text();
    conn.release();
    await assert.rejects(text, BodyUsedError);
    await pool.close();
    await server.close();
  });

  test('a response keeps its lease alive: the leak detector does not close a body being read', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
      setTimeout(() => socket.write('world'), 80);
    });
    const pool = new ConnectionPool(server.origin);
    // The lease itself is dropped at once; only the response is kept.
    const res = await (await pool.acquire()).request({});
    await collectGarbage(5);
    assert.equal(await res.text(), 'helloworld');
    assert.equal(pool.stats().leaks, 0);
    await pool.destroy();
    await server.close();
  });

  describe('a response body dropped unread while it is still arriving', () => {
    // 200 KiB: more than the 64 KiB the connection queues before it pauses, so a body nobody
    // reads holds its connection until the server gives up; the rest comes 150 ms late.
    const size = 200 * 1024;
    async function bigBodyServer() {
      return startRawServer((socket, head) => {
        if (!head.startsWith('GET /big')) {
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
          return;
        }
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
        socket.write(Buffer.alloc(size / 2, 97));
        setTimeout(() => socket.write(Buffer.alloc(size / 2, 98)), 150);
      });
    }
    test('is given up once collected: the connection drains, comes back, and a leak is reported', async () => {
      const warnings: Array<Error & { code?: string }> = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on('warning', onWarning);
      const server = await bigBodyServer();
      const pool = new ConnectionPool(server.origin, { maxSize: 1 });
      try {
        await (async () => {
          const res = await pool.request({ path: '/big' });
          assert.equal(res.body.complete, false);
        })();
        await collectGarbage(100, () => pool.stats().leased === 0);
        assert.equal(pool.stats().leased, 0, 'the dropped body still holds its connection');
        // Drained (150 KiB < maxDrainBytes), so the one connection carries the next request.
        const res = await pool.request({ path: '/small', acquireTimeout: 2000 });
        assert.equal(await res.text(), 'ok');
        assert.equal(server.connections, 1);
        assert.equal(pool.stats().leaks, 1);
        await sleep(5);
        const leaks = warnings.filter((w) => w.code === 'HTTPOOL_LEAK');
        assert.equal(leaks.length, 1);
        assert.match(leaks[0]!.message, /response body garbage-collected unread/);
      } finally {
        process.off('warning', onWarning);
        await pool.destroy();
        await server.close();
      }
    });

    test('is kept when only the body is kept, and when a reader has started on it', async () => {
      const server = await bigBodyServer();
      const pool = new ConnectionPool(server.origin, { maxSize: 2 });
      try {
        const body = (await pool.request({ path: '/big' })).body;
        const reading = (await pool.request({ path: '/big' })).bytes();
        await collectGarbage(20);
        assert.equal((await body.bytes()).byteLength, size);
        assert.equal((await reading).byteLength, size);
        assert.equal(pool.stats().leaks, 0);
      } finally {
        await pool.destroy();
        await server.close();
      }
    });
  });

  test('a lease stays alive while only its response body, or a read of it, is kept', async () => {
    // The rest of each body is sent only after the collections: were it sent on a timer, a slow
    // collection under load would let the bodies end first, and a lease dropped unreleased
    // after its body ended is a leak, rightly reported.
    const waiting: Socket[] = [];
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
      waiting.push(socket);
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 3 });
    try {
      // Lease and response dropped at once; only the body, an iterator, or a pending read kept.
      const body = (await (await pool.acquire()).request({})).body;
      const iterator = (await (await pool.acquire()).request({})).body[Symbol.asyncIterator]();
      const reading = (await (await pool.acquire()).request({})).text();
      await collectGarbage(6);
      assert.equal(pool.stats().leaks, 0, 'no lease was collected while its body was unfinished');
      for (const socket of waiting) socket.write('world');
      assert.equal(await body.text(), 'helloworld');
      let streamed = '';
      for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) {
        streamed += Buffer.from(r.value).toString();
      }
      assert.equal(streamed, 'helloworld');
      assert.equal(await reading, 'helloworld');
      assert.equal(pool.stats().leaks, 0);
    } finally {
      await pool.destroy();
      await server.close();
    }
  });

  test('a body read to the end is collectable afterwards, and so is a closed pool', async () => {
    const server = await startRawServer((socket) => {
      // The body comes after the head: it is watched for abandonment, then read.
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
      setTimeout(() => socket.write('world'), 30);
    });
    try {
      const bodies: Array<WeakRef<object>> = [];
      const pools: Array<WeakRef<object>> = [];
      for (let i = 0; i < 3; i++) {
        await (async () => {
          const pool = new ConnectionPool(server.origin);
          pools.push(new WeakRef(pool));
          const res = await pool.request({});
          bodies.push(new WeakRef(res.body));
          assert.equal(await res.text(), 'helloworld');
          const conn = await pool.acquire();
          const leased = await conn.request({});
          bodies.push(new WeakRef(leased.body));
          assert.equal(Buffer.from(await leased.arrayBuffer()).toString(), 'helloworld');
          conn.release();
          await pool.close();
        })();
      }
      // No deref() between collections: a target deref'd in a job is kept alive until it ends.
      await collectGarbage(10);
      assert.equal(bodies.filter((r) => r.deref() !== undefined).length, 0, 'bodies kept alive');
      assert.equal(pools.filter((r) => r.deref() !== undefined).length, 0, 'pools kept alive');
    } finally {
      await server.close();
    }
  });

  test('a lease released with its body unread, then dropped, drains home without a leak report', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
      setTimeout(() => socket.write('world'), 150);
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    try {
      await (async () => {
        const conn = await pool.acquire();
        await conn.request({});
        conn.release(); // the unread rest drains
      })();
      await collectGarbage(8);
      await eventually(() => pool.stats().idle === 1, 2000, 'the drained connection to come home');
      assert.equal(pool.stats().closed, 0);
      assert.equal(pool.stats().leaks, 0);
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
      await pool.destroy();
      await server.close();
    }
  });

  test('connectTimeout 0 is refused: it would fail every connection', () => {
    assert.throws(() => new ConnectionPool(server0, { connectTimeout: 0 }), InvalidArgumentError);
  });
});

const server0 = 'http://127.0.0.1:9';

describe('close with a deadline', () => {
  /** `promise`, or a failure after `ms`: a close that ignores its deadline fails, not hangs. */
  const within = <T>(ms: number, promise: Promise<T>): Promise<T> =>
    Promise.race([
      promise,
      sleep(ms).then((): never => {
        throw new Error(`not settled within ${ms} ms`);
      }),
    ]);
  /** `/slow` never answers; anything else gets `ok`. */
  async function server() {
    return startRawServer((socket, head) => {
      if (!head.startsWith('GET /slow')) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
  }

  test('close({ timeout }) destroys what is still busy once the time is up', async () => {
    const s = await server();
    const pool = new ConnectionPool(s.origin, { maxSize: 2 });
    try {
      const lease = await pool.acquire();
      const pending = pool.request({ path: '/slow' });
      pending.catch(() => {});
      await eventually(() => s.requests === 1, 2000, 'the slow request to arrive');
      const started = Date.now();
      await within(3000, pool.close({ timeout: 50 }));
      const took = Date.now() - started;
      assert.ok(took >= 40 && took < 2000, `close took ${took} ms`);
      await assert.rejects(pending, (error: unknown) => isHttpoolError(error));
      assert.equal(pool.stats().open, 0);
      await eventually(() => s.open.size === 0, 2000, 'the server to see both closes');
      lease.release(); // a late release of a destroyed lease is a no-op
    } finally {
      await s.close();
    }
  });

  test('close({ timeout }) resolves as soon as everything came back in time', async () => {
    const s = await server();
    const pool = new ConnectionPool(s.origin);
    try {
      const lease = await pool.acquire();
      setTimeout(() => lease.release(), 20);
      const started = Date.now();
      await pool.close({ timeout: 10_000 });
      assert.ok(Date.now() - started < 2000);
      assert.equal(pool.stats().open, 0);
    } finally {
      await s.close();
    }
  });

  test('a timeout longer than a timer can hold means no deadline, not an instant one', async () => {
    const s = await server();
    const pool = new ConnectionPool(s.origin);
    try {
      const lease = await pool.acquire();
      const closing = pool.close({ timeout: 30 * 86_400_000 });
      await sleep(50);
      assert.equal(pool.stats().leased, 1, 'the lease was destroyed at once');
      lease.release();
      await within(3000, closing);
    } finally {
      await s.close();
    }
  });

  test('a bad timeout is refused and changes nothing', async () => {
    const s = await server();
    const pool = new ConnectionPool(s.origin);
    try {
      for (const timeout of [-1, Number.NaN, '10' as unknown as number]) {
        await assert.rejects(pool.close({ timeout }), InvalidArgumentError);
      }
      assert.equal(await (await pool.request({})).text(), 'ok');
      await pool.close({ timeout: Number.POSITIVE_INFINITY });
    } finally {
      await s.close();
    }
  });

  test('Agent.close({ timeout }) does the same across origins', async () => {
    const [a, b] = [await server(), await server()];
    const agent = new Agent();
    try {
      assert.equal(await (await agent.request(`${a.origin}/x`)).text(), 'ok');
      const pending = agent.request(`${b.origin}/slow`);
      pending.catch(() => {});
      await eventually(() => b.requests === 1, 2000, 'the slow request to arrive');
      await assert.rejects(agent.close({ timeout: -5 }), InvalidArgumentError);
      assert.equal(await (await agent.request(`${a.origin}/still-open`)).text(), 'ok');
      // A graceful close that would wait forever, then a bounded one: the second reaches the
      // pools the first is closing.
      const graceful = agent.close();
      const started = Date.now();
      await within(3000, agent.close({ timeout: 50 }));
      assert.ok(Date.now() - started < 2000);
      await within(3000, graceful);
      await assert.rejects(pending, (error: unknown) => isHttpoolError(error));
      await eventually(() => a.open.size + b.open.size === 0, 2000, 'every socket to close');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('421 Misdirected Request', () => {
  test('is sent once more on a new connection, whatever the method; a second 421 stands', async () => {
    const sockets = new Map<Socket, number>();
    let misdirect = 1;
    const server = await startHttpServer((req, res) => {
      const socket = req.socket;
      sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      req.on('end', () => {
        if (req.url === '/always' || misdirect-- > 0) {
          res.writeHead(421, { 'content-length': 9 });
          res.end('not here!');
          return;
        }
        okBody(res, `${req.method} ${body}`);
      });
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 2 });
    try {
      const res = await pool.request({ method: 'POST', path: '/a', body: 'payload' });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'POST payload');
      // Two requests, each on its own connection.
      assert.deepEqual([...sockets.values()], [1, 1]);
      assert.equal(pool.stats().replayed, 1);
      const again = await pool.request({ path: '/always' });
      assert.equal(again.status, 421);
      assert.equal(await again.text(), 'not here!');
      assert.equal(pool.stats().replayed, 2);
      // A body that cannot be sent again is answered with the 421 itself.
      misdirect = 1;
      const streamed = await pool.request({
        method: 'PUT',
        path: '/b',
        body: (async function* () {
          yield 'once';
        })(),
      });
      assert.equal(streamed.status, 421);
      await streamed.dump();
      assert.equal(pool.stats().replayed, 2);
    } finally {
      await pool.close();
      await server.close();
    }
  });
});
