/**
 * Throwing an unread body away has an overall time bound: a server that drips bytes restarts
 * the gap timer with every one, so without `maxDrainTime` the slot would stay leased for as
 * long as the server liked.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { ConnectionPool, InvalidArgumentError } from '../../src/index.js';
import { startRawServer } from '../helpers/servers.js';

/** Settles with 'settled', or 'still pending' once `ms` have passed. */
function within(promise: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => 'settled'),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still pending'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('draining an unread body', () => {
  const drips = new Set<NodeJS.Timeout>();
  after(() => {
    for (const drip of drips) clearInterval(drip);
  });
  /** Answers `/drip` with a 1 MB body sent one byte every 20 ms, `/ok` with a short one. */
  const startDripServer = () =>
    startRawServer((socket: Socket, head) => {
      if (head.startsWith('GET /ok ')) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\nx');
      const drip = setInterval(() => {
        if (socket.destroyed) clearInterval(drip);
        else socket.write('x');
      }, 20);
      drips.add(drip);
      socket.on('close', () => clearInterval(drip));
    });

  test('dump() of a dripping body ends after maxDrainTime and frees the slot', async () => {
    const server = await startDripServer();
    const pool = new ConnectionPool(server.origin, { maxSize: 1, maxDrainTime: 200 });
    try {
      const res = await pool.request({ path: '/drip' });
      // 25 times the bound: without it the drain goes on for 20 000 s.
      assert.equal(await within(res.dump(), 5000), 'settled');
      const next = await pool.request({ path: '/ok', acquireTimeout: 5000 });
      assert.equal(await next.text(), 'ok');
      const stats = pool.stats();
      assert.equal(stats.created, 2, 'the drained connection was closed, not reused');
      assert.equal(stats.leased, 0);
    } finally {
      await pool.destroy();
      await server.close();
    }
  });

  test('a lease released with a dripping body unread comes home within maxDrainTime', async () => {
    const server = await startDripServer();
    const pool = new ConnectionPool(server.origin, { maxSize: 1, maxDrainTime: 200 });
    try {
      const conn = await pool.acquire();
      const res = await conn.request({ path: '/drip' });
      assert.equal(res.status, 200);
      conn.release();
      // Another caller waits for the only slot, which must come free.
      const next = pool.acquire({ timeout: 5000 });
      assert.equal(await within(next, 5000), 'settled');
      const again = await next;
      const answer = await again.request({ path: '/ok' });
      assert.equal(await answer.text(), 'ok');
      again.release();
      assert.equal(pool.stats().created, 2);
    } finally {
      await pool.destroy();
      await server.close();
    }
  });

  test('maxDrainTime must be a non-negative number', () => {
    for (const value of [-1, Number.NaN, '100']) {
      assert.throws(
        () => new ConnectionPool('http://127.0.0.1:1', { maxDrainTime: value as number }),
        InvalidArgumentError,
      );
    }
  });
});
