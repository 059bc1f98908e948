import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { FakeClock } from '../../src/clock.js';
import { ConnectTimeoutError, InvalidArgumentError, SocketError } from '../../src/errors.js';
import { type DialOptions, dial, serverName } from '../../src/net/dial.js';
import { eventually } from '../helpers/servers.js';
import { makeCertificates } from '../helpers/tls.js';

async function listen(server: Server, path?: string): Promise<number> {
  await new Promise<void>((resolve) =>
    path === undefined ? server.listen(0, '127.0.0.1', resolve) : server.listen(path, resolve),
  );
  return path === undefined ? (server.address() as AddressInfo).port : 0;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

const base: DialOptions = { timeout: 2000, what: 'connecting to the test server' };

describe('dial: plain TCP and Unix sockets', () => {
  const sockets = new Set<Socket>();
  // Greets every connection, so the reads can be told apart.
  const greeter = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write('hello');
  });
  // Accepts and never says a word.
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  let port = 0;
  let silentPort = 0;
  let dir = '';
  before(async () => {
    port = await listen(greeter);
    silentPort = await listen(silent);
    dir = await mkdtemp(join(tmpdir(), 'httpool-dial-'));
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all([close(greeter), close(silent)]);
    await rm(dir, { recursive: true, force: true });
  });
  const tcp = () => ({ hostname: '127.0.0.1', port, secure: false });

  test('reads land in the shared buffer by default; nothing is negotiated', async () => {
    const dialed = await dial(tcp(), base);
    try {
      assert.ok(dialed.reads !== undefined);
      assert.equal(dialed.alpnProtocol, undefined);
      const got = await new Promise<string>((resolve) =>
        dialed.reads!.deliverTo((bytes) => resolve(bytes.toString('latin1'))),
      );
      assert.equal(got, 'hello');
    } finally {
      dialed.socket.destroy();
    }
  });

  test('sharedReads: false gives a socket read as a stream', async () => {
    const dialed = await dial(tcp(), { ...base, sharedReads: false });
    try {
      assert.equal(dialed.reads, undefined);
      const got = await new Promise<string>((resolve) =>
        dialed.socket.once('data', (bytes: Buffer) => resolve(bytes.toString('latin1'))),
      );
      assert.equal(got, 'hello');
    } finally {
      dialed.socket.destroy();
    }
  });

  test('socketPath connects there instead of to hostname:port', async () => {
    const path = join(dir, 'greeter.sock');
    const local = createServer((socket) => socket.end('over unix'));
    await listen(local, path);
    try {
      const dialed = await dial(
        { hostname: 'ignored.test', port: 1, secure: false, socketPath: path },
        {
          ...base,
          sharedReads: false,
        },
      );
      const got = await new Promise<string>((resolve) =>
        dialed.socket.once('data', (bytes: Buffer) => resolve(bytes.toString('latin1'))),
      );
      assert.equal(got, 'over unix');
      dialed.socket.destroy();
    } finally {
      await close(local);
    }
  });

  test('a refused connection: SocketError saying what was tried, the cause kept', async () => {
    const gone = createServer();
    const free = await listen(gone);
    await close(gone);
    await assert.rejects(
      dial({ hostname: '127.0.0.1', port: free, secure: false }, base),
      (error: unknown) =>
        error instanceof SocketError &&
        error.message.startsWith('connecting to the test server failed: ') &&
        (error.cause as { code?: string }).code === 'ECONNREFUSED',
    );
  });

  test('a pre-aborted signal never connects', async () => {
    let accepted = 0;
    greeter.once('connection', () => accepted++);
    await assert.rejects(
      dial(tcp(), { ...base, signal: AbortSignal.abort(new Error('no')) }),
      /^Error: no$/,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(accepted, 0);
  });

  test('TLS over a socket must be TLS', async () => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    try {
      await assert.rejects(
        dial(tcp(), { ...base, over: socket }),
        (error: unknown) => error instanceof InvalidArgumentError,
      );
    } finally {
      socket.destroy();
    }
  });

  test('a TLS handshake that never completes: ConnectTimeoutError on the clock, naming the budget', async () => {
    const clock = new FakeClock();
    const accepted = sockets.size;
    const pending = dial(
      { hostname: '127.0.0.1', port: silentPort, secure: true },
      { ...base, timeout: 300, budget: 5000, clock, tls: { rejectUnauthorized: false } },
    );
    await eventually(() => sockets.size > accepted, 2000, 'the connection');
    clock.advance(299);
    clock.advance(1);
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof ConnectTimeoutError && error.message.includes('5000 ms'),
    );
    assert.equal(clock.pending, 0);
  });

  test('abort during the handshake: the reason, and no timer left behind', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const pending = dial(
      { hostname: '127.0.0.1', port: silentPort, secure: true },
      { ...base, clock, signal: controller.signal, tls: { rejectUnauthorized: false } },
    );
    controller.abort(new Error('stop'));
    await assert.rejects(pending, /stop/);
    assert.equal(clock.pending, 0);
  });
});

