/**
 * Body bytes handed out by any API sit in memory that holds no other response's bytes: the
 * whole `.buffer` behind each Uint8Array (or the ArrayBuffer itself) is searched for the other
 * origin's fill byte. Two loopback origins answer the same shapes of response, each body made
 * of one byte value only, and requests to them are interleaved.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Agent, ConnectionPool } from '../../src/index.js';
import { sleep, startRawServer, type TestServer } from '../helpers/servers.js';

const FILL_A = 0xaa;
const FILL_B = 0xbb;

/** The response shapes, by path: how the body is framed and how it is split into writes. */
const SHAPES = [
  '/length-small',
  '/length-split',
  '/length-large',
  '/chunked',
  '/chunked-tiny',
  '/eof',
  '/gzip',
] as const;

/** Sizes of the chunks of `/chunked`, each sent in a write of its own. */
const CHUNKS = [1, 7, 300, 5000, 2, 20_000, 3];
const LARGE = 200 * 1024;

function bodyLength(path: string): number {
  switch (path) {
    case '/length-small':
      return 13;
    case '/length-split':
      return 3000;
    case '/length-large':
      return LARGE;
    case '/chunked':
      return CHUNKS.reduce((a, b) => a + b, 0);
    case '/chunked-tiny':
      return 500;
    case '/eof':
      return 700;
    default:
      return 40_000; // gzip, decoded
  }
}

/** Answers `path` with a body of `fill` bytes, split into writes as the shape says. */
async function answer(socket: Socket, path: string, fill: number): Promise<void> {
  const body = Buffer.alloc(bodyLength(path), fill);
  const lengthHead = (length: number, extra = '') =>
    `HTTP/1.1 200 OK\r\ncontent-length: ${length}\r\n${extra}\r\n`;
  switch (path) {
    case '/length-small':
    case '/length-large':
      socket.write(Buffer.concat([Buffer.from(lengthHead(body.length)), body]));
      return;
    case '/length-split':
      socket.write(Buffer.concat([Buffer.from(lengthHead(body.length)), body.subarray(0, 100)]));
      await sleep(5);
      socket.write(body.subarray(100));
      return;
    case '/chunked':
    case '/chunked-tiny': {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      const sizes = path === '/chunked' ? CHUNKS : new Array<number>(body.length).fill(1);
      let offset = 0;
      for (const [i, size] of sizes.entries()) {
        const chunk = body.subarray(offset, offset + size);
        offset += size;
        socket.write(Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), chunk, CRLF]));
        // Some chunks arrive in reads of their own, some together.
        if (i % 50 === 0) await sleep(2);
      }
      socket.write('0\r\n\r\n');
      return;
    }
    case '/eof':
      socket.write('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n');
      socket.write(body.subarray(0, 10));
      await sleep(2);
      socket.end(body.subarray(10));
      return;
    default: {
      const zipped = gzipSync(body);
      socket.write(lengthHead(zipped.length, 'content-encoding: gzip\r\n'));
      // In pieces, so the decoder emits small chunks too.
      for (let offset = 0; offset < zipped.length; offset += 16) {
        socket.write(zipped.subarray(offset, offset + 16));
        await sleep(1);
      }
    }
  }
}

const CRLF = Buffer.from('\r\n');

async function startFilled(fill: number): Promise<TestServer> {
  return startRawServer((socket, head) => {
    const path = head.split(' ')[1] ?? '/';
    void answer(socket, path, fill);
  });
}

/** What one origin's responses handed out: every array (or buffer) kept to be searched at the end. */
type Handed = Array<{ what: string; memory: ArrayBufferLike; other: number }>;

function keep(handed: Handed, what: string, bytes: Uint8Array | ArrayBuffer, own: number): void {
  const other = own === FILL_A ? FILL_B : FILL_A;
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  // The bytes themselves are the body: all of them the origin's own fill.
  assert.ok(
    view.every((byte) => byte === own),
    `${what}: the bytes are the body`,
  );
  handed.push({ what, memory: bytes instanceof ArrayBuffer ? bytes : bytes.buffer, other });
}

