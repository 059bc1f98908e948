import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  BodyTimeoutError,
  ConnectionPool,
  ConnectTimeoutError,
  HeadersTimeoutError,
  type HttpoolError,
} from '../../src/index.js';
import { eventually, sleep, startHttpServer, startRawServer } from '../helpers/servers.js';

/** Checks the error's class and code. */
function typed(cls: new (...args: never[]) => HttpoolError, code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

/**
 * Advances `clock` by `ms` every few real ms until `promise` settles: for a timer armed at a
 * moment the test cannot see (an upload that stalls once the socket's buffers are full).
 */
async function advanceUntilSettled(clock: FakeClock, ms: number, promise: Promise<unknown>) {
  let settled = false;
  const done = promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await eventually(
    () => {
      if (!settled) clock.advance(ms);
      return settled;
    },
    5000,
    'the request to settle',
  );
  await done;
}

/** After a failure: nothing leased, nothing open, and the server saw every socket close. */
async function assertCleanedUp(pool: ConnectionPool, open: Set<Socket>): Promise<void> {
  const stats = pool.stats();
  assert.equal(stats.leased, 0, 'no lease left');
  assert.equal(stats.open, 0, 'no connection left');
  await eventually(() => open.size === 0, 1000, 'the server to see the socket closed');
}

describe('timeouts', () => {
  test('connectTimeout: a TLS handshake that never completes → ConnectTimeoutError, slot freed', async () => {
    // A plain TCP server that accepts and never says a word: the ClientHello goes unanswered.
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(`https://127.0.0.1:${server.port}`, {
      maxSize: 1,
      connectTimeout: 50,
    });
    await assert.rejects(pool.request({}), typed(ConnectTimeoutError, 'ERR_CONNECT_TIMEOUT'));
    // The slot was given back: a second request gets its own attempt (and its own timeout).
    await assert.rejects(pool.acquire(), typed(ConnectTimeoutError, 'ERR_CONNECT_TIMEOUT'));
    const stats = pool.stats();
    assert.equal(stats.connectFailed, 2);
    assert.equal(stats.connecting, 0);
    assert.equal(server.connections, 2);
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('bodyTimeout: a server that stops reading a streamed upload → BodyTimeoutError', async () => {
    // Accepts the connection, never reads: the socket's buffers fill and writes stop draining.
    const silent = createServer((socket) => socket.pause());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const clock = new FakeClock();
    const pool = new ConnectionPool(`http://127.0.0.1:${port}`, { bodyTimeout: 100, clock });
    const chunk = new Uint8Array(1024 * 1024);
    async function* endless() {
      for (let i = 0; i < 1000; i++) yield chunk;
    }
    const pending = pool.request({ method: 'PUT', body: endless() });
    await advanceUntilSettled(clock, 100, pending);
    await assert.rejects(
      pending,
      (error: unknown) =>
        typed(BodyTimeoutError, 'ERR_BODY_TIMEOUT')(error) &&
        (error as BodyTimeoutError).direction === 'request',
    );
    assert.equal(pool.stats().open, 0);
    await pool.close();
    silent.close();
  });

  test('headersTimeout: a server that never answers → HeadersTimeoutError', async () => {
    const server = await startRawServer(() => {});
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { headersTimeout: 50, clock });
    const pending = pool.request({});
    await eventually(() => server.requests === 1, 1000, 'the request to arrive');
    let settled = false;
    pending
      .catch(() => {})
      .finally(() => {
        settled = true;
      });
    clock.advance(49);
    await sleep(10);
    assert.equal(settled, false, 'timed out early');
    clock.advance(1);
    await assert.rejects(pending, typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'));
    assert.equal(server.requests, 1);
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('headersTimeout: half a head, then silence → HeadersTimeoutError', async () => {
    let written = false;
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-partial: ', () => {
        written = true;
      });
    });
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { headersTimeout: 50, clock });
    const pending = pool.request({});
    await eventually(() => written, 1000, 'half a head to be sent');
    await sleep(10); // for it to be read
    clock.advance(50);
    await assert.rejects(pending, typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'));
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('headersTimeout: a head trickled a byte at a time does not keep the timer alive', async () => {
    let trickled = 0;
    const server = await startRawServer((socket) => {
      const timer = setInterval(() => {
        if (socket.destroyed) clearInterval(timer);
        else socket.write('x', () => trickled++);
      }, 5);
      socket.write('HTTP/1.1 200 OK\r\nx-slow: ');
      socket.on('close', () => clearInterval(timer));
    });
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { headersTimeout: 60, clock });
    const pending = pool.request({});
    // Each byte comes 20 fake ms after the last: a timer each one refreshed would never fire.
    for (let step = 0; step < 3; step++) {
      const before = trickled;
      await eventually(() => trickled > before + 1, 1000, 'more bytes of the head');
      clock.advance(20);
    }
    await assert.rejects(pending, typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'));
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('headersTimeout per request overrides the pool option, both ways', async () => {
    // The server answers when the test says so, after the fake time it wants to pass.
    const held: Array<() => void> = [];
    const server = await startRawServer((socket) => {
      held.push(() => {
        if (!socket.destroyed) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      });
    });
    const clock = new FakeClock();
    const arrived = (count: number) => () => server.requests === count;
    // Pool allows a long wait, the request a short one.
    const patient = new ConnectionPool(server.origin, { headersTimeout: 10_000, clock });
    const short = patient.request({ path: '/', headersTimeout: 40 });
    await eventually(arrived(1), 1000, 'the first request');
    clock.advance(40);
    await assert.rejects(short, typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'));
    await assertCleanedUp(patient, server.open);
    await patient.close();
    // Pool allows a short wait, the request a longer one.
    const impatient = new ConnectionPool(server.origin, { headersTimeout: 20, clock });
    const long = impatient.request({ path: '/', headersTimeout: 2000 });
    await eventually(arrived(2), 1000, 'the second request');
    clock.advance(1999);
    held.pop()!();
    const res = await long;
    assert.equal(await res.text(), 'ok');
    const defaulted = impatient.request({ path: '/' });
    await eventually(arrived(3), 1000, 'the third request');
    clock.advance(20);
    await assert.rejects(defaulted, typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'));
    await assertCleanedUp(impatient, server.open);
    await impatient.close();
    await server.close();
  });

  test('bodyTimeout: the head arrives, then the body stalls → reading rejects with BodyTimeoutError', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nsome of it');
    });
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { bodyTimeout: 50, headersTimeout: 50, clock });
    const res = await pool.request({});
    assert.equal(res.status, 200);
    const text = res.text();
    clock.advance(50);
    await assert.rejects(text, typed(BodyTimeoutError, 'ERR_BODY_TIMEOUT'));
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('bodyTimeout per request, and on a chunked body that stops between chunks', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n');
    });
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { clock });
    const res = await pool.request({ bodyTimeout: 40 });
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const chunk of res.body) chunks.push(Buffer.from(chunk).toString());
    })();
    await eventually(() => chunks.length === 1, 1000, 'the first chunk');
    clock.advance(40);
    await assert.rejects(reading, typed(BodyTimeoutError, 'ERR_BODY_TIMEOUT'));
    assert.deepEqual(chunks, ['abc']);
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('a slow reader is not a slow server: backpressure pauses the body timer', async () => {
    const size = 4 * 1024 * 1024;
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': size });
      res.end(Buffer.alloc(size, 'y'));
    });
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { bodyTimeout: 40, clock });
    const res = await pool.request({});
    let received = 0;
    let naps = 0;
    for await (const chunk of res.body) {
      received += chunk.byteLength;
      // Nap well past bodyTimeout a few times, once the server has sent all it can.
      if (naps < 3 && received > naps * 512 * 1024) {
        naps++;
        await sleep(50);
        clock.advance(120);
      }
    }
    assert.equal(received, size);
    assert.equal(naps, 3);
    await eventually(() => pool.stats().leased === 0, 1000, 'lease returned');
    // Fully read: the connection is reused.
    const again = await pool.request({});
    await again.dump();
    assert.equal(pool.stats().created, 1);
    await pool.close();
    await server.close();
  });

  test('a slow reader of a body that has fully arrived gets no timeout either', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
    });
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { bodyTimeout: 30, clock });
    const res = await pool.request({});
    clock.advance(100);
    assert.equal(await res.text(), 'hello');
    await pool.close();
    await server.close();
  });
});
