/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the body waits for the server's go-ahead, is not
 * sent at all when a final answer comes first, and goes anyway after a second of silence.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { ConnectionPool, InvalidArgumentError } from '../../src/index.js';

type Behaviour = 'continue' | 'refuse' | 'refuse-slowly' | 'silent';

/** The content of a complete chunked body, or undefined while its last chunk has not come. */
function dechunk(raw: string): string | undefined {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = Number.parseInt(raw.slice(at, eol), 16);
    if (size === 0) return raw.endsWith('\r\n\r\n') ? out : undefined;
    if (raw.length < eol + 2 + size + 2) return undefined;
    out += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** A raw server that records, per connection, what arrived before and after it answered. */
async function expectServer(behaviour: Behaviour) {
  const seen: Array<{ beforeAnswer: string; total: string; closed: boolean }> = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const record = { beforeAnswer: '', total: '', closed: false };
    seen.push(record);
    let answered = false;
    socket.on('close', () => {
      record.closed = true;
      sockets.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      record.total += chunk.toString('latin1');
      if (!answered) record.beforeAnswer = record.total;
      const end = record.total.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(record.total)?.[1] ?? -1);
      const raw = record.total.slice(end + 4);
      // A chunked body is complete at its last chunk; decoded here just enough for the test.
      const body = length >= 0 ? raw : dechunk(raw);
      if (!answered && behaviour === 'continue') {
        answered = true;
        socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      } else if (!answered && behaviour === 'refuse') {
        answered = true;
        socket.write('HTTP/1.1 413 Content Too Large\r\ncontent-length: 4\r\n\r\nnope');
      } else if (!answered && behaviour === 'refuse-slowly') {
        // The final answer's body takes longer than the client's continue timeout.
        answered = true;
        socket.write('HTTP/1.1 413 Content Too Large\r\ncontent-length: 4\r\n\r\nno');
        setTimeout(() => socket.write('pe'), 1500);
      }
      const refusing = behaviour === 'refuse' || behaviour === 'refuse-slowly';
      if (!refusing && body !== undefined && (length < 0 || body.length === length)) {
        answered = true;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        // The next request on this connection gets its own 100.
        record.total = '';
        answered = false;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    seen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const headers = { expect: '100-continue' };

describe('Expect: 100-continue', () => {
  const closers: Array<() => Promise<void>> = [];
  after(() => Promise.all(closers.map((close) => close())));

  test('the body waits for 100 Continue, then goes: bytes and streams alike', async () => {
    const server = await expectServer('continue');
    closers.push(server.close);
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    try {
      const started = Date.now();
      const res = await pool.request({ method: 'PUT', path: '/', headers, body: 'payload' });
      assert.equal(await res.text(), 'payload');
      assert.ok(Date.now() - started < 900, 'it waited for the timeout, not for 100');
      assert.ok(!server.seen[0]!.beforeAnswer.endsWith('payload'), 'the body came before 100');
      async function* parts() {
        yield 'stre';
        yield Buffer.from('amed');
      }
      const again = Date.now();
      const streamed = await pool.request({ method: 'PUT', path: '/', headers, body: parts() });
      assert.equal(await streamed.text(), 'streamed');
      assert.ok(Date.now() - again < 900, 'the streamed body waited for the timeout');
      assert.equal(server.seen.length, 1, 'the connection was reused');
    } finally {
      await pool.close();
    }
  });

  test('a final answer first: the body is never sent and the connection is closed', async () => {
    const server = await expectServer('refuse');
    closers.push(server.close);
    const pool = new ConnectionPool(server.origin);
    try {
      const res = await pool.request({ method: 'PUT', path: '/', headers, body: 'x'.repeat(5000) });
      assert.equal(res.status, 413);
      assert.equal(await res.text(), 'nope');
      await new Promise((resolve) => setTimeout(resolve, 1200)); // past the continue timeout
      assert.ok(!server.seen[0]!.total.includes('xxxx'), 'the body was sent anyway');
      assert.equal(server.seen[0]!.closed, true);
      assert.equal(pool.stats().open, 0);
    } finally {
      await pool.close();
    }
  });

  test('a server that says nothing gets the body after a second, bytes and streams alike', async () => {
    const server = await expectServer('silent');
    closers.push(server.close);
    const pool = new ConnectionPool(server.origin);
    try {
      for (const body of ['late', Readable.from([Buffer.from('la'), Buffer.from('te')])]) {
        const started = Date.now();
        const res = await pool.request({ method: 'POST', path: '/', headers, body });
        assert.equal(await res.text(), 'late');
        const waited = Date.now() - started;
        assert.ok(waited >= 900 && waited < 5000, `waited ${waited} ms`);
      }
    } finally {
      await pool.close();
    }
  });

  test('a final answer whose body outlasts the wait: the request body is still never sent', async () => {
    const server = await expectServer('refuse-slowly');
    closers.push(server.close);
    const pool = new ConnectionPool(server.origin);
    try {
      const res = await pool.request({ method: 'PUT', path: '/', headers, body: 'y'.repeat(3000) });
      assert.equal(res.status, 413);
      assert.equal(await res.text(), 'nope'); // its last bytes come after 1.5 s
      assert.ok(!server.seen[0]!.total.includes('yyyy'), 'the body was sent after the timeout');
    } finally {
      await pool.close();
    }
  });

  test('an abort while the body is held: rejected, the stream closed, nothing sent', async () => {
    const server = await expectServer('silent');
    closers.push(server.close);
    const pool = new ConnectionPool(server.origin);
    try {
      const stream = Readable.from(['never', 'sent']);
      const signal = AbortSignal.timeout(100);
      await assert.rejects(
        pool.request({ method: 'PUT', path: '/', headers, body: stream, signal }),
        (error: unknown) => error === signal.reason,
      );
      assert.equal(stream.destroyed, true);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.ok(!server.seen[0]!.total.includes('never'));
      // An empty body with Expect is refused: there is nothing to hold.
      await assert.rejects(
        pool.request({ method: 'PUT', path: '/', headers, body: '' }),
        InvalidArgumentError,
      );
    } finally {
      await pool.close();
    }
  });
});