/** Searched once every request is done: memory written after a chunk was handed out counts too. */
function assertIsolated(handed: Handed): void {
  assert.ok(handed.length > 0);
  // One line per kind of read that leaked, with how often.
  const leaks = new Map<string, number>();
  for (const { what, memory, other } of handed) {
    if (new Uint8Array(memory).includes(other)) leaks.set(what, (leaks.get(what) ?? 0) + 1);
  }
  assert.deepEqual(
    [...leaks].map(([what, count]) => `${what}: ${count} reach the other origin's bytes`),
    [],
  );
}

describe('body bytes and the memory behind them', () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    a = await startFilled(FILL_A);
    b = await startFilled(FILL_B);
    // The fixtures' own check: the compressed bodies carry neither fill byte, so a fill byte
    // found in memory can only be body bytes.
    for (const fill of [FILL_A, FILL_B]) {
      const zipped = gzipSync(Buffer.alloc(bodyLength('/gzip'), fill));
      assert.equal(zipped.indexOf(FILL_A), -1);
      assert.equal(zipped.indexOf(FILL_B), -1);
    }
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  const origins = () => [
    { server: a, fill: FILL_A },
    { server: b, fill: FILL_B },
  ];

  test('pool.request(): iterated chunks, bytes() and arrayBuffer() of every shape', async () => {
    const pools = origins().map(({ server, fill }) => ({
      pool: new ConnectionPool(server.origin, { maxSize: 4 }),
      fill,
    }));
    const handed: Handed = [];
    try {
      for (const path of SHAPES) {
        if (path === '/gzip') continue; // request() does not decode
        for (const reader of ['chunks', 'bytes', 'arrayBuffer'] as const) {
          // Both origins at once, twice over, so their reads interleave.
          await Promise.all(
            [...pools, ...pools].map(async ({ pool, fill }) => {
              const res = await pool.request({ path });
              const what = `${path} ${reader}`;
              if (reader === 'chunks') {
                let length = 0;
                for await (const chunk of res.body) {
                  keep(handed, `${what} chunk`, chunk, fill);
                  length += chunk.byteLength;
                }
                assert.equal(length, bodyLength(path));
              } else if (reader === 'bytes') {
                const bytes = await res.bytes();
                assert.equal(bytes.byteLength, bodyLength(path));
                keep(handed, what, bytes, fill);
              } else {
                const buffer = await res.arrayBuffer();
                assert.equal(buffer.byteLength, bodyLength(path));
                keep(handed, what, buffer, fill);
              }
            }),
          );
        }
      }
      assertIsolated(handed);
    } finally {
      for (const { pool } of pools) await pool.destroy();
    }
  });

  test('agent.fetch(): stream chunks (decoded ones too), arrayBuffer() and bytes()', async () => {
    const agent = new Agent({ maxSize: 4 });
    const handed: Handed = [];
    try {
      for (const path of SHAPES) {
        for (const reader of ['stream', 'arrayBuffer', 'bytes'] as const) {
          const all = [...origins(), ...origins()];
          await Promise.all(
            all.map(async ({ server, fill }) => {
              const res = await agent.fetch(`${server.origin}${path}`);
              const what = `fetch ${path} ${reader}`;
              if (reader === 'stream') {
                let length = 0;
                for await (const chunk of res.body!) {
                  keep(handed, `${what} chunk`, chunk, fill);
                  length += chunk.byteLength;
                }
                assert.equal(length, bodyLength(path));
              } else if (reader === 'arrayBuffer') {
                const buffer = await res.arrayBuffer();
                assert.equal(buffer.byteLength, bodyLength(path));
                keep(handed, what, buffer, fill);
              } else {
                const bytes = await (res as Response & { bytes(): Promise<Uint8Array> }).bytes();
                assert.equal(bytes.byteLength, bodyLength(path));
                keep(handed, what, bytes, fill);
              }
            }),
          );
        }
      }
      assertIsolated(handed);
    } finally {
      await agent.destroy();
    }
  });
});
