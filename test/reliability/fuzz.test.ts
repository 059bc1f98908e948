/**
 * fast-check drives the whole client (pool, connection, parser, body) against a server
 * that answers with random bytes, or with valid responses split at random points and
 * closed at random moments. Whatever it sends: only httpool's typed errors surface, every
 * request settles within its timeouts, and no lease or socket is left behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ConnectionPool, isHttpoolError } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';

/** What the server does with the next request. */
type Script = { chunks: Uint8Array[]; gapMs: number; close: 'end' | 'reset' | 'keep' };

let script: Script = { chunks: [], gapMs: 0, close: 'end' };
let server: FaultServer | undefined;
let origin = '';

before(async () => {
  // The bytes go out as they are, each piece after a gap, then the connection ends as told.
  server = await FaultServer.start({
    handler: () => ({
      raw: script.chunks.map((data) => ({ data, delay: script.gapMs })),
      fault:
        script.close === 'end' ? 'idle-close' : script.close === 'reset' ? 'idle-reset' : undefined,
      after: 0,
    }),
  });
  origin = server.origin;
});
after(() => server?.close());

/** Splits `bytes` at the given cut points. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const point of points) {
    if (point > last) out.push(bytes.subarray(last, point));
    last = point;
  }
  if (last < bytes.length) out.push(bytes.subarray(last));
  return out;
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/);
const validResponse = fc
  .record({
    // 204 and 304 carry no body whatever their headers say (RFC 9112 §6.3): not a fair test here.
    status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
    headers: fc.array(fc.tuple(token, fc.stringMatching(/^[ -~]{0,20}$/)), { maxLength: 5 }),
    body: fc.uint8Array({ maxLength: 3000 }),
    chunked: fc.boolean(),
    chunkSize: fc.integer({ min: 1, max: 700 }),
  })
  .map(({ status, headers, body, chunked, chunkSize }) => {
    const fields = headers
      .filter(([name]) => !/^(content-length|transfer-encoding|connection)$/i.test(name))
      .map(([name, value]) => `${name}: ${value.trim()}\r\n`)
      .join('');
    let framed: Buffer;
    if (chunked) {
      const parts: Buffer[] = [];
      for (let i = 0; i < body.length; i += chunkSize) {
        const piece = body.subarray(i, i + chunkSize);
        parts.push(
          Buffer.from(`${piece.length.toString(16)}\r\n`),
          Buffer.from(piece),
          Buffer.from('\r\n'),
        );
      }
      parts.push(Buffer.from('0\r\n\r\n'));
      framed = Buffer.concat([
        Buffer.from(`HTTP/1.1 ${status} X\r\n${fields}transfer-encoding: chunked\r\n\r\n`),
        ...parts,
      ]);
    } else {
      framed = Buffer.concat([
        Buffer.from(`HTTP/1.1 ${status} X\r\n${fields}content-length: ${body.length}\r\n\r\n`),
        Buffer.from(body),
      ]);
    }
    return { bytes: new Uint8Array(framed), body };
  });

async function exchange(pool: ConnectionPool): Promise<{ body?: Uint8Array; error?: unknown }> {
  try {
    const res = await pool.request({ path: '/' });
    return { body: await res.bytes() };
  } catch (error) {
    return { error };
  }
}

function assertClean(pool: ConnectionPool): void {
  const stats = pool.stats();
  assert.equal(stats.leased, 0, 'lease left behind');
  assert.equal(stats.waiting, 0, 'waiter left behind');
}

describe('fuzzing the client from the server side', () => {
  test('random bytes from the server only ever produce typed errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.constantFrom<Script['close']>('end', 'reset', 'keep'),
        async (bytes, cuts, close) => {
          script = { chunks: split(bytes, cuts), gapMs: 1, close };
          const pool = new ConnectionPool(origin, { headersTimeout: 150, bodyTimeout: 150 });
          const result = await exchange(pool);
          if (result.error !== undefined) {
            assert.ok(isHttpoolError(result.error), `untyped: ${String(result.error)}`);
          }
          assertClean(pool);
          await pool.destroy();
          assert.equal(pool.stats().open, 0);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('a valid response split anywhere arrives intact; closed early it fails with a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(
        validResponse,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.constantFrom<Script['close']>('end', 'reset', 'keep'),
        async ({ bytes, body }, cuts, cutAt, close) => {
          // Optionally cut the response short, as a server that dies mid-answer would.
          const sent = cutAt === undefined ? bytes : bytes.subarray(0, cutAt % (bytes.length + 1));
          script = { chunks: split(sent, cuts), gapMs: 1, close };
          const pool = new ConnectionPool(origin, { headersTimeout: 300, bodyTimeout: 300 });
          const result = await exchange(pool);
          const complete = sent.length === bytes.length;
          if (result.error !== undefined) {
            assert.ok(isHttpoolError(result.error), `untyped: ${String(result.error)}`);
            // A whole response may only fail if the server reset the connection under it.
            if (complete) assert.equal(close, 'reset', `failed: ${String(result.error)}`);
          } else {
            // Never a short success: what arrived is the whole body, byte for byte.
            assert.deepEqual(Buffer.from(result.body!), Buffer.from(body));
          }
          assertClean(pool);
          await pool.destroy();
        },
      ),
      { numRuns: 100 },
    );
  });
});
