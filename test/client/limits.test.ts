import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ConnectionPool,
  type HttpResponse,
  ResponseError,
  ResponseLimitError,
} from '../../src/index.js';
import { eventually, startRawServer } from '../helpers/servers.js';

const ok = (body: string) =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

const limitError = (limit: string, value?: number) => (error: unknown) => {
  assert.ok(error instanceof ResponseLimitError, `expected ResponseLimitError, got ${error}`);
  assert.equal(error.code, 'ERR_RESPONSE_LIMIT');
  assert.equal(error.limit, limit);
  if (value !== undefined) assert.equal(error.value, value);
  return true;
};

const invalidResponse = (error: unknown) => {
  assert.ok(error instanceof ResponseError, `expected ResponseError, got ${error}`);
  assert.equal(error.code, 'ERR_INVALID_RESPONSE');
  return true;
};

/**
 * A server that answers `/bad` with `bad` (the bytes under test) and anything else with a
 * normal response. Runs `failing` against a pool, then checks the pool recovered: the bad
 * connection was closed (server side too), nothing is leased, and the next request works on a
 * new connection.
 */
async function afterFailure(
  bad: string,
  failing: (pool: ConnectionPool) => Promise<void>,
  limits: ConstructorParameters<typeof ConnectionPool>[1] = {},
): Promise<void> {
  const server = await startRawServer((socket, head) => {
    if (head.startsWith('GET /bad ')) socket.write(bad);
    else socket.write(ok('fine'));
  });
  const pool = new ConnectionPool(server.origin, { maxSize: 1, ...limits });
  // Warm a connection first so we can tell the bad one is not put back.
  assert.equal(await (await pool.request({ path: '/warm' })).text(), 'fine');
  await failing(pool);
  const stats = pool.stats();
  assert.equal(stats.leased, 0, 'no lease left');
  assert.equal(stats.open, 0, 'the connection was closed');
  await eventually(() => server.open.size === 0, 1000, 'the server to see the close');
  assert.equal(stats.replayed, 0, 'a bad response is never replayed');
  assert.equal(await (await pool.request({ path: '/next' })).text(), 'fine');
  assert.equal(server.connections, 2, 'the next request used a new connection');
  await pool.close();
  await server.close();
}

describe('response limits and malformed responses through the pool', () => {
  test('a head over maxHeaderSize → ResponseLimitError maxHeaderSize', async () => {
    const head = `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(3000)}\r\ncontent-length: 0\r\n\r\n`;
    await afterFailure(
      head,
      (pool) => assert.rejects(pool.request({ path: '/bad' }), limitError('maxHeaderSize', 2048)),
      { limits: { maxHeaderSize: 2048 } },
    );
  });

  test('a head that never ends stops at the default maxHeaderSize (16 KiB)', async () => {
    // 1 MB of one header line that never ends: refused at 16 KiB, not buffered.
    const endless = `HTTP/1.1 200 OK\r\nx-filler: ${'a'.repeat(1024 * 1024)}`;
    await afterFailure(endless, (pool) =>
      assert.rejects(pool.request({ path: '/bad' }), limitError('maxHeaderSize', 16384)),
    );
  });

  test('too many header fields → ResponseLimitError maxHeaderCount', async () => {
    const many = `HTTP/1.1 200 OK\r\n${'x-h: 1\r\n'.repeat(20)}content-length: 0\r\n\r\n`;
    await afterFailure(
      many,
      (pool) => assert.rejects(pool.request({ path: '/bad' }), limitError('maxHeaderCount', 10)),
      { limits: { maxHeaderCount: 10 } },
    );
  });

  test('a Content-Length over maxResponseSize is refused at the head', async () => {
    await afterFailure(
      ok('x'.repeat(200)),
      (pool) => assert.rejects(pool.request({ path: '/bad' }), limitError('maxResponseSize', 100)),
      { limits: { maxResponseSize: 100 } },
    );
  });

  test('a chunked body growing past maxResponseSize errors the body', async () => {
    const chunk = `64\r\n${'y'.repeat(100)}\r\n`;
    const chunked = `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${chunk.repeat(3)}`;
    await afterFailure(
      chunked,
      async (pool) => {
        const res: HttpResponse = await pool.request({ path: '/bad' });
        assert.equal(res.status, 200);
        await assert.rejects(res.text(), limitError('maxResponseSize', 250));
      },
      { limits: { maxResponseSize: 250 } },
    );
  });

  test('a close-delimited body past maxResponseSize errors the body', async () => {
    await afterFailure(
      `HTTP/1.1 200 OK\r\n\r\n${'z'.repeat(500)}`,
      async (pool) => {
        const res = await pool.request({ path: '/bad' });
        await assert.rejects(res.text(), limitError('maxResponseSize', 100));
      },
      { limits: { maxResponseSize: 100 } },
    );
  });

  for (const [name, bytes] of [
    ['a garbage status line', 'HTTP/1.1 OK\r\n\r\n'],
    ['not HTTP at all', 'SSH-2.0-OpenSSH_9.6\r\n\r\n'],
    [
      'Content-Length and Transfer-Encoding together',
      'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'two different Content-Lengths',
      'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd',
    ],
    [
      'a header line without a colon',
      'HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 0\r\n\r\n',
    ],
  ] as const) {
    test(`a malformed response (${name}) → ResponseError`, async () => {
      await afterFailure(bytes, (pool) =>
        assert.rejects(pool.request({ path: '/bad' }), invalidResponse),
      );
    });
  }

  test('a malformed chunk size in the body errors the body with ResponseError', async () => {
    await afterFailure(
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n',
      async (pool) => {
        const res = await pool.request({ path: '/bad' });
        await assert.rejects(res.text(), invalidResponse);
      },
    );
  });
});
