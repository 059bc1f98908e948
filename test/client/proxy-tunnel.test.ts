import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { openSocket } from '../../src/client/connector.js';
import { parseOrigin } from '../../src/client/origin.js';
import { parseProxy } from '../../src/client/proxy.js';
import { FakeClock } from '../../src/clock.js';
import { ConnectTimeoutError, SocketError } from '../../src/errors.js';
import { startFakeProxy, startProxyServer } from '../helpers/proxy-server.js';
import { eventually, startHttpServer } from '../helpers/servers.js';
import { makeCertificates, startTlsServer } from '../helpers/tls.js';

/** Settles with `promise`, or fails when it has not settled within `ms` of real time. */
async function within<T>(promise: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Tracks whether `promise` settled, without consuming its rejection. */
function track<T>(promise: Promise<T>): { settled: () => boolean } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { settled: () => settled };
}

describe('openSocket through a proxy: what the composition hands back', async () => {
  const certs = makeCertificates();
  const tlsServer = await startTlsServer(certs);
  const httpServer = await startHttpServer((_req, res) => res.end('plain'));
  const proxy = await startProxyServer();
  after(() => Promise.all([tlsServer.close(), httpServer.close(), proxy.close()]));

  test('http: origin: a socket to the proxy, reading into the shared buffer', async () => {
    const opened = await openSocket(parseOrigin(httpServer.origin), {
      connectTimeout: 2000,
      proxy: parseProxy(proxy.url),
    });
    try {
      assert.ok(opened.reads !== undefined);
      assert.equal(opened.socket.remotePort, proxy.port);
    } finally {
      opened.socket.destroy();
    }
  });

  test('https: origin: TLS with the origin over the tunnel, read as a stream', async () => {
    const opened = await openSocket(parseOrigin(`https://localhost:${tlsServer.port}`), {
      connectTimeout: 2000,
      proxy: parseProxy(proxy.url),
      tls: { ca: certs.ca },
    });
    try {
      assert.equal(opened.reads, undefined, 'TLS over another socket cannot use the shared buffer');
      assert.equal(opened.alpnProtocol, undefined, 'no ALPN offered');
      assert.equal((opened.socket as TLSSocket).authorized, true);
      assert.equal(proxy.tunnels.at(-1), `localhost:${tlsServer.port}`);
    } finally {
      opened.socket.destroy();
    }
  });
});

describe('openSocket through a proxy: the tunnel and one connect budget, on a fake clock', async () => {
  /** How the fake proxy answers the next CONNECT; set by each test. */
  let answer: (socket: import('node:net').Socket) => void = () => {};
  const fake = await startFakeProxy((socket) => answer(socket));
  after(() => fake.close());
  const origin = parseOrigin('https://localhost:443');

  test('the 200 and the first TLS bytes in one write: TLS reads those bytes', async () => {
    // A fatal TLS alert record (handshake_failure), right behind the proxy's head. Lost, the
    // TLS handshake would wait for the server in vain; read, it fails on the alert at once.
    const alert = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    answer = (socket) => {
      socket.write(
        Buffer.concat([Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n'), alert]),
      );
    };
    const clock = new FakeClock();
    const error = await within(
      openSocket(origin, { connectTimeout: 60_000, clock, proxy: parseProxy(fake.url) }).then(
        () => assert.fail('expected a rejection'),
        (error: unknown) => error,
      ),
    );
    assert.ok(error instanceof SocketError, String(error));
    assert.match(error.message, /^connecting to https:\/\/localhost failed: .*alert/);
  });

  test('a proxy silent past connectTimeout: ConnectTimeoutError when the clock says so', async () => {
    answer = () => {};
    const clock = new FakeClock();
    const heads = fake.heads.length;
    const pending = openSocket(origin, {
      connectTimeout: 30_000,
      clock,
      proxy: parseProxy(fake.url),
    });
    const state = track(pending);
    await eventually(() => fake.heads.length > heads, 2000, 'the CONNECT head');
    clock.advance(29_999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(state.settled(), false);
    clock.advance(1);
    await assert.rejects(within(pending), (error: unknown) => {
      assert.ok(error instanceof ConnectTimeoutError, String(error));
      assert.match(error.message, /30000 ms/);
      return true;
    });
    assert.equal(clock.pending, 0);
  });

  test('TCP, CONNECT and TLS share one budget', async () => {
    let answerNow: (() => void) | undefined;
    answer = (socket) => {
      answerNow = () => socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    };
    const clock = new FakeClock();
    const index = fake.heads.length;
    const pending = openSocket(origin, {
      connectTimeout: 60_000,
      clock,
      proxy: parseProxy(fake.url),
    });
    const state = track(pending);
    await eventually(() => answerNow !== undefined, 2000, 'the CONNECT head');
    // 45 s go by before the proxy answers; the TLS handshake then has the 15 s left.
    clock.advance(45_000);
    answerNow!();
    await eventually(() => (fake.after[index] ?? '').length > 0, 2000, 'the TLS ClientHello');
    clock.advance(14_999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(state.settled(), false);
    clock.advance(1);
    await assert.rejects(within(pending), (error: unknown) => {
      assert.ok(error instanceof ConnectTimeoutError, String(error));
      assert.match(error.message, /60000 ms/);
      return true;
    });
    assert.equal(clock.pending, 0);
  });
});
