/**
 * The leak detector on HTTP/2 leases, where one connection carries many leases (one per
 * stream): a lease held past `leakDetectionTimeout` warns (`HTTPOOL_LEAK`), each stream lease
 * on its own timer; a lease from acquire() dropped unreleased, and a response dropped with its
 * body still arriving, are reported once collected, and give their stream slot back without
 * costing the session.
 */
import assert from 'node:assert/strict';
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { ConnectionPool } from '../../src/index.js';
import { collectGarbage } from '../helpers/gc.js';
import { eventually } from '../helpers/servers.js';

/** HTTPOOL_LEAK warnings emitted while `body` runs (and a tick after). */
async function leakWarnings(body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.code === 'HTTPOOL_LEAK') seen.push(warning.message);
  };
  process.on('warning', onWarning);
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('HTTP/2 leases and the leak detector', () => {
  const server: Http2Server = createServer();
  let origin = '';
  let sessions = 0;
  /** Reset codes of the server's streams that closed, by path. */
  const resets = new Map<string, number[]>();
  const live = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions++;
    live.add(session);
    session.on('close', () => live.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const path = String(headers[':path']);
    stream.on('error', () => {});
    stream.on('close', () => resets.set(path, [...(resets.get(path) ?? []), stream.rstCode]));
    if (path === '/big') {
      // 1 MiB announced, 128 KiB sent, the rest never: a body nobody reads to the end holds
      // its stream until the client gives it up.
      stream.respond({ ':status': 200, 'content-length': String(1024 * 1024) });
      stream.write(Buffer.alloc(128 * 1024, 97));
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end(`hello ${path}`);
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const session of live) session.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('two stream leases on one session, each on its own leak timer (the pool’s clock)', async () => {
    const clock = new FakeClock();
    const pool = new ConnectionPool(origin, {
      http2: 'prior-knowledge',
      leakDetectionTimeout: 5000,
      clock,
    });
    try {
      const first = await pool.acquire();
      clock.advance(3000);
      const second = await pool.acquire();
      assert.equal(pool.stats().created, 1, 'both leases share the session');
      const early = await leakWarnings(async () => {
        clock.advance(1999);
      });
      assert.deepEqual(early, []);
      // The first lease reaches 5 s; the second, 3 s younger, is released in time.
      const late = await leakWarnings(async () => {
        clock.advance(1);
        second.release();
        clock.advance(5000);
      });
      assert.equal(late.length, 1);
      assert.match(late[0]!, /has been leased for more than 5000 ms/);
      assert.match(late[0]!, /acquired here\n\s+at /);
      assert.equal(pool.stats().leaks, 1);
      // The warned lease still works, and its release is an ordinary one.
      const res = await first.request({ path: '/after-warning' });
      assert.equal(await res.text(), 'hello /after-warning');
      first.release();
      await eventually(() => pool.stats().leased === 0);
    } finally {
      await pool.close();
    }
  });

  test('a stream lease dropped unreleased is reported once collected, and its stream slot comes back', async () => {
    // One stream per session (our cap) and one session: the dropped lease holds the only slot.
    const pool = new ConnectionPool(origin, {
      http2: 'prior-knowledge',
      maxSize: 1,
      maxConcurrentStreams: 1,
    });
    const sessionsBefore = sessions;
    try {
      const warnings = await leakWarnings(async () => {
        await (async () => {
          const lease = await pool.acquire();
          await (await lease.request({ path: '/leased' })).text();
          // Dropped on the floor, never released.
        })();
        assert.equal(pool.stats().leased, 1);
        await collectGarbage(50, () => pool.stats().leased === 0);
      });
      assert.equal(pool.stats().leased, 0, 'the dropped lease still holds its stream slot');
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /garbage-collected without being released/);
      assert.equal(pool.stats().leaks, 1);
      // The slot is free: the next request runs on the same session.
      const res = await pool.request({ path: '/next', acquireTimeout: 2000 });
      assert.equal(await res.text(), 'hello /next');
      assert.equal(sessions - sessionsBefore, 1);
      assert.equal(pool.stats().created, 1);
    } finally {
      await pool.close();
    }
  });

  test('a response dropped with its body still arriving is reported, its stream reset, the session kept', async () => {
    const pool = new ConnectionPool(origin, {
      http2: 'prior-knowledge',
      maxSize: 1,
      maxConcurrentStreams: 1,
      // Drain at most 16 KiB of a body given up: this one's rest never comes, so it is reset.
      maxDrainBytes: 16 * 1024,
      maxDrainTime: 200,
    });
    const sessionsBefore = sessions;
    try {
      const warnings = await leakWarnings(async () => {
        await (async () => {
          const res = await pool.request({ path: '/big' });
          assert.equal(res.body.complete, false);
          // Dropped unread.
        })();
        assert.equal(pool.stats().streams, 1);
        await collectGarbage(100, () => pool.stats().streams === 0);
        await eventually(() => pool.stats().leased === 0, 2000, 'the stream slot to come back');
      });
      assert.equal(pool.stats().streams, 0);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /had a response body garbage-collected unread/);
      assert.equal(pool.stats().leaks, 1);
      await eventually(() => resets.has('/big'), 2000, 'the server to see the stream end');
      assert.equal(resets.get('/big')!.at(-1), constants.NGHTTP2_CANCEL);
      const res = await pool.request({ path: '/next', acquireTimeout: 2000 });
      assert.equal(await res.text(), 'hello /next');
      assert.equal(sessions - sessionsBefore, 1);
    } finally {
      await pool.close();
    }
  });

  test('a stream lease and its unread response dropped together: one leak, one warning', async () => {
    const pool = new ConnectionPool(origin, {
      http2: 'prior-knowledge',
      maxSize: 1,
      maxConcurrentStreams: 1,
      maxDrainBytes: 16 * 1024,
      maxDrainTime: 200,
    });
    try {
      const warnings = await leakWarnings(async () => {
        await (async () => {
          const lease = await pool.acquire();
          await lease.request({ path: '/big' });
        })();
        await collectGarbage(100, () => pool.stats().leased === 0);
        await eventually(() => pool.stats().streams === 0, 2000, 'the stream to end');
        // A few more rounds, for a second finalizer that might come later.
        await collectGarbage(3);
      });
      assert.equal(pool.stats().leased, 0);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.equal(pool.stats().leaks, 1);
      const res = await pool.request({ path: '/next', acquireTimeout: 2000 });
      assert.equal(await res.text(), 'hello /next');
    } finally {
      await pool.close();
    }
  });

  test('with leakDetectionTimeout, a dropped response body’s warning says where its stream was acquired', async () => {
    const pool = new ConnectionPool(origin, {
      http2: 'prior-knowledge',
      leakDetectionTimeout: 60_000,
      maxDrainBytes: 16 * 1024,
      maxDrainTime: 200,
    });
    try {
      const warnings = await leakWarnings(async () => {
        await (async () => {
          await pool.request({ path: '/big' });
        })();
        await collectGarbage(100, () => pool.stats().leaks > 0);
      });
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /acquired here\n\s+at /);
    } finally {
      await pool.destroy();
    }
  });
});
