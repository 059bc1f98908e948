/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the body waits for the server's go-ahead, is not
 * sent at all when a final answer comes first, and goes anyway after a second of silence.
 * Real sockets, fake time: each pool runs on a FakeClock, so "a second" is `clock.advance()`.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { ConnectionPool, InvalidArgumentError } from '../../src/index.js';
import { eventually, sleep } from '../helpers/servers.js';

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

/**
 * A raw server that records, per connection, what arrived before and after it answered.
 * `refuse-slowly` holds the last bytes of its answer until `finish()`.
 */
async function expectServer(behaviour: Behaviour) {
  const seen: Array<{ beforeAnswer: string; total: string; closed: boolean }> = [];
  const unfinished: Array<() => void> = [];
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
        unfinished.push(() => socket.write('pe'));
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
    /** Sends what `refuse-slowly` held back. */
    finish: () => {
      for (const send of unfinished.splice(0)) send();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const headers = { expect: '100-continue' };

/** True once the request head has arrived on the server's first connection. */
const headArrived = (seen: Array<{ total: string }>) => () =>
  seen[0]?.total.includes('\r\n\r\n') === true;

/** Real time for bytes in flight on loopback to land, before asserting they never came. */
const SETTLE_MS = 30;

describe('Expect: 100-continue', () => {
  const closers: Array<() => Promise<void>> = [];
  after(() => Promise.all(closers.map((close) => close())));

  test('the body waits for 100 Continue, then goes: bytes and streams alike', async () => {
    const server = await expectServer('continue');
    closers.push(server.close);
    // Time never moves: a body that waited for the timeout instead of 100 would never go.
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { maxSize: 1, clock });
    try {
      const res = await pool.request({ method: 'PUT', path: '/', headers, body: 'payload' });
      assert.equal(await res.text(), 'payload');
      assert.ok(!server.seen[0]!.beforeAnswer.endsWith('payload'), 'the body came before 100');
      async function* parts() {
        yield 'stre';
        yield Buffer.from('amed');
      }
      const streamed = await pool.request({ method: 'PUT', path: '/', headers, body: parts() });
      assert.equal(await streamed.text(), 'streamed');
      assert.equal(clock.now(), 0);
      assert.equal(server.seen.length, 1, 'the connection was reused');
    } finally {
      await pool.close();
    }
  });

  test('a final answer first: the body is never sent and the connection is closed', async () => {
    const server = await expectServer('refuse');
    closers.push(server.close);
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { clock });
    try {
      const res = await pool.request({ method: 'PUT', path: '/', headers, body: 'x'.repeat(5000) });
      assert.equal(res.status, 413);
      assert.equal(await res.text(), 'nope');
      clock.advance(1200); // past the continue timeout
      await eventually(() => server.seen[0]!.closed, 1000, 'the connection to close');
      await sleep(SETTLE_MS);
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
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { clock });
    try {
      for (const body of ['late', Readable.from([Buffer.from('la'), Buffer.from('te')])]) {
        const pending = pool.request({ method: 'POST', path: '/', headers, body });
        await eventually(headArrived(server.seen), 1000, 'the request head');
        clock.advance(999);
        await sleep(SETTLE_MS);
        assert.ok(!server.seen[0]!.total.includes('late'), 'the body went before the second');
        clock.advance(1);
        const res = await pending;
        assert.equal(await res.text(), 'late');
      }
    } finally {
      await pool.close();
    }
  });

  test('a final answer whose body outlasts the wait: the request body is still never sent', async () => {
    const server = await expectServer('refuse-slowly');
    closers.push(server.close);
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { clock });
    try {
      const res = await pool.request({ method: 'PUT', path: '/', headers, body: 'y'.repeat(3000) });
      assert.equal(res.status, 413);
      const text = res.text();
      clock.advance(1500); // past the continue timeout, the answer's body still unfinished
      await sleep(SETTLE_MS);
      server.finish();
      assert.equal(await text, 'nope');
      await sleep(SETTLE_MS);
      assert.ok(!server.seen[0]!.total.includes('yyyy'), 'the body was sent after the timeout');
    } finally {
      await pool.close();
    }
  });

  test('an abort while the body is held: rejected, the stream closed, nothing sent', async () => {
    const server = await expectServer('silent');
    closers.push(server.close);
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { clock });
    try {
      const stream = Readable.from(['never', 'sent']);
      const controller = new AbortController();
      const { signal } = controller;
      const pending = pool.request({ method: 'PUT', path: '/', headers, body: stream, signal });
      await eventually(headArrived(server.seen), 1000, 'the request head');
      controller.abort(new Error('given up'));
      await assert.rejects(pending, (error: unknown) => error === signal.reason);
      assert.equal(stream.destroyed, true);
      clock.advance(1100); // past the continue timeout
      await sleep(SETTLE_MS);
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
