import assert from 'node:assert/strict';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { ConnectionPool } from '../../src/client/connection-pool.js';
import { openTunnel } from '../../src/client/connector.js';
import { parseOrigin } from '../../src/client/origin.js';
import {
  absoluteTarget,
  type ProxyConfig,
  ProxyError,
  parseProxy,
  proxyForUrl,
} from '../../src/client/proxy.js';
import {
  ConnectTimeoutError,
  InvalidArgumentError,
  ResponseLimitError,
  SocketError,
} from '../../src/errors.js';
import { startProxyServer } from '../helpers/proxy-server.js';
import { startHttpServer } from '../helpers/servers.js';
import { makeCertificates, startTlsServer } from '../helpers/tls.js';

const basic = (userPass: string) => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;

/** Rejection check with a bound, so a hang fails the test instead of the run. */
async function rejectsWithin<T>(promise: Promise<T>, ms = 3000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, bound]);
  } catch (error) {
    return error;
  } finally {
    clearTimeout(timer);
  }
  throw new Error('expected a rejection');
}

/** Reads from `socket` until `expected` bytes have arrived (bounded). */
function readBytes(socket: Socket, expected: number, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`only got ${JSON.stringify(got)}`)), ms);
    const onData = (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (got.length >= expected) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
  });
}

