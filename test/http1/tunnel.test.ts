import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  ConnectTimeoutError,
  InvalidArgumentError,
  ProxyError,
  ResponseError,
  ResponseLimitError,
  SocketError,
} from '../../src/errors.js';
import { type ConnectRequest, establishTunnel, serializeConnect } from '../../src/http1/tunnel.js';
import { startFakeProxy, writeSlowly } from '../helpers/proxy-server.js';
import { eventually } from '../helpers/servers.js';

const PROXY = 'proxy http://127.0.0.1:3128';
const target: ConnectRequest = { hostname: 'origin.test', port: 443 };

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The next `n` bytes a resolved tunnel delivers, as Latin-1. */
function read(socket: Socket, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`only got ${JSON.stringify(got)}`)), 3000);
    const onData = (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (got.length < n) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(got);
    };
    socket.on('data', onData);
  });
}

describe('serializeConnect', () => {
  test('authority-form with Host, then Proxy-Authorization, then the extra headers', () => {
    assert.equal(
      serializeConnect({
        hostname: '::1',
        port: 8443,
        authorization: 'Basic YTpi',
        headers: { 'user-agent': 'ua' },
      }),
      'CONNECT [::1]:8443 HTTP/1.1\r\nhost: [::1]:8443\r\nproxy-authorization: Basic YTpi\r\nuser-agent: ua\r\n\r\n',
    );
    assert.equal(
      serializeConnect(target),
      'CONNECT origin.test:443 HTTP/1.1\r\nhost: origin.test:443\r\n\r\n',
    );
  });

  const refused: [string, ConnectRequest, RegExp][] = [
    ['a host with CRLF', { hostname: 'a.test\r\nx: y', port: 443 }, /tunnel target host/],
    ['an empty host', { hostname: '', port: 443 }, /tunnel target host/],
    ['port 0', { hostname: 'a.test', port: 0 }, /port must be an integer/],
    ['port 70000', { hostname: 'a.test', port: 70000 }, /port must be an integer/],
    ['port 1.5', { hostname: 'a.test', port: 1.5 }, /port must be an integer/],
    ['a header value with CRLF', { ...target, headers: { 'x-a': 'v\r\nx: secret' } }, /"x-a"/],
    ['a header name not a token', { ...target, headers: { 'bad name': 'v' } }, /not a valid token/],
    ['Host', { ...target, headers: { Host: 'other.test' } }, /set by httpool itself/],
    ['Proxy-Authorization', { ...target, headers: { 'proxy-authorization': 'x' } }, /itself/],
    ['Content-Length', { ...target, headers: { 'content-length': '0' } }, /itself/],
    ['Upgrade', { ...target, headers: { upgrade: 'h2c' } }, /upgrades are not supported/],
  ];
  for (const [name, request, why] of refused) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => serializeConnect(request),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          why.test(error.message) &&
          !error.message.includes('secret'),
      );
    });
  }
});

/**
 * How the fake proxy answers each case, and what establishTunnel must make of it: the tunnel's
 * first bytes, or a check of the error.
 */
interface Case {
  name: string;
  answer: (socket: Socket) => void | Promise<void>;
  tunnel?: string;
  error?: (error: unknown) => boolean;
}

