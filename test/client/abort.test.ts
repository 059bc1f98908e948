import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { AbortError, ConnectionPool } from '../../src/index.js';
import { eventually, sleep, startRawServer } from '../helpers/servers.js';

const ok = (body: string) =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** A server that reads and counts every byte it receives and never answers. */
async function startSilentServer(): Promise<{
  port: number;
  open: Set<Socket>;
  received: () => number;
  close: () => Promise<void>;
}> {
  let bytes = 0;
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => open.delete(socket));
    socket.on('data', (chunk) => {
      bytes += chunk.byteLength;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    open,
    received: () => bytes,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The promise rejects with exactly `reason`. */
const withReason = (reason: unknown) => (error: unknown) => {
  assert.equal(error, reason);
  return true;
};

describe('aborting a request through its signal', () => {
  test('while queued for a connection: rejects with the reason, never sent', async () => {
    const server = await startRawServer((socket, head) => {
      if (head.includes('/hold')) setTimeout(() => socket.write(ok('held')), 80);
      else socket.write(ok('other'));
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const holding = pool.request({ path: '/hold' });
    const controller = new AbortController();
    const queued = pool.request({ path: '/queued', signal: controller.signal });
    await eventually(() => pool.stats().waiting === 1, 1000, 'the second request to queue');
    const reason = new Error('queued request abandoned');
    controller.abort(reason);
    await assert.rejects(queued, withReason(reason));
    assert.equal(pool.stats().waiting, 0);
    assert.equal(await (await holding).text(), 'held');
    // Nothing but /hold ever reached the server, and the connection is fine.
    const after = await pool.request({ path: '/after' });
    assert.equal(await after.text(), 'other');
    assert.equal(server.requests, 2);
    assert.equal(server.connections, 1);
    await pool.close();
    await server.close();
  });

  test('an already-aborted signal: rejects at once, no lease, nothing opened', async () => {
    const server = await startRawServer((socket) => socket.write(ok('x')));
    const pool = new ConnectionPool(server.origin);
    const reason = new Error('too late');
    await assert.rejects(pool.request({ signal: AbortSignal.abort(reason) }), withReason(reason));
    // A non-Error reason becomes an AbortError carrying it.
    await assert.rejects(pool.request({ signal: AbortSignal.abort('nope') }), (error: unknown) => {
      assert.ok(error instanceof AbortError);
      assert.equal(error.code, 'ABORT_ERR');
      assert.equal(error.cause, 'nope');
      return true;
    });
    assert.equal(pool.stats().open, 0);
    assert.equal(server.connections, 0);
    await pool.close();
    await server.close();
  });

  test('while connecting (TLS handshake stalls): rejects with the reason, no lease left', async () => {
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(`https://127.0.0.1:${server.port}`, { connectTimeout: 100 });
    const controller = new AbortController();
    const pending = pool.request({ signal: controller.signal });
    await eventually(() => server.connections === 1, 1000, 'the TCP connection');
    assert.equal(pool.stats().connecting, 1);
    const reason = new Error('stop connecting');
    controller.abort(reason);
    await assert.rejects(pending, withReason(reason));
    assert.equal(pool.stats().leased, 0);
    // The handshake in progress is bounded by connectTimeout and then closed.
    await eventually(() => pool.stats().open === 0, 2000, 'the connect attempt to end');
    await eventually(() => server.open.size === 0, 1000, 'the server to see the close');
    assert.equal(server.requests, 0);
    await pool.close();
    await server.close();
  });

  test('while writing a streaming body: rejects, closes, sends nothing more', async () => {
    const server = await startSilentServer();
    const pool = new ConnectionPool(`http://127.0.0.1:${server.port}`);
    const controller = new AbortController();
    let yielded = 0;
    let finished = false;
    async function* upload() {
      try {
        yield 'first part ';
        yielded++;
        await sleep(30);
        yield 'second part ';
        yielded++;
        // Then never finishes (until the generator is closed or the test ends).
        await new Promise((resolve) => setTimeout(resolve, 300));
        yield 'late part that must never be sent';
        yielded++;
      } finally {
        finished = true;
      }
    }
    const pending = pool.request({ method: 'POST', body: upload(), signal: controller.signal });
    await eventually(() => yielded >= 2, 1000, 'two parts sent');
    await eventually(() => server.received() > 0, 1000, 'bytes at the server');
    const reason = new Error('upload cancelled');
    controller.abort(reason);
    await assert.rejects(pending, withReason(reason));
    assert.equal(pool.stats().leased, 0);
    await eventually(() => server.open.size === 0, 1000, 'the server to see the close');
    const received = server.received();
    // Let the generator yield its late part: it must not be written anywhere.
    await eventually(() => finished, 2000, 'the generator to finish');
    await sleep(10);
    assert.equal(server.received(), received);
    assert.equal(pool.stats().open, 0);
    await pool.close();
    await server.close();
  });

  test('while waiting for the response head: rejects, closes the connection', async () => {
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(server.origin);
    const controller = new AbortController();
    const pending = pool.request({ path: '/wait', signal: controller.signal });
    await eventually(() => server.requests === 1, 1000, 'the request at the server');
    const reason = new Error('no more waiting');
    controller.abort(reason);
    await assert.rejects(pending, withReason(reason));
    assert.equal(pool.stats().leased, 0);
    assert.equal(pool.stats().open, 0);
    await eventually(() => server.open.size === 0, 1000, 'the server to see the close');
    await pool.close();
    await server.close();
  });

  test('while reading the body: the body errors with the reason, connection closed', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nbeginning');
    });
    const pool = new ConnectionPool(server.origin);
    const controller = new AbortController();
    const res = await pool.request({ signal: controller.signal });
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(Buffer.from(first.value!).toString(), 'beginning');
    const next = iterator.next();
    const reason = new Error('stop reading');
    controller.abort(reason);
    await assert.rejects(next, withReason(reason));
    assert.equal(pool.stats().leased, 0);
    assert.equal(pool.stats().open, 0);
    await eventually(() => server.open.size === 0, 1000, 'the server to see the close');
    await pool.close();
    await server.close();
  });

  test('abort after the response completed changes nothing; the connection is reused', async () => {
    const server = await startRawServer((socket) => socket.write(ok('done')));
    const pool = new ConnectionPool(server.origin);
    const controller = new AbortController();
    const res = await pool.request({ signal: controller.signal });
    assert.equal(await res.text(), 'done');
    controller.abort(new Error('too late to matter'));
    const again = await pool.request({});
    assert.equal(await again.text(), 'done');
    assert.equal(server.connections, 1);
    await pool.close();
    await server.close();
  });

  test('a manual lease: abort closes the connection but the lease is still the caller’s', async () => {
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(server.origin);
    const conn = await pool.acquire();
    const controller = new AbortController();
    const pending = conn.request({ signal: controller.signal });
    await eventually(() => server.requests === 1, 1000, 'the request at the server');
    const reason = new Error('manual abort');
    controller.abort(reason);
    await assert.rejects(pending, withReason(reason));
    conn.release();
    assert.equal(pool.stats().leased, 0);
    assert.equal(pool.stats().open, 0);
    await pool.close();
    await server.close();
  });
});
