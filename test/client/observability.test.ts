import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConnectionPool } from '../../src/index.js';
import { collectGarbage } from '../helpers/gc.js';
import { sleep, startHttpServer } from '../helpers/servers.js';

describe('observability', async () => {
  const server = await startHttpServer((req, res) => {
    if (req.url === '/fail') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(200, { 'content-length': 2 });
    res.end('ok');
  });
  after(() => server.close());

  test('diagnostics channels report connections and requests with their payloads', async () => {
    type Message = {
      origin?: string;
      connectMs?: number;
      method?: string;
      path?: string;
      reused?: boolean;
      protocol?: string;
      status?: number;
      durationMs?: number;
      error?: { code?: string };
      reason?: string;
      requests?: number;
      localPort?: number;
    };
    const seen: Array<[string, Message]> = [];
    const names = [
      'httpool:connection:open',
      'httpool:connection:close',
      'httpool:request:start',
      'httpool:request:end',
      'httpool:request:error',
    ];
    const listeners = names.map((name) => {
      const listener = (message: unknown) => seen.push([name, message as Message]);
      subscribe(name, listener);
      return [name, listener] as const;
    });
    try {
      const pool = new ConnectionPool(server.origin, { maxSize: 1 });
      await (await pool.request({ path: '/a' })).text();
      await (await pool.request({ path: '/b' })).text();
      await assert.rejects(pool.request({ method: 'POST', path: '/fail', body: 'x' }));
      await pool.close();
    } finally {
      for (const [name, listener] of listeners) unsubscribe(name, listener);
    }
    const kinds = seen.map(([name]) => name.replace('httpool:', ''));
    assert.deepEqual(kinds, [
      'connection:open',
      'request:start',
      'request:end',
      'request:start',
      'request:end',
      'request:start',
      'request:error',
      'connection:close',
    ]);
    const [, open] = seen[0]!;
    assert.equal(open.origin, server.origin);
    assert.equal(open.protocol, 'http/1.1');
    assert.ok(
      seen.filter(([n]) => n.endsWith('start')).every(([, m]) => m.protocol === 'http/1.1'),
    );
    assert.equal(typeof open.connectMs, 'number');
    assert.deepEqual(
      seen.filter(([n]) => n.endsWith('start')).map(([, m]) => [m.method, m.path, m.reused]),
      [
        ['GET', '/a', false],
        ['GET', '/b', true],
        ['POST', '/fail', true],
      ],
    );
    const [, end] = seen[2]!;
    assert.equal(end.status, 200);
    assert.ok((end.durationMs ?? -1) >= 0);
    const [, failed] = seen[6]!;
    assert.equal(failed.error?.code, 'ERR_SOCKET');
    const [, closed] = seen[7]!;
    assert.equal(closed.reason, 'not-reusable');
    assert.equal(closed.requests, 3);
    // The close names the connection the open did, though its socket is gone by then.
    assert.equal(typeof open.localPort, 'number');
    assert.equal(closed.localPort, open.localPort);
  });

  test('stats() splits wait, lease and connect time and counts reuse', async () => {
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    await sleep(20);
    held.release();
    (await waiting).release();
    await (await pool.request({})).text();
    const stats = pool.stats();
    assert.equal(stats.waitTime.count, 3);
    assert.ok(stats.waitTime.max >= 15, `waited ${stats.waitTime.max} ms`);
    assert.equal(stats.leaseTime.count, 3);
    assert.ok(stats.leaseTime.max >= 15);
    assert.equal(stats.connectTime.count, 1);
    assert.equal(stats.created, 1);
    assert.equal(stats.requests, 1);
    assert.equal(stats.reused, 0);
    await pool.close();
  });

  test('a lease held past leakDetectionTimeout warns with the acquiring stack', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const pool = new ConnectionPool(server.origin, { leakDetectionTimeout: 20 });
      const leaked = await pool.acquire();
      const returned = await pool.acquire();
      returned.release();
      await sleep(60);
      leaked.release();
      await sleep(5);
      assert.equal(warnings.length, 1);
      const warning = warnings[0] as Error & { code?: string };
      assert.equal(warning.code, 'HTTPOOL_LEAK');
      assert.match(warning.message, /leased for more than 20 ms/);
      assert.match(warning.message, /observability\.test\.js/);
      assert.equal(pool.stats().leaks, 1);
      await pool.close();
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('a lease that becomes garbage gives its slot back, closes its socket and warns', async () => {
    const warnings: Array<Error & { code?: string }> = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const pool = new ConnectionPool(server.origin, { maxSize: 1 });
      await (async () => {
        // Acquired and dropped on the floor: never released.
        await pool.acquire();
      })();
      assert.equal(pool.stats().leased, 1);
      const closed = server.nextClose();
      await collectGarbage(20, () => pool.stats().leased === 0);
      assert.equal(pool.stats().leased, 0);
      await closed;
      assert.equal(warnings.filter((w) => w.code === 'HTTPOOL_LEAK').length, 1);
      assert.match(warnings[0]!.message, /garbage-collected without being released/);
      // The slot is free again for the next caller.
      const again = await pool.acquire({ timeout: 1000 });
      again.release();
      await pool.close();
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('NODE_DEBUG=httpool logs connection and request events', async () => {
    const script = `
      import { ConnectionPool } from ${JSON.stringify(fileURLToPath(new URL('../../src/index.js', import.meta.url)))};
      const pool = new ConnectionPool(${JSON.stringify(server.origin)});
      await (await pool.request({ path: '/x' })).text();
      await pool.close();`;
    const { stderr } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env: { ...process.env, NODE_DEBUG: 'httpool' }, timeout: 10_000 },
    );
    const opened = /HTTPOOL \d+: http:\/\/127\.0\.0\.1:\d+: connection (\d+) opened/.exec(stderr);
    assert.ok(opened, stderr);
    assert.match(stderr, new RegExp(`connection ${opened[1]} closed \\(pool-closed\\)`));
  });
});
