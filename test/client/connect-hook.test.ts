/**
 * The `connect` option: a hook that gives the pool its sockets (or lets it dial), within the
 * connect timeout, its failures typed.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import type { ConnectTarget } from '../../src/client/connector.js';
import { FakeClock } from '../../src/clock.js';
import {
  ConnectionPool,
  ConnectTimeoutError,
  InvalidArgumentError,
  InvalidStateError,
  SocketError,
} from '../../src/index.js';
import { startHttpServer } from '../helpers/servers.js';

describe('the connect option', () => {
  test('the socket it gives carries the requests, and it is told the origin', async () => {
    const server = await startHttpServer((req, res) => res.end(`at ${req.url}`));
    const targets: ConnectTarget[] = [];
    // The pool's origin names another host: only the hook knows where the server is.
    const pool = new ConnectionPool('http://service.test:8080', {
      connect: (target) => {
        targets.push(target);
        return connect(server.port, '127.0.0.1');
      },
    });
    try {
      for (const path of ['/a', '/b']) {
        const res = await pool.request({ path });
        assert.equal(await res.text(), `at ${path}`);
      }
      assert.equal(targets.length, 1, 'the second request reused the connection');
      const [target] = targets;
      assert.equal(target?.origin, 'http://service.test:8080');
      assert.equal(target?.protocol, 'http:');
      assert.equal(target?.hostname, 'service.test');
      assert.equal(target?.port, 8080);
      assert.ok(target?.signal instanceof AbortSignal);
    } finally {
      await pool.close();
      await server.close();
    }
  });

  test('undefined from it lets the pool dial as usual', async () => {
    const server = await startHttpServer((_req, res) => res.end('dialled'));
    let asked = 0;
    const pool = new ConnectionPool(server.origin, {
      connect: async () => {
        asked++;
        return undefined;
      },
    });
    try {
      assert.equal(await (await pool.request({ path: '/' })).text(), 'dialled');
      assert.equal(asked, 1);
      assert.equal(server.connections, 1);
    } finally {
      await pool.close();
      await server.close();
    }
  });

  test('a throw is a SocketError with the cause; an httpool error is passed on as it is', async () => {
    const cause = new Error('no route');
    const pool = new ConnectionPool('http://a.test', {
      connect: () => {
        throw cause;
      },
    });
    const error = await pool.request({ path: '/' }).catch((e: unknown) => e);
    assert.ok(error instanceof SocketError, String(error));
    assert.equal(error.cause, cause);
    assert.match(error.message, /connecting to http:\/\/a\.test failed: no route/);
    await pool.destroy();

    const own = new InvalidStateError('not today');
    const typed = new ConnectionPool('http://a.test', { connect: () => Promise.reject(own) });
    assert.equal(await typed.request({ path: '/' }).catch((e: unknown) => e), own);
    await typed.destroy();
  });

  test('something other than a socket is refused, typed', async () => {
    const pool = new ConnectionPool('http://a.test', {
      connect: () => ({ hello: true }) as unknown as Socket,
    });
    await assert.rejects(pool.request({ path: '/' }), InvalidArgumentError);
    await pool.destroy();
    assert.throws(
      () => new ConnectionPool('http://a.test', { connect: 5 as unknown as () => undefined }),
      InvalidArgumentError,
    );
  });

  test('a hook that never answers is bounded by connectTimeout; a late socket is destroyed', async () => {
    const clock = new FakeClock();
    let give: (socket: Socket) => void = () => {};
    let signal: AbortSignal | undefined;
    const pool = new ConnectionPool('http://a.test', {
      clock,
      connectTimeout: 500,
      connect: (target) => {
        signal = target.signal;
        return new Promise<Socket>((resolve) => {
          give = resolve;
        });
      },
    });
    const failed = pool.request({ path: '/' }).catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(499);
    assert.equal(signal?.aborted, false);
    clock.advance(1);
    assert.ok((await failed) instanceof ConnectTimeoutError);
    let destroyed = false;
    give({ destroy: () => (destroyed = true) } as unknown as Socket);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(destroyed, true, 'the socket that came too late was destroyed');
    await pool.destroy();
  });
});
