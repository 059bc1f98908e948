import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  Agent,
  ConnectionPool,
  InvalidArgumentError,
  type RequestPhase,
  RequestTimeoutError,
} from '../../src/index.js';
import { eventually, startHttpServer, startRawServer } from '../helpers/servers.js';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));

/** The promise rejects with a RequestTimeoutError for `timeout` ms, in `phase`. */
function timedOut(phase: RequestPhase, timeout: number) {
  return (error: unknown) => {
    assert.ok(error instanceof RequestTimeoutError, `expected RequestTimeoutError, got ${error}`);
    assert.equal(error.code, 'ERR_TIMEOUT');
    assert.equal(error.phase, phase);
    assert.equal(error.timeout, timeout);
    assert.match(error.message, new RegExp(`within ${timeout} ms`));
    return true;
  };
}

/** After a failure: nothing leased or waiting, nothing open, and the server saw every socket close. */
async function assertCleanedUp(pool: ConnectionPool, open: Set<Socket>): Promise<void> {
  const stats = pool.stats();
  assert.equal(stats.leased, 0, 'no lease left');
  assert.equal(stats.waiting, 0, 'no waiter left');
  assert.equal(stats.open, 0, 'no connection left');
  await eventually(() => open.size === 0, 2000, 'the server to see the socket closed');
}

