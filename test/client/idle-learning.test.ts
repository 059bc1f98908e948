/**
 * A server that closes idle connections without saying when (no Keep-Alive hint): once it has
 * closed one, the pool keeps that origin's idle connections for less than that, so a request
 * never races the server's close.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { ConnectionPool } from '../../src/index.js';
import { onRequests, sleep } from '../helpers/servers.js';

const SERVER_IDLE_MS = 300;
/** How late the server's close reaches the client: the network's share of the race. */
const CLOSE_DELAY_MS = 60;

/** Answers every request, and closes a connection once it has been idle for SERVER_IDLE_MS. */
function startIdleClosingServer(): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    let idle: NodeJS.Timeout | undefined;
    onRequests(socket, (head) => {
      clearTimeout(idle);
      const path = head.split(' ')[1] ?? '/';
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`);
      idle = setTimeout(() => socket.destroy(), SERVER_IDLE_MS);
    });
    socket.on('close', () => clearTimeout(idle));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * A relay in front of the server that hands the server's close to the client CLOSE_DELAY_MS
 * late, as a real network does; a request sent in between meets a connection already gone.
 */
function startLaggingRelay(target: number): Promise<Server> {
  const relay = createServer((client: Socket) => {
    const upstream = connect(target, '127.0.0.1');
    let upstreamGone = false;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('data', (chunk) => {
      if (upstreamGone) cut();
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    upstream.on('close', () => {
      upstreamGone = true;
      setTimeout(() => client.end(), CLOSE_DELAY_MS);
    });
    client.on('close', () => upstream.destroy());
  });
  return new Promise((resolve) => relay.listen(0, '127.0.0.1', () => resolve(relay)));
}

describe('learning how long the server keeps idle connections', () => {
  test('after the first idle close, requests around that time never race it', async () => {
    const server = await startIdleClosingServer();
    const relay = await startLaggingRelay((server.address() as AddressInfo).port);
    const pool = new ConnectionPool(`http://127.0.0.1:${(relay.address() as AddressInfo).port}`, {
      idleTimeout: 10_000,
    });
    const get = async (path: string, method = 'GET') => {
      const res = await pool.request({ method, path, body: method === 'POST' ? 'x' : undefined });
      assert.equal(await res.text(), path);
    };
    try {
      assert.equal(pool.stats().learnedIdleTimeout, undefined);
      await get('/first');
      // The server closes it while idle; the pool sees the close once the relay passes it on.
      await sleep(SERVER_IDLE_MS + CLOSE_DELAY_MS + 150);
      const learned = pool.stats().learnedIdleTimeout;
      assert.ok(learned !== undefined && learned < SERVER_IDLE_MS, `learned ${learned} ms`);
      const replayed = pool.stats().replayed;
      // Just over the server's idle time (inside the window where its close is on the way) and
      // just under it: no request meets a connection the server has closed, a POST included.
      for (const gap of [SERVER_IDLE_MS + 20, SERVER_IDLE_MS + 20, SERVER_IDLE_MS - 10]) {
        await get(`/after-${gap}`);
        await get(`/post-${gap}`, 'POST');
        await sleep(gap);
      }
      assert.equal(pool.stats().replayed, replayed, 'no request was replayed');
      // Well under it, connections are still reused.
      const reused = pool.stats().reused;
      for (let i = 0; i < 5; i++) {
        await get(`/quick-${i}`);
        await sleep(20);
      }
      assert.ok(pool.stats().reused - reused >= 4, `reused ${pool.stats().reused - reused} of 5`);
    } finally {
      await pool.destroy();
      await new Promise((resolve) => relay.close(resolve));
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('a close right after the answer is not learned as an idle timeout', async () => {
    // Closes 5 ms after each response: no idle timeout, so reuse must not end for the origin.
    const server = createServer((socket) => {
      socket.on('error', () => {});
      onRequests(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        setTimeout(() => socket.destroy(), 5);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const pool = new ConnectionPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      for (let i = 0; i < 3; i++) {
        await (await pool.request({})).text();
        await sleep(30);
      }
      assert.ok(pool.stats().closed >= 2, 'the server closed its connections');
      assert.equal(pool.stats().learnedIdleTimeout, undefined);
    } finally {
      await pool.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('a Keep-Alive hint is followed instead of what closes suggested', async () => {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      let served = 0;
      onRequests(socket, () => {
        served++;
        const hint = served > 1 ? 'keep-alive: timeout=5\r\n' : '';
        socket.write(`HTTP/1.1 200 OK\r\n${hint}content-length: 2\r\n\r\nok`);
        // The first connection is closed after 100 ms idle; later ones are kept.
        if (served === 1) setTimeout(() => socket.destroy(), 100);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const pool = new ConnectionPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      await (await pool.request({})).text();
      await sleep(250);
      assert.ok(pool.stats().learnedIdleTimeout !== undefined);
      await (await pool.request({})).text();
      await (await pool.request({})).text();
      assert.equal(pool.stats().learnedIdleTimeout, undefined, 'the hint replaced it');
    } finally {
      await pool.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