/** A raw TCP server on 127.0.0.1 that runs `onSocket` per connection and records bytes in. */
async function startTcp(onSocket: (socket: Socket, received: { data: string }) => void) {
  const sockets = new Set<Socket>();
  const received: Array<{ data: string }> = [];
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const entry = { data: '' };
    received.push(entry);
    socket.on('data', (chunk: Buffer) => {
      entry.data += chunk.toString('latin1');
    });
    onSocket(socket, entry);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('parseProxy', () => {
  test('credentials become a percent-decoded Basic Proxy-Authorization value', () => {
    const proxy = parseProxy('http://us%40er:p%3Ass%20w%C3%B6rd@127.0.0.1:3128');
    assert.equal(proxy.authorization, basic('us@er:p:ss wörd'));
    assert.equal(proxy.origin.origin, 'http://127.0.0.1:3128');
    assert.equal(proxy.origin.port, 3128);
  });

  test('a user without password is sent as "user:"; no credentials means no header', () => {
    assert.equal(parseProxy('http://alice@proxy.test:8080').authorization, basic('alice:'));
    const plain = parseProxy(new URL('http://proxy.test:8080/'));
    assert.equal(plain.authorization, undefined);
    assert.equal(plain.key, 'http://proxy.test:8080');
    assert.equal('authorization' in plain, false);
  });

  test('default port 80 (443 for https:) and IPv6 hosts', () => {
    assert.equal(parseProxy('http://proxy.test').origin.port, 80);
    const secure = parseProxy('https://alice:hunter2@proxy.test');
    assert.equal(secure.origin.protocol, 'https:');
    assert.equal(secure.origin.port, 443);
    assert.equal(secure.authorization, basic('alice:hunter2'));
    assert.ok(secure.key.startsWith('https://proxy.test#'), secure.key);
    assert.notEqual(secure.key, parseProxy('http://alice:hunter2@proxy.test:443').key);
    const v6 = parseProxy('http://[::1]:3128');
    assert.equal(v6.origin.hostname, '::1');
    assert.equal(v6.origin.port, 3128);
  });

  test('the key differs by credentials, is stable, and never contains the password', () => {
    const a = parseProxy('http://alice:hunter2@proxy.test:3128');
    const a2 = parseProxy('http://alice:hunter2@proxy.test:3128');
    const b = parseProxy('http://alice:other-pass@proxy.test:3128');
    const c = parseProxy('http://bob:hunter2@proxy.test:3128');
    const none = parseProxy('http://proxy.test:3128');
    assert.equal(a.key, a2.key);
    assert.equal(new Set([a.key, b.key, c.key, none.key]).size, 4);
    for (const key of [a.key, b.key, c.key]) {
      assert.ok(key.startsWith('http://proxy.test:3128#'), key);
      assert.ok(!key.includes('hunter2') && !key.includes('other-pass'), key);
      assert.ok(!key.includes(Buffer.from('alice:hunter2').toString('base64')), key);
    }
  });

  for (const [name, input] of [
    ['not a URL', 'user:s3cr3tpass@ not a url'],
    ['socks5: proxy', 'socks5://user:s3cr3tpass@proxy.test:1080'],
    ['a path', 'http://user:s3cr3tpass@proxy.test/some/path'],
    ['a query', 'http://user:s3cr3tpass@proxy.test/?q=1'],
    ['bad percent-encoding in the password', 'http://user:%ZZs3cr3tpass@proxy.test'],
    ['":" in the user name', 'http://us%3Aer:s3cr3tpass@proxy.test'],
  ] as const) {
    test(`refuses ${name} without echoing the password`, () => {
      assert.throws(
        () => parseProxy(input),
        (error: unknown) => {
          assert.ok(error instanceof InvalidArgumentError);
          assert.equal(error.code, 'ERR_INVALID_ARG');
          assert.ok(!error.message.includes('s3cr3tpass'), error.message);
          return true;
        },
      );
    });
  }
});

describe('proxyForUrl', () => {
  const P = 'http://proxy.test:3128';
  const Q = 'http://other-proxy.test:8080';
  /** [description, target URL, env, expected proxy origin or undefined] */
  const cases: Array<[string, string, NodeJS.ProcessEnv, string | undefined]> = [
    ['no variables: direct', 'http://a.test/', {}, undefined],
    ['http: uses http_proxy', 'http://a.test/', { http_proxy: P }, P],
    [
      'http: ignores upper-case HTTP_PROXY (httpoxy)',
      'http://a.test/',
      { HTTP_PROXY: P },
      undefined,
    ],
    ['http: does not use https_proxy', 'http://a.test/', { https_proxy: P }, undefined],
    ['https: uses HTTPS_PROXY', 'https://a.test/', { HTTPS_PROXY: P }, P],
    ['https: uses https_proxy', 'https://a.test/', { https_proxy: P }, P],
    ['https: lower case wins', 'https://a.test/', { https_proxy: P, HTTPS_PROXY: Q }, P],
    [
      'https: empty lower case counts as unset',
      'https://a.test/',
      { https_proxy: ' ', HTTPS_PROXY: Q },
      Q,
    ],
    ['https: does not use http_proxy', 'https://a.test/', { http_proxy: P }, undefined],
    [
      'a value without scheme means http://',
      'https://a.test/',
      { https_proxy: 'proxy.test:3128' },
      P,
    ],
    ['ALL_PROXY is not read', 'https://a.test/', { ALL_PROXY: P, all_proxy: P }, undefined],
    ['NO_PROXY exact host', 'https://a.test/', { https_proxy: P, NO_PROXY: 'a.test' }, undefined],
    [
      'NO_PROXY name matches subdomains',
      'https://x.y.a.test/',
      { https_proxy: P, NO_PROXY: 'a.test' },
      undefined,
    ],
    [
      'NO_PROXY name is not a bare suffix',
      'https://bada.test/',
      { https_proxy: P, NO_PROXY: 'a.test' },
      P,
    ],
    [
      'NO_PROXY leading dot matches subdomains',
      'https://x.a.test/',
      { https_proxy: P, NO_PROXY: '.a.test' },
      undefined,
    ],
    [
      'NO_PROXY leading dot matches the apex (curl)',
      'https://a.test/',
      { https_proxy: P, NO_PROXY: '.a.test' },
      undefined,
    ],
    [
      'NO_PROXY is case-insensitive',
      'https://X.A.Test/',
      { https_proxy: P, NO_PROXY: 'a.TEST' },
      undefined,
    ],
    [
      'NO_PROXY ignores trailing dots',
      'https://x.a.test./',
      { https_proxy: P, NO_PROXY: 'a.test.' },
      undefined,
    ],
    ['NO_PROXY "*" is everything', 'https://a.test/', { https_proxy: P, NO_PROXY: '*' }, undefined],
    [
      'NO_PROXY "*" as a list entry',
      'https://a.test/',
      { https_proxy: P, NO_PROXY: 'b.test, *' },
      undefined,
    ],
    [
      'NO_PROXY list with spaces and commas',
      'https://c.test/',
      { https_proxy: P, NO_PROXY: ' a.test ,b.test  c.test,' },
      undefined,
    ],
    [
      'NO_PROXY list without a match',
      'https://d.test/',
      { https_proxy: P, NO_PROXY: 'a.test,b.test,c.test' },
      P,
    ],
    [
      'NO_PROXY host:port matches that port',
      'https://a.test:8443/',
      { https_proxy: P, NO_PROXY: 'a.test:8443' },
      undefined,
    ],
    [
      'NO_PROXY host:port other port',
      'https://a.test/',
      { https_proxy: P, NO_PROXY: 'a.test:8443' },
      P,
    ],
    [
      'NO_PROXY host:port default port',
      'https://a.test/',
      { https_proxy: P, NO_PROXY: 'a.test:443' },
      undefined,
    ],
    [
      'NO_PROXY IPv4 address',
      'http://10.1.2.3/',
      { http_proxy: P, NO_PROXY: '10.1.2.3' },
      undefined,
    ],
    [
      'NO_PROXY IPv4 CIDR',
      'http://10.1.2.3:8080/',
      { http_proxy: P, NO_PROXY: '10.0.0.0/8' },
      undefined,
    ],
    ['NO_PROXY IPv4 CIDR miss', 'http://11.1.2.3/', { http_proxy: P, NO_PROXY: '10.0.0.0/8' }, P],
    [
      'NO_PROXY IP does not match a name',
      'http://localhost/',
      { http_proxy: P, NO_PROXY: '127.0.0.1' },
      P,
    ],
    [
      'NO_PROXY name does not match an IP',
      'http://127.0.0.1/',
      { http_proxy: P, NO_PROXY: 'localhost' },
      P,
    ],
    ['NO_PROXY no loopback exemption (curl)', 'http://127.0.0.1/', { http_proxy: P }, P],
    [
      'NO_PROXY partial IP is not a suffix',
      'http://110.1.2.3/',
      { http_proxy: P, NO_PROXY: '0.1.2.3' },
      P,
    ],
    ['NO_PROXY IPv6 address', 'https://[::1]/', { https_proxy: P, NO_PROXY: '::1' }, undefined],
    [
      'NO_PROXY bracketed IPv6 with port',
      'https://[::1]:8443/',
      { https_proxy: P, NO_PROXY: '[::1]:8443' },
      undefined,
    ],
    [
      'NO_PROXY IPv6 CIDR',
      'https://[fd00::5]/',
      { https_proxy: P, NO_PROXY: 'fd00::/8' },
      undefined,
    ],
    [
      'no_proxy wins over NO_PROXY',
      'https://a.test/',
      { https_proxy: P, no_proxy: 'b.test', NO_PROXY: 'a.test' },
      P,
    ],
    [
      'empty no_proxy falls back to NO_PROXY',
      'https://a.test/',
      { https_proxy: P, no_proxy: '', NO_PROXY: 'a.test' },
      undefined,
    ],
  ];
  for (const [name, target, env, expected] of cases) {
    test(name, () => {
      assert.equal(proxyForUrl(new URL(target), env)?.origin.origin, expected);
    });
  }

  test('accepts an Origin and carries credentials from the variable', () => {
    const proxy = proxyForUrl(parseOrigin('https://a.test'), {
      https_proxy: 'http://u:p%40ss@proxy.test:3128',
    });
    assert.equal(proxy?.authorization, basic('u:p@ss'));
  });

  test('non-http targets get no proxy', () => {
    assert.equal(proxyForUrl(new URL('ftp://a.test/'), { ftp_proxy: P, http_proxy: P }), undefined);
  });

  test('an unusable variable fails loudly, naming the variable but not its value', () => {
    assert.throws(
      () =>
        proxyForUrl(new URL('https://a.test/'), { HTTPS_PROXY: 'socks5://u:s3cr3tpass@p.test' }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.match(error.message, /https_proxy/);
        assert.ok(!error.message.includes('s3cr3tpass'), error.message);
        return true;
      },
    );
  });

  test('defaults to process.env', () => {
    const name = 'https_proxy';
    const saved = process.env[name];
    process.env[name] = P;
    try {
      assert.equal(proxyForUrl(new URL('https://zzz.test/'))?.origin.origin, P);
    } finally {
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    }
  });
});

describe('absoluteTarget', () => {
  test('writes scheme, host, explicit port and path (RFC 9112 §3.2.2)', () => {
    assert.equal(absoluteTarget(parseOrigin('http://a.test'), '/x?y=1'), 'http://a.test:80/x?y=1');
    assert.equal(
      absoluteTarget(parseOrigin('http://127.0.0.1:8080'), '/'),
      'http://127.0.0.1:8080/',
    );
    assert.equal(absoluteTarget(parseOrigin('http://[::1]:81'), '/p'), 'http://[::1]:81/p');
  });

  test('"*" becomes an empty path (RFC 9112 §3.2.4); "//x" stays a path on the target', () => {
    assert.equal(absoluteTarget(parseOrigin('http://a.test:8080'), '*'), 'http://a.test:8080');
    assert.equal(
      absoluteTarget(parseOrigin('http://a.test'), '//b.test/x'),
      'http://a.test:80//b.test/x',
    );
  });

  test('an absolute path must name the same origin, so the proxy cannot be steered elsewhere', () => {
    const target = parseOrigin('http://a.test:8080');
    assert.equal(absoluteTarget(target, 'http://A.test:8080/x?y'), 'http://a.test:8080/x?y');
    for (const path of [
      'http://b.test:8080/x',
      'http://a.test/x',
      'https://a.test:8080/x',
      'x',
      '',
    ]) {
      assert.throws(() => absoluteTarget(target, path), InvalidArgumentError, path);
    }
  });
});

describe('openTunnel', async () => {
  const proxy = await startProxyServer();
  const authProxy = await startProxyServer({ requireAuthorization: basic('alice:hunter2') });
  const refusing = await startProxyServer({ refuseConnect: 403 });
  // Echoes everything back, upper-cased, so both directions are visible.
  const echo = await startTcp((socket) => {
    socket.on('data', (chunk: Buffer) => socket.write(chunk.toString('latin1').toUpperCase()));
  });
  after(async () => {
    await Promise.all([proxy.close(), authProxy.close(), refusing.close(), echo.close()]);
  });
  const target = { hostname: '127.0.0.1', port: echo.port };

  test('data flows both ways through the tunnel', async () => {
    const socket = await openTunnel(parseProxy(proxy.url), target, { connectTimeout: 2000 });
    try {
      socket.write('hello tunnel');
      assert.equal(await readBytes(socket, 12), 'HELLO TUNNEL');
      const seen = proxy.requests.at(-1);
      assert.equal(seen?.method, 'CONNECT');
      assert.equal(seen?.url, `127.0.0.1:${echo.port}`);
      assert.deepEqual(seen?.rawHeaders.slice(0, 2), ['host', `127.0.0.1:${echo.port}`]);
      assert.ok(proxy.tunnels.includes(`127.0.0.1:${echo.port}`));
    } finally {
      socket.destroy();
    }
  });

  test('credentials go on the CONNECT only, never into the tunnel', async () => {
    const config = parseProxy(`http://alice:hunter2@127.0.0.1:${authProxy.port}`);
    const socket = await openTunnel(config, target, {
      connectTimeout: 2000,
      headers: { 'user-agent': 'httpool-test' },
    });
    try {
      socket.write('ping');
      assert.equal(await readBytes(socket, 4), 'PING');
      const seen = authProxy.requests.at(-1);
      assert.equal(seen?.proxyAuthorization, basic('alice:hunter2'));
      assert.ok(seen?.rawHeaders.includes('httpool-test'));
      const inTunnel = echo.received.at(-1)?.data ?? '';
      assert.equal(inTunnel, 'ping');
    } finally {
      socket.destroy();
    }
  });

  test('407 without credentials is a ProxyError with statusCode', async () => {
    const error = await rejectsWithin(
      openTunnel(parseProxy(authProxy.url), target, { connectTimeout: 2000 }),
    );
    assert.ok(error instanceof ProxyError, String(error));
    assert.equal(error.code, 'ERR_PROXY');
    assert.equal(error.statusCode, 407);
  });

  test('wrong credentials: 407, and the message does not carry the password', async () => {
    const config = parseProxy(`http://alice:wrong-pass@127.0.0.1:${authProxy.port}`);
    const error = await rejectsWithin(openTunnel(config, target, { connectTimeout: 2000 }));
    assert.ok(error instanceof ProxyError);
    assert.equal(error.statusCode, 407);
    assert.ok(!error.message.includes('wrong-pass'));
  });

  test('403 from the proxy is a ProxyError', async () => {
    const error = await rejectsWithin(
      openTunnel(parseProxy(refusing.url), target, { connectTimeout: 2000 }),
    );
    assert.ok(error instanceof ProxyError);
    assert.equal(error.statusCode, 403);
  });

  test('a proxy that never answers: ConnectTimeoutError, socket closed', async () => {
    const silent = await startTcp(() => {});
    try {
      const started = Date.now();
      const error = await rejectsWithin(
        openTunnel(parseProxy(`http://127.0.0.1:${silent.port}`), target, { connectTimeout: 150 }),
      );
      assert.ok(error instanceof ConnectTimeoutError, String(error));
      assert.ok(Date.now() - started < 2000);
      assert.match(silent.received[0]?.data ?? '', /^CONNECT 127\.0\.0\.1:\d+ HTTP\/1\.1\r\n/);
    } finally {
      await silent.close();
    }
  });

  test('abort while waiting for the answer rejects with the reason; pre-aborted never connects', async () => {
    const silent = await startTcp(() => {});
    try {
      const controller = new AbortController();
      const pending = openTunnel(parseProxy(`http://127.0.0.1:${silent.port}`), target, {
        connectTimeout: 5000,
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(new Error('stop now')), 50);
      const error = await rejectsWithin(pending);
      assert.ok(error instanceof Error);
      assert.equal(error.message, 'stop now');

      const before = silent.received.length;
      const early = await rejectsWithin(
        openTunnel(parseProxy(`http://127.0.0.1:${silent.port}`), target, {
          connectTimeout: 5000,
          signal: AbortSignal.abort(),
        }),
      );
      assert.equal((early as Error).name, 'AbortError');
      assert.equal(silent.received.length, before);
    } finally {
      await silent.close();
    }
  });

  test('bytes sent right after the 200 head are delivered as tunnel data', async () => {
    const eager = await startTcp((socket) => {
      socket.once('data', () => {
        // One write: head and the first tunnel bytes arrive together.
        socket.write('HTTP/1.1 200 Connection Established\r\nx-a: b\r\n\r\nearly bytes|');
        setTimeout(() => socket.write('later bytes'), 20);
      });
    });
    try {
      const socket = await openTunnel(parseProxy(`http://127.0.0.1:${eager.port}`), target, {
        connectTimeout: 2000,
      });
      try {
        assert.equal(await readBytes(socket, 23), 'early bytes|later bytes');
      } finally {
        socket.destroy();
      }
    } finally {
      await eager.close();
    }
  });

  test('1xx interim answers are skipped; a head split across packets is parsed', async () => {
    const slow = await startTcp((socket) => {
      socket.once('data', async () => {
        const parts = ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2', '00 OK\r\n', '\r\ntunnel'];
        for (const part of parts) {
          socket.write(part);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });
    });
    try {
      const socket = await openTunnel(parseProxy(`http://127.0.0.1:${slow.port}`), target, {
        connectTimeout: 2000,
      });
      try {
        assert.equal(await readBytes(socket, 6), 'tunnel');
      } finally {
        socket.destroy();
      }
    } finally {
      await slow.close();
    }
  });

  test('a proxy closing before it answers: SocketError', async () => {
    const rude = await startTcp((socket) => socket.once('data', () => socket.end()));
    try {
      const error = await rejectsWithin(
        openTunnel(parseProxy(`http://127.0.0.1:${rude.port}`), target, { connectTimeout: 2000 }),
      );
      assert.ok(error instanceof SocketError, String(error));
    } finally {
      await rude.close();
    }
  });

  test('an unreachable proxy: SocketError with the cause', async () => {
    const closed = await startTcp(() => {});
    const port = closed.port;
    await closed.close();
    const error = await rejectsWithin(
      openTunnel(parseProxy(`http://127.0.0.1:${port}`), target, { connectTimeout: 2000 }),
    );
    assert.ok(error instanceof SocketError);
    assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED');
  });

  test('an endless head hits the 16 KiB limit', async () => {
    const chatty = await startTcp((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\n');
        socket.write(`x-filler: ${'a'.repeat(20_000)}\r\n`);
      });
    });
    try {
      const error = await rejectsWithin(
        openTunnel(parseProxy(`http://127.0.0.1:${chatty.port}`), target, { connectTimeout: 2000 }),
      );
      assert.ok(error instanceof ResponseLimitError, String(error));
    } finally {
      await chatty.close();
    }
  });

  test('a garbage answer is a ResponseError', async () => {
    const garbage = await startTcp((socket) => {
      socket.once('data', () => socket.write('SSH-2.0-OpenSSH\r\n\r\n'));
    });
    try {
      const error = await rejectsWithin(
        openTunnel(parseProxy(`http://127.0.0.1:${garbage.port}`), target, {
          connectTimeout: 2000,
        }),
      );
      assert.equal((error as { code?: string }).code, 'ERR_INVALID_RESPONSE');
    } finally {
      await garbage.close();
    }
  });

  test('bad targets and header injection are refused before connecting', async () => {
    const config: ProxyConfig = parseProxy(proxy.url);
    const before = proxy.requests.length;
    for (const [badTarget, headers] of [
      [{ hostname: 'a.test\r\nx: y', port: 443 }, undefined],
      [{ hostname: 'a.test', port: 0 }, undefined],
      [{ hostname: 'a.test', port: 70000 }, undefined],
      [{ hostname: 'a.test', port: 443 }, { 'x-evil': 'a\r\nproxy-authorization: x' }],
      [{ hostname: 'a.test', port: 443 }, { 'bad name': 'v' }],
      [{ hostname: 'a.test', port: 443 }, { Host: 'other.test' }],
    ] as const) {
      const error = await rejectsWithin(
        openTunnel(config, badTarget, { connectTimeout: 1000, headers }),
      );
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.ok(!error.message.includes('proxy-authorization: x'));
    }
    assert.equal(proxy.requests.length, before);
  });

  test('TLS over the tunnel to a local https server, certificate checked', async (t) => {
    let certs: ReturnType<typeof makeCertificates>;
    try {
      certs = makeCertificates();
    } catch {
      t.skip('openssl CLI not available');
      return;
    }
    const server = await startTlsServer(certs);
    const tunnel = await openTunnel(
      parseProxy(`http://alice:hunter2@127.0.0.1:${authProxy.port}`),
      { hostname: 'localhost', port: server.port },
      { connectTimeout: 2000 },
    );
    const secure = tlsConnect({ socket: tunnel, servername: 'localhost', ca: certs.ca });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no handshake')), 3000);
        secure.once('secureConnect', () => {
          clearTimeout(timer);
          resolve();
        });
        secure.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      assert.equal(secure.authorized, true);
      secure.write('GET /through-the-tunnel HTTP/1.1\r\nhost: localhost\r\n\r\n');
      const expected = 'HTTP/1.1 200 OK\r\ncontent-length: 19\r\n\r\n/through-the-tunnel';
      const answer = await readBytes(secure as unknown as Socket, expected.length);
      assert.equal(answer, expected);
      assert.equal(server.handshakes.at(-1)?.servername, 'localhost');
      assert.equal(authProxy.tunnels.at(-1), `localhost:${server.port}`);
    } finally {
      secure.destroy();
      await server.close();
    }
  });
});

