/**
 * Memory per chunk: bodies sent as one-byte chunks, read whole or left unread, must take memory
 * near their size, not a Buffer per chunk. The client runs in a child process with --expose-gc,
 * so its figures are its own: live memory (heap used plus ArrayBuffers, after full
 * collections). The server is this process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRawServer, type TestServer } from '../helpers/servers.js';

const CLIENT = fileURLToPath(new URL('../helpers/body-memory-client.js', import.meta.url));
const MiB = 1024 * 1024;
/** Memory a read may take beyond twice its body's bytes: slabs partly filled, code, noise. */
const ALLOWANCE = 2 * MiB;

/** `1\r\nx\r\n` many times: one write's worth of one-byte chunks. */
const CHUNK = Buffer.from('1\r\nx\r\n');
const PER_WRITE = 10_000;
const WRITE = Buffer.concat(new Array<Buffer>(PER_WRITE).fill(CHUNK));
const WRITE_PAUSE_MS = 5;

/**
 * Sends `count` one-byte chunks, minding backpressure, then the last chunk. A pause between
 * writes spreads the body over half a second or more, so the client's memory sampler gets its
 * turns however busy the machine is (a fast read left it two samples under load).
 */
async function sendOnes(socket: Socket, count: number): Promise<void> {
  socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
  for (let sent = 0; sent < count && !socket.destroyed; ) {
    if (sent > 0) await new Promise((resolve) => setTimeout(resolve, WRITE_PAUSE_MS));
    const n = Math.min(PER_WRITE, count - sent);
    sent += n;
    const flushed = socket.write(n === PER_WRITE ? WRITE : WRITE.subarray(0, n * CHUNK.length));
    if (!flushed) {
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  }
  socket.write('0\r\n\r\n');
}

interface Figures {
  baseline: number;
  peak?: number;
  final: number;
  samples?: number;
  bodyBytes: number;
}

async function runClient(origin: string, options: object): Promise<Figures> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', CLIENT, JSON.stringify({ origin, ...options })],
    { timeout: 120_000, maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as Figures;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;

describe('memory per body chunk', () => {
  let server: TestServer;
  before(async () => {
    server = await startRawServer((socket, head) => {
      const n = Number(/[?&]n=(\d+)/.exec(head)?.[1] ?? 0);
      void sendOnes(socket, n);
    });
  });
  after(() => server.close());

  for (const mode of ['text', 'bytes'] as const) {
    test(`${mode}() of a million one-byte chunks stays within twice the body`, async () => {
      const chunks = 1_000_000;
      const figures = await runClient(server.origin, { mode, chunks });
      assert.equal(figures.bodyBytes, chunks);
      // Collections ran while the body was being read, not only before or after it.
      assert.ok(figures.samples! >= 3, `only ${figures.samples} samples were taken`);
      const peak = figures.peak! - figures.baseline;
      const held = figures.final - figures.baseline;
      const bound = 2 * chunks + ALLOWANCE;
      assert.ok(peak <= bound, `reading took ${mib(peak)} for a ${mib(chunks)} body`);
      assert.ok(held <= bound, `the result holds ${mib(held)} for a ${mib(chunks)} body`);
    });
  }

  test('bodies of one-byte chunks left unread stay within twice their bytes', async () => {
    // Under the 64 KiB high-water mark, so each body arrives whole and sits in its queue.
    const chunks = 60_000;
    const responses = 16;
    const figures = await runClient(server.origin, { mode: 'unread', chunks, responses });
    assert.equal(figures.bodyBytes, chunks * responses);
    const held = figures.final - figures.baseline;
    const bound = 2 * figures.bodyBytes + ALLOWANCE;
    assert.ok(
      held <= bound,
      `${responses} unread bodies, ${mib(figures.bodyBytes)} in all, hold ${mib(held)}`,
    );
  });
});