const ok = (body: string) =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** Runs an ES module script in a child process with the package at `INDEX`. */
async function runScript(
  script: string,
  timeoutMs = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('timeout: one deadline for the whole request', () => {
  test('acquire: every connection busy → RequestTimeoutError in acquire, the waiter gone', async () => {
    const server = await startRawServer((socket) => socket.write(ok('x')));
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const lease = await pool.acquire();
    await assert.rejects(pool.request({ timeout: 80 }), timedOut('acquire', 80));
    assert.equal(pool.stats().waiting, 0);
    assert.equal(server.requests, 0, 'nothing was sent');
    lease.release();
    // The pool is as good as before.
    assert.equal(await (await pool.request({ timeout: 5000 })).text(), 'x');
    assert.equal(pool.stats().leased, 0);
    await pool.close();
    await server.close();
  });

  test('connect: a TLS handshake that never completes → RequestTimeoutError in connect', async () => {
    // Accepts TCP and never says a word: the ClientHello goes unanswered.
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(`https://127.0.0.1:${server.port}`, {
      connectTimeout: 60_000,
    });
    await assert.rejects(pool.request({ timeout: 80 }), timedOut('connect', 80));
    const stats = pool.stats();
    assert.equal(stats.leased, 0);
    assert.equal(stats.waiting, 0);
    await pool.destroy();
    await eventually(() => server.open.size === 0, 2000, 'the connection to close');
    await server.close();
  });

  test('send: a streamed body that stops yielding → RequestTimeoutError in send, closed', async () => {
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(server.origin);
    let stalled!: () => void;
    const stall = new Promise<void>((resolve) => {
      stalled = resolve;
    });
    async function* body() {
      yield 'first part';
      await stall; // never resolved until the test ends
    }
    await assert.rejects(
      pool.request({ method: 'PUT', body: body(), timeout: 80 }),
      timedOut('send', 80),
    );
    await assertCleanedUp(pool, server.open);
    stalled();
    await pool.close();
    await server.close();
  });

  test('headers: a server that never answers → RequestTimeoutError in headers, closed', async () => {
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(server.origin);
    await assert.rejects(pool.request({ timeout: 80 }), timedOut('headers', 80));
    // It names the request it failed, without the query.
    await assert.rejects(
      pool.request({ path: '/slow?token=secret', timeout: 80 }),
      (error: RequestTimeoutError) => {
        assert.deepEqual([error.origin, error.method, error.path], [server.origin, 'GET', '/slow']);
        assert.match(error.message, /GET http:\/\/127\.0\.0\.1:\d+\/slow$/);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      },
    );
    assert.equal(server.requests, 2);
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('body: half a body, then silence → the body fails in body, the connection closes', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
    });
    const pool = new ConnectionPool(server.origin);
    const res = await pool.request({ path: '/half', timeout: 150 });
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), timedOut('body', 150));
    await assert.rejects(
      (await pool.request({ path: '/half', timeout: 150 })).text(),
      (error: RequestTimeoutError) => error.path === '/half' && error.origin === server.origin,
    );
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('a response that is never read still ends by the deadline: the connection is freed', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
    });
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    const res = await pool.request({ timeout: 100 });
    assert.equal(res.status, 200);
    // Not read: the deadline fails the body and gives the connection back.
    await eventually(() => pool.stats().leased === 0, 5000, 'the lease to end');
    await assert.rejects(res.text(), timedOut('body', 100));
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('conn.request({ timeout }) bounds the exchange; the lease stays the caller’s', async () => {
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(server.origin);
    const conn = await pool.acquire();
    await assert.rejects(conn.request({ timeout: 80 }), timedOut('headers', 80));
    assert.equal(conn.released, false);
    conn.release();
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('the caller’s signal still aborts with its own reason, before the deadline', async () => {
    const server = await startRawServer(() => {});
    const pool = new ConnectionPool(server.origin);
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const pending = pool.request({ timeout: 60_000, signal: controller.signal });
    await eventually(() => server.requests === 1, 2000, 'the request to arrive');
    controller.abort(reason);
    await assert.rejects(pending, (error: unknown) => error === reason);
    // An already-aborted signal: its reason at once, nothing sent.
    const aborted = AbortSignal.abort(reason);
    await assert.rejects(
      pool.request({ timeout: 1000, signal: aborted }),
      (e: unknown) => e === reason,
    );
    assert.equal(server.requests, 1);
    await assertCleanedUp(pool, server.open);
    await pool.close();
    await server.close();
  });

  test('a bad timeout is refused before anything is sent; Infinity means no bound', async () => {
    const server = await startRawServer((socket) => socket.write(ok('fine')));
    const pool = new ConnectionPool(server.origin);
    const agent = new Agent();
    for (const timeout of [0, -1, Number.NaN, '100' as unknown as number]) {
      const refused = (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.match(error.message, /timeout must be a positive number/);
        return true;
      };
      await assert.rejects(pool.request({ timeout }), refused);
      await assert.rejects(agent.request(`${server.origin}/`, { timeout }), refused);
      const conn = await pool.acquire();
      await assert.rejects(conn.request({ timeout }), refused);
      conn.release();
    }
    assert.equal(server.requests, 0);
    assert.equal(await (await pool.request({ timeout: Number.POSITIVE_INFINITY })).text(), 'fine');
    await agent.close();
    await pool.close();
    await server.close();
  });

  test('agent: a redirect chain longer than the deadline fails, whatever hop it is on', async () => {
    let hops = 0;
    const server = await startHttpServer((req, res) => {
      hops++;
      const n = Number(/\/r\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      // Each hop answers after 60 ms: 10 of them take 600 ms, the deadline is 200.
      setTimeout(() => {
        if (n < 10) {
          res.writeHead(302, { location: `/r/${n + 1}`, 'content-length': 0 });
          res.end();
        } else res.end('the end');
      }, 60);
    });
    const agent = new Agent();
    // Within the deadline: the last two hops and the body, then the connection is reused.
    const res = await agent.request(`${server.origin}/r/8`, { redirect: 'follow', timeout: 5000 });
    assert.equal(await res.text(), 'the end');
    assert.equal(server.connections, 1);
    hops = 0;
    await assert.rejects(
      agent.request(`${server.origin}/r/0`, { redirect: 'follow', timeout: 200 }),
      timedOut('headers', 200),
    );
    assert.ok(hops < 10, `${hops} hops`);
    const stats = Object.values(agent.stats())[0]!;
    assert.equal(stats.leased, 0);
    assert.equal(stats.waiting, 0);
    await agent.close();
    await server.close();
  });

  test('agent: a retry wait past the deadline fails in retry-wait; nothing more is sent', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(503, { 'retry-after': '2', 'content-length': 0 });
      res.end();
    });
    const agent = new Agent({ retry: { limit: 3 } });
    const started = performance.now();
    await assert.rejects(
      agent.request(`${server.origin}/`, { timeout: 200 }),
      timedOut('retry-wait', 200),
    );
    // Well before the 2 s the server asked to wait.
    assert.ok(performance.now() - started < 2000);
    assert.equal(server.requests, 1);
    await agent.close();
    await server.close();
  });

  test('fetch(): init.timeout rejects as fetch does, with the RequestTimeoutError as cause', async () => {
    const server = await startRawServer((socket, head) => {
      if (head.includes('/half')) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
      }
    });
    const agent = new Agent();
    const fetchFailed = (phase: RequestPhase) => (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      timedOut(phase, 100)(error.cause);
      return true;
    };
    await assert.rejects(
      agent.fetch(`${server.origin}/never`, { timeout: 100 }),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message === 'fetch failed' &&
        fetchFailed('headers')(error),
    );
    const res = await agent.fetch(`${server.origin}/half`, { timeout: 100 });
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), fetchFailed('body'));
    // A bad timeout is a bad argument: a TypeError, its cause the httpool error.
    await assert.rejects(
      agent.fetch(`${server.origin}/never`, { timeout: -5 }),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.ok(error.cause instanceof InvalidArgumentError);
        return true;
      },
    );
    await eventually(() => server.open.size === 0, 2000, 'the connections to close');
    await agent.close();
    await server.close();
  });

  test('a request whose deadline is all that is pending still settles before Node exits', async () => {
    // A lookup that never answers and no connect timeout: only the deadline can end it.
    const script = `
      import { ConnectionPool } from ${JSON.stringify(INDEX)};
      const pool = new ConnectionPool('http://never.invalid', {
        lookup: () => {},
        connectTimeout: Infinity,
      });
      try {
        await pool.request({ timeout: 150 });
        console.log('answered?');
      } catch (error) {
        console.log(error.code, error.phase);
      }`;
    const run = await runScript(script);
    assert.equal(run.stdout.trim(), 'ERR_TIMEOUT connect', run.stderr);
    assert.equal(run.code, 0);
  });

  test('no timer is left behind: the process exits as soon as its requests are over', async () => {
    // A deadline timer that outlived its request would hold the process for 10 minutes.
    const server = createHttpServer((req, res) => {
      if (req.url === '/later') {
        res.write('part ');
        setTimeout(() => res.end('two'), 30);
      } else res.end('whole');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const script = `
      import { Agent, ConnectionPool } from ${JSON.stringify(INDEX)};
      const timeout = 600_000;
      const pool = new ConnectionPool(${JSON.stringify(origin)});
      const out = [];
      out.push(await (await pool.request({ timeout })).text());
      out.push(await (await pool.request({ path: '/later', timeout })).text());
      await (await pool.request({ path: '/later', timeout })).dump();
      const conn = await pool.acquire();
      out.push(await (await conn.request({ timeout })).text());
      conn.release();
      await pool.request({ timeout, headers: { 'bad\\n': 'x' } }).catch((e) => out.push(e.code));
      const agent = new Agent({ retry: 1 });
      out.push(await (await agent.request(${JSON.stringify(`${origin}/later`)}, { timeout })).text());
      out.push(await (await agent.fetch(${JSON.stringify(`${origin}/later`)}, { timeout })).text());
      await pool.close();
      await agent.close();
      console.log(out.join(','));`;
    const started = performance.now();
    const run = await runScript(script, 60_000);
    assert.equal(
      run.stdout.trim(),
      'whole,part two,whole,ERR_INVALID_ARG,part two,part two',
      run.stderr,
    );
    assert.equal(run.code, 0);
    // Far from the 600 s a leaked deadline would hold it for.
    assert.ok(performance.now() - started < 60_000);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('a streamed body with a caller-given content-length', () => {
  /** A server that records each request's raw bytes on its connection and answers per `respond`. */
  async function recordingServer(respond: (socket: Socket, raw: Buffer) => boolean) {
    const connections: Buffer[] = [];
    const open = new Set<Socket>();
    const server = createServer((socket) => {
      const index = connections.push(Buffer.alloc(0)) - 1;
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        connections[index] = Buffer.concat([connections[index]!, chunk]);
        if (respond(socket, connections[index]!)) connections[index] = Buffer.alloc(0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      origin,
      connections,
      open,
      close: () => {
        for (const socket of open) socket.destroy();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  /** Answers once the whole body by Content-Length (or a chunked body's last chunk) has come. */
  function answerWhenComplete(seen: string[]) {
    return (socket: Socket, raw: Buffer): boolean => {
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const head = raw.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      const body = raw.subarray(end + 4);
      const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
      if (chunked ? !body.includes('0\r\n\r\n') : body.length < length) return false;
      seen.push(raw.toString('latin1'));
      socket.write(ok('stored'));
      return true;
    };
  }

  async function* parts(...chunks: string[]) {
    for (const chunk of chunks) yield Buffer.from(chunk);
  }

  test('exactly the declared bytes: sent with Content-Length, no chunk framing, connection reused', async () => {
    const seen: string[] = [];
    const server = await recordingServer(answerWhenComplete(seen));
    const pool = new ConnectionPool(server.origin);
    const res = await pool.request({
      method: 'PUT',
      path: '/object',
      headers: { 'content-length': '11' },
      body: parts('hello', ' ', 'world'),
    });
    assert.equal(await res.text(), 'stored');
    const [request] = seen;
    assert.match(request!, /\r\ncontent-length: 11\r\n/);
    assert.doesNotMatch(request!, /transfer-encoding/i);
    assert.ok(request!.endsWith('\r\n\r\nhello world'), JSON.stringify(request));
    // A Node stream works the same, and goes on the same connection.
    const { Readable } = await import('node:stream');
    const again = await pool.request({
      method: 'PUT',
      headers: [['Content-Length', 3]],
      body: Readable.from([Buffer.from('abc')]),
    });
    assert.equal(await again.text(), 'stored');
    assert.ok(seen[1]!.endsWith('\r\n\r\nabc'));
    assert.equal(server.connections.length, 1);
    await pool.close();
    await server.close();
  });

  test('more bytes than declared: RequestBodyError at once, the excess never sent, a new connection next', async () => {
    const seen: string[] = [];
    const server = await recordingServer(answerWhenComplete(seen));
    const pool = new ConnectionPool(server.origin);
    // Warm a connection so that "not reused" shows as a second one.
    assert.equal(await (await pool.request({})).text(), 'stored');
    let pulledAfter = false;
    async function* tooLong() {
      yield Buffer.from('1234');
      yield Buffer.from('56789');
      pulledAfter = true;
      yield Buffer.from('more');
    }
    await assert.rejects(
      pool.request({ method: 'PUT', headers: { 'content-length': '6' }, body: tooLong() }),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'ERR_REQUEST_BODY');
        assert.match((error as Error).message, /more than its content-length \(6 bytes\)/);
        return true;
      },
    );
    assert.equal(pulledAfter, false, 'the stream is not read past the overflow');
    await eventually(() => server.open.size === 0, 2000, 'the connection to close');
    // The server got the head and the first 4 bytes, never the chunk that overflowed.
    assert.ok(server.connections[0]!.toString('latin1').endsWith('\r\n\r\n1234'));
    assert.equal(await (await pool.request({})).text(), 'stored');
    assert.equal(server.connections.length, 2);
    await pool.close();
    await server.close();
  });

  test('fewer bytes than declared: RequestBodyError, the connection closed, a new one next', async () => {
    const seen: string[] = [];
    const server = await recordingServer(answerWhenComplete(seen));
    const pool = new ConnectionPool(server.origin);
    assert.equal(await (await pool.request({})).text(), 'stored');
    await assert.rejects(
      pool.request({ method: 'PUT', headers: { 'content-length': '10' }, body: parts('abc') }),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'ERR_REQUEST_BODY');
        assert.match((error as Error).message, /ended after 3 of .*10 bytes/);
        return true;
      },
    );
    await eventually(() => server.open.size === 0, 2000, 'the connection to close');
    assert.equal(await (await pool.request({})).text(), 'stored');
    assert.equal(server.connections.length, 2);
    assert.equal(seen.length, 2, 'the short upload was never taken as a request');
    await pool.close();
    await server.close();
  });

  test('with Expect: 100-continue, the body waits for the go-ahead, then goes by length', async () => {
    const seen: string[] = [];
    const complete = answerWhenComplete(seen);
    let continued = false;
    const server = await recordingServer((socket, raw) => {
      if (!continued && raw.includes('\r\n\r\n')) {
        continued = true;
        assert.equal(raw.subarray(raw.indexOf('\r\n\r\n') + 4).length, 0, 'the body was held');
        socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      }
      return complete(socket, raw);
    });
    const pool = new ConnectionPool(server.origin);
    const res = await pool.request({
      method: 'PUT',
      headers: { expect: '100-continue', 'content-length': 5 },
      body: parts('ab', 'cde'),
    });
    assert.equal(await res.text(), 'stored');
    assert.match(seen[0]!, /\r\ncontent-length: 5\r\n/);
    assert.ok(seen[0]!.endsWith('\r\n\r\nabcde'));
    assert.doesNotMatch(seen[0]!, /transfer-encoding/i);
    await pool.close();
    await server.close();
  });
});
