import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
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
    const pool = new ConnectionPool(`http://127.0.0.1:${port}`, { bodyTimeout: 100 });
    const chunk = new Uint8Array(1024 * 1024);
    async function* endless() {
      for (let i = 0; i < 1000; i++) yield chunk;
    }
    await assert.rejects(
      pool.request({ method: 'PUT', body: endless() }),
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
    const pool = new ConnectionPool(server.origin, { headersTimeout: 50 });
    await assert.rejects(pool.request({}), typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'));
    assert.equal(server.requests, 1);
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('headersTimeout: half a head, then silence → HeadersTimeoutError', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-partial: ');
    });
    const pool = new ConnectionPool(server.origin, { headersTimeout: 50 });
    await assert.rejects(pool.request({}), typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'));
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('headersTimeout: a head trickled a byte at a time does not keep the timer alive', async () => {
    const server = await startRawServer((socket) => {
      const timer = setInterval(() => {
        if (socket.destroyed) clearInterval(timer);
        else socket.write('x');
      }, 5);
      socket.write('HTTP/1.1 200 OK\r\nx-slow: ');
      socket.on('close', () => clearInterval(timer));
    });
    const pool = new ConnectionPool(server.origin, { headersTimeout: 60 });
    await assert.rejects(pool.request({}), typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'));
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('headersTimeout per request overrides the pool option, both ways', async () => {
    const server = await startRawServer((socket, head) => {
      const delay = Number(/\/(\d+)/.exec(head)?.[1] ?? 0);
      setTimeout(() => {
        if (!socket.destroyed) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }, delay);
    });
    // Pool allows a long wait, the request a short one.
    const patient = new ConnectionPool(server.origin, { headersTimeout: 10_000 });
    await assert.rejects(
      patient.request({ path: '/1000', headersTimeout: 40 }),
      typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'),
    );
    await assertCleanedUp(patient, server.open);
    await patient.close();
    // Pool allows a short wait, the request a longer one.
    const impatient = new ConnectionPool(server.origin, { headersTimeout: 20 });
    const res = await impatient.request({ path: '/80', headersTimeout: 2000 });
    assert.equal(await res.text(), 'ok');
    await assert.rejects(
      impatient.request({ path: '/1000' }),
      typed(HeadersTimeoutError, 'ERR_HEADERS_TIMEOUT'),
    );
    await assertCleanedUp(impatient, server.open);
    await impatient.close();
    await server.close();
  });

  test('bodyTimeout: the head arrives, then the body stalls → reading rejects with BodyTimeoutError', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nsome of it');
    });
    const pool = new ConnectionPool(server.origin, { bodyTimeout: 50, headersTimeout: 50 });
    const res = await pool.request({});
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), typed(BodyTimeoutError, 'ERR_BODY_TIMEOUT'));
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('bodyTimeout per request, and on a chunked body that stops between chunks', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n');
    });
    const pool = new ConnectionPool(server.origin);
    const res = await pool.request({ bodyTimeout: 40 });
    const chunks: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of res.body) chunks.push(Buffer.from(chunk).toString());
      })(),
      typed(BodyTimeoutError, 'ERR_BODY_TIMEOUT'),
    );
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
    const pool = new ConnectionPool(server.origin, { bodyTimeout: 40 });
    const res = await pool.request({});
    let received = 0;
    let naps = 0;
    for await (const chunk of res.body) {
      received += chunk.byteLength;
      // Sleep well past bodyTimeout a few times while the server has sent all it can.
      if (naps < 3 && received > naps * 512 * 1024) {
        naps++;
        await sleep(120);
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
    const pool = new ConnectionPool(server.origin, { bodyTimeout: 30 });
    const res = await pool.request({});
    await sleep(100);
    assert.equal(await res.text(), 'hello');
    await pool.close();
    await server.close();
  });
});