describe('dial: TLS', () => {
  const certs = makeCertificates();
  const seen: { servername: string | false; alpn: string | false | null }[] = [];
  const server = createTlsServer(
    { key: certs.key, cert: certs.cert, ALPNProtocols: ['h2', 'http/1.1'] },
    (socket: TLSSocket) => {
      seen.push({
        servername: (socket as TLSSocket & { servername: string | false }).servername,
        alpn: socket.alpnProtocol,
      });
      socket.on('error', () => {});
      socket.write('secret hello');
    },
  );
  server.on('tlsClientError', () => {});
  let port = 0;
  before(async () => {
    port = await listen(server);
  });
  after(() => close(server));
  const secure = (hostname = 'localhost') => ({ hostname, port, secure: true });
  const tls = { ca: certs.ca };
  /** What the server saw of the next handshake (it may finish after the client's side). */
  const next = async (run: () => Promise<Socket>) => {
    const count = seen.length;
    const socket = await run();
    try {
      await eventually(() => seen.length > count, 2000, 'the server side of the handshake');
    } finally {
      socket.destroy();
    }
    return seen[count]!;
  };

  test('resolves after the handshake, certificate checked; SNI is the host name', async () => {
    const server = await next(async () => {
      const dialed = await dial(secure(), { ...base, tls });
      assert.equal((dialed.socket as TLSSocket).authorized, true);
      assert.ok(dialed.reads !== undefined, 'a TLS socket of its own reads into the shared buffer');
      assert.equal(dialed.alpnProtocol, undefined, 'nothing offered, nothing negotiated');
      return dialed.socket;
    });
    assert.deepEqual(server, { servername: 'localhost', alpn: false });
  });

  test('ALPN: the protocols offered go out, the one the server chose comes back', async () => {
    for (const [offered, chosen] of [
      [['h2', 'http/1.1'], 'h2'],
      [['http/1.1'], 'http/1.1'],
    ] as const) {
      const server = await next(async () => {
        const dialed = await dial(secure(), { ...base, tls, ALPNProtocols: offered });
        assert.equal(dialed.alpnProtocol, chosen);
        return dialed.socket;
      });
      assert.equal(server.alpn, chosen);
    }
  });

  test('the server name: target first, then tls.servername, none for an IP address', async () => {
    assert.equal(serverName('127.0.0.1'), '');
    assert.equal(serverName('::1'), '');
    assert.equal(serverName('a.test'), 'a.test');
    const cases: [Parameters<typeof dial>[0], DialOptions, string | false][] = [
      [secure('127.0.0.1'), { ...base, tls }, false],
      [
        { ...secure('127.0.0.1'), servername: 'localhost' },
        { ...base, tls: { ...tls, servername: 'other.test' } },
        'localhost',
      ],
      [secure('127.0.0.1'), { ...base, tls: { ...tls, servername: 'localhost' } }, 'localhost'],
    ];
    for (const [target, options, expected] of cases) {
      const server = await next(async () => (await dial(target, options)).socket);
      assert.equal(server.servername, expected);
    }
  });

  test('TLS over an open socket: no shared reads; both destroyed when the handshake fails', async () => {
    const open = () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port });
        socket.once('connect', () => resolve(socket));
        socket.once('error', reject);
      });
    const under = await open();
    const dialed = await dial(secure(), { ...base, tls, over: under });
    try {
      assert.equal(dialed.reads, undefined);
      const got = await new Promise<string>((resolve) =>
        dialed.socket.once('data', (bytes: Buffer) => resolve(bytes.toString('latin1'))),
      );
      assert.equal(got, 'secret hello');
    } finally {
      dialed.socket.destroy();
    }
    // Not trusted without the CA.
    const untrusted = await open();
    await assert.rejects(
      dial(secure(), { ...base, over: untrusted }),
      (error: unknown) => error instanceof SocketError && error.cause !== undefined,
    );
    assert.equal(untrusted.destroyed, true);
  });
});