const cases: Case[] = [
  {
    name: '200 and the first tunnel bytes in one write: the bytes are the tunnel’s',
    answer: (socket) => {
      socket.write('HTTP/1.1 200 Connection Established\r\nx-a: b\r\n\r\n\x16\x03\x01first');
    },
    tunnel: '\x16\x03\x01first',
  },
  {
    name: 'a 2xx with framing fields (even conflicting ones): they are ignored',
    answer: (socket) => {
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\nabcdef',
      );
    },
    tunnel: 'abcdef',
  },
  {
    name: 'a reply split into one-byte writes, after two 1xx answers',
    answer: (socket) =>
      writeSlowly(socket, [
        ...'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n\r\n',
        'after',
      ]),
    tunnel: 'after',
  },
  {
    name: '407: ProxyError with the status and reason',
    answer: (socket) => {
      socket.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic\r\ncontent-length: 0\r\n\r\n',
      );
    },
    error: (error) =>
      error instanceof ProxyError &&
      error.code === 'ERR_PROXY' &&
      error.statusCode === 407 &&
      error.message ===
        `${PROXY} refused CONNECT to origin.test:443: 407 Proxy Authentication Required`,
  },
  {
    name: 'a refusal whose body is broken is still the refusal',
    answer: (socket) => {
      socket.write('HTTP/1.1 502 Bad Gateway\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n');
    },
    error: (error) => error instanceof ProxyError && error.statusCode === 502,
  },
  {
    name: '101 is not a tunnel',
    answer: (socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n');
    },
    error: (error) => error instanceof ProxyError && error.statusCode === 101,
  },
  {
    name: 'garbage: a ResponseError naming the proxy, the parser’s error as its cause',
    answer: (socket) => {
      socket.write('SSH-2.0-OpenSSH\r\n\r\n');
    },
    error: (error) =>
      error instanceof ResponseError &&
      error.code === 'ERR_INVALID_RESPONSE' &&
      error.message.includes(PROXY) &&
      error.cause instanceof ResponseError,
  },
  {
    name: 'a head past 16 KiB: ResponseLimitError',
    answer: (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nx-filler: ${'a'.repeat(20_000)}\r\n`);
    },
    error: (error) => error instanceof ResponseLimitError && error.limit === 'maxHeaderSize',
  },
  {
    name: 'the proxy closes mid-head: SocketError',
    answer: (socket) =>
      writeSlowly(socket, ['HTTP/1.1 200 Conn', 'ection established\r\n']).then(() => {
        socket.end();
      }),
    error: (error) =>
      error instanceof SocketError &&
      error.message === `${PROXY} closed the connection before answering CONNECT`,
  },
  {
    name: 'the proxy resets the connection: SocketError with the cause',
    answer: (socket) => {
      socket.resetAndDestroy();
    },
    error: (error) => error instanceof SocketError,
  },
];

describe('establishTunnel against a fake proxy', async () => {
  let current: Case | undefined;
  const proxy = await startFakeProxy((socket) => current?.answer(socket));
  after(() => proxy.close());

  for (const c of cases) {
    test(c.name, async () => {
      current = c;
      const socket = await connected(proxy.port);
      const request = { ...target, authorization: 'Basic YTpi' };
      const events = ['readable', 'data', 'end', 'close', 'error'] as const;
      const listeners = events.map((event) => socket.listenerCount(event));
      const pending = establishTunnel(socket, request, { proxy: PROXY, timeout: 3000 });
      if (c.tunnel !== undefined) {
        const tunnel = await pending;
        assert.equal(tunnel, socket);
        try {
          assert.equal(await read(tunnel, c.tunnel.length), c.tunnel);
          // The exchange left nothing of its own on the socket (the reader above is gone too).
          assert.deepEqual(
            events.map((event) => tunnel.listenerCount(event)),
            listeners,
          );
          tunnel.write('up');
          await eventually(() => proxy.after.at(-1) === 'up', 2000, 'tunnel bytes upstream');
        } finally {
          tunnel.destroy();
        }
      } else {
        await assert.rejects(pending, c.error!);
        assert.equal(socket.destroyed, true);
      }
      assert.equal(
        proxy.heads.at(-1),
        'CONNECT origin.test:443 HTTP/1.1\r\nhost: origin.test:443\r\nproxy-authorization: Basic YTpi\r\n\r\n',
      );
    });
  }

  test('a proxy silent past the timeout: ConnectTimeoutError naming the budget', async () => {
    current = { name: 'silent', answer: () => {} };
    const clock = new FakeClock();
    const socket = await connected(proxy.port);
    const heads = proxy.heads.length;
    const pending = establishTunnel(socket, target, {
      proxy: PROXY,
      timeout: 400,
      budget: 1000,
      clock,
    });
    await eventually(() => proxy.heads.length > heads, 2000, 'the CONNECT head');
    clock.advance(399);
    assert.equal(socket.destroyed, false);
    clock.advance(1);
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof ConnectTimeoutError && error.message.includes('1000 ms'),
    );
    assert.equal(socket.destroyed, true);
    assert.equal(clock.pending, 0);
  });

  test('abort while waiting: the reason, the socket destroyed, no timer left', async () => {
    current = { name: 'silent', answer: () => {} };
    const clock = new FakeClock();
    const controller = new AbortController();
    const socket = await connected(proxy.port);
    const pending = establishTunnel(socket, target, {
      proxy: PROXY,
      timeout: 1000,
      clock,
      signal: controller.signal,
    });
    controller.abort(new Error('stop now'));
    await assert.rejects(pending, /stop now/);
    assert.equal(socket.destroyed, true);
    assert.equal(clock.pending, 0);
  });

  test('a bad request is refused without writing anything', async () => {
    const socket = await connected(proxy.port);
    const heads = proxy.heads.length;
    await assert.rejects(
      establishTunnel(socket, { hostname: 'a.test', port: 0 }, { proxy: PROXY, timeout: 1000 }),
      InvalidArgumentError,
    );
    assert.equal(socket.destroyed, true);
    assert.equal(proxy.heads.length, heads);
  });

  test('a socket already closed: SocketError at once', async () => {
    const socket = await connected(proxy.port);
    socket.destroy();
    await assert.rejects(
      establishTunnel(socket, target, { proxy: PROXY, timeout: Number.POSITIVE_INFINITY }),
      SocketError,
    );
  });
});