describe('plain http: through a proxy (absolute-form, today without pool integration)', async () => {
  const origin = await startHttpServer((req, res) => {
    const body = JSON.stringify({
      url: req.url,
      host: req.headers.host,
      proxyAuthorization: req.headers['proxy-authorization'] ?? null,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  const proxy = await startProxyServer({ requireAuthorization: basic('alice:hunter2') });
  after(async () => {
    await Promise.all([origin.close(), proxy.close()]);
  });

  test('a pool pointed at the proxy sends absolute-form with Proxy-Authorization', async () => {
    const config = parseProxy(`http://alice:hunter2@127.0.0.1:${proxy.port}`);
    const target = parseOrigin(origin.origin);
    const pool = new ConnectionPool(config.origin.origin);
    try {
      const res = await pool.request({
        path: absoluteTarget(target, '/hello?x=1'),
        headers: { host: target.host, 'proxy-authorization': config.authorization ?? '' },
      });
      assert.equal(res.status, 200);
      const seenByOrigin = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(seenByOrigin, {
        url: '/hello?x=1',
        host: target.host,
        proxyAuthorization: null,
      });
      const seenByProxy = proxy.requests.at(-1);
      assert.equal(seenByProxy?.url, `http://127.0.0.1:${origin.port}/hello?x=1`);
      assert.equal(seenByProxy?.proxyAuthorization, config.authorization);
    } finally {
      await pool.close();
    }
  });
});
