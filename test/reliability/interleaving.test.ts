/**
 * Many connections share one read buffer (src/http1/shared-read.ts), so a body byte kept by
 * mistake as a view of it would be overwritten by the next read of any socket. fast-check
 * sends concurrent requests whose bodies differ byte for byte, framed by length or chunked,
 * written in random pieces with random pauses, and read in random ways at random moments:
 * every body must arrive exactly as sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ConnectionPool } from '../../src/index.js';
import { prng } from '../helpers/random.js';
import { sleep, startRawServer, type TestServer } from '../helpers/servers.js';

/** The body the server sends for request `id`: `size` bytes that no other request shares. */
function bodyFor(id: number, size: number): Buffer {
  const next = prng(id * 7919 + size);
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}

/** How the server answers one request, all chosen by fast-check. */
interface Plan {
  size: number;
  chunked: boolean;
  /** Cut points (taken modulo the response length) where a write ends. */
  cuts: number[];
  /** ms between writes. */
  gapMs: number;
  /** How the client reads the body, and how long it waits before it starts. */
  read: 'arrayBuffer' | 'bytes' | 'text' | 'iterate';
  delayMs: number;
}

const plan: fc.Arbitrary<Plan> = fc.record({
  size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 96 * 1024 })),
  chunked: fc.boolean(),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  gapMs: fc.integer({ min: 0, max: 3 }),
  read: fc.constantFrom('arrayBuffer', 'bytes', 'text', 'iterate'),
  delayMs: fc.integer({ min: 0, max: 10 }),
});

/** The response's bytes: head and body, the body framed by length or in chunks of up to 5,000. */
function responseFor(id: number, p: Plan): Buffer {
  const body = bodyFor(id, p.size);
  if (!p.chunked) {
    return Buffer.concat([
      Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${p.size}\r\n\r\n`),
      body,
    ]);
  }
  const parts: Buffer[] = [Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n')];
  for (let at = 0; at < body.length; at += 5000) {
    const piece = body.subarray(at, at + 5000);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('concurrent bodies through the shared read buffer', () => {
  let server: TestServer;
  /** Plans by request id, set by each property run before it sends. */
  let plans: Plan[] = [];
  before(async () => {
    server = await startRawServer(async (socket, head) => {
      const id = Number(/^GET \/(\d+)/.exec(head)?.[1]);
      const p = plans[id]!;
      const bytes = responseFor(id, p);
      const points = [...new Set(p.cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      let last = 0;
      for (const point of [...points, bytes.length]) {
        if (point <= last) continue;
        if (socket.destroyed) return;
        socket.write(bytes.subarray(last, point));
        last = point;
        if (p.gapMs > 0) await sleep(p.gapMs);
      }
    });
  });
  after(() => server.close());

  test('every body arrives byte for byte, however the writes and reads interleave', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(plan, { minLength: 2, maxLength: 16 }),
        fc.integer({ min: 1, max: 6 }),
        async (drawn, maxSize) => {
          plans = drawn;
          const pool = new ConnectionPool(server.origin, { maxSize, headersTimeout: 5000 });
          try {
            const results = await Promise.all(
              drawn.map(async (p, id) => {
                const res = await pool.request({ path: `/${id}` });
                if (p.delayMs > 0) await sleep(p.delayMs);
                let got: Buffer;
                if (p.read === 'arrayBuffer') got = Buffer.from(await res.arrayBuffer());
                else if (p.read === 'bytes') got = Buffer.from(await res.bytes());
                else if (p.read === 'text') got = Buffer.from(await res.text(), 'utf8');
                else {
                  const parts: Buffer[] = [];
                  for await (const chunk of res.body) parts.push(Buffer.from(chunk));
                  got = Buffer.concat(parts);
                }
                return { id, got };
              }),
            );
            for (const { id, got } of results) {
              const p = drawn[id]!;
              const sent = bodyFor(id, p.size);
              // text() decodes UTF-8: compare it against the same decoding of what was sent.
              const want = p.read === 'text' ? Buffer.from(sent.toString('utf8'), 'utf8') : sent;
              assert.ok(
                got.equals(want),
                `request ${id} (${JSON.stringify({ ...p, cuts: p.cuts.length })}) got other bytes`,
              );
            }
            assert.equal(pool.stats().leased, 0);
          } finally {
            await pool.destroy();
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
