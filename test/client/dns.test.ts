import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createH2cServer, type ServerHttp2Stream } from 'node:http2';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AddressedPool,
  DnsCache,
  OriginAddresses,
  orderAddresses,
} from '../../src/client/dns.js';
import { FakeClock } from '../../src/clock.js';
import {
  type AddressRecord,
  Agent,
  type DnsResolver,
  InvalidArgumentError,
  SocketError,
} from '../../src/index.js';
import { makeCertificates, startTlsServer } from '../helpers/tls.js';

/** A resolver answering from a table the test changes; it counts what it is asked. */
class FakeResolver implements DnsResolver {
  /** name -> records by family; a name missing from both is not found. */
  v4 = new Map<string, AddressRecord[]>();
  v6 = new Map<string, AddressRecord[]>();
  /** What the system lookup knows (/etc/hosts, say). */
  system = new Map<string, LookupAddress[]>();
  calls = { resolve4: 0, resolve6: 0, lookup: 0 };
  /** Held answers wait for this (to make lookups overlap); resolved by default. */
  gate: Promise<void> = Promise.resolve();

  #notFound(name: string): Error {
    return Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  }

  async resolve4(name: string): Promise<readonly AddressRecord[]> {
    this.calls.resolve4++;
    await this.gate;
    const found = this.v4.get(name);
    if (found === undefined) throw this.#notFound(name);
    return found;
  }

  async resolve6(name: string): Promise<readonly AddressRecord[]> {
    this.calls.resolve6++;
    await this.gate;
    const found = this.v6.get(name);
    if (found === undefined) throw this.#notFound(name);
    return found;
  }

  async lookup(name: string): Promise<readonly LookupAddress[]> {
    this.calls.lookup++;
    await this.gate;
    const found = this.system.get(name);
    if (found === undefined) throw this.#notFound(name);
    return found;
  }
}

const v4 = (address: string, ttl = 60): AddressRecord => ({ address, ttl });

describe('DnsCache', () => {
  test('an answer is kept for its shortest record TTL, then looked up again', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    resolver.v4.set('a.test', [v4('127.0.0.1', 5), v4('127.0.0.2', 9)]);
    const cache = new DnsCache({ resolver }, clock);
    const first = await cache.resolve('a.test');
    assert.deepEqual(
      first.addresses.map((a) => a.address),
      ['127.0.0.1', '127.0.0.2'],
    );
    assert.equal(first.expiresAt, 5000);
    clock.advance(4999);
    await cache.resolve('a.test');
    assert.equal(resolver.calls.resolve4, 1, 'a hit before the TTL');
    clock.advance(1);
    resolver.v4.set('a.test', [v4('127.0.0.3', 5)]);
    const second = await cache.resolve('A.TEST');
    assert.equal(resolver.calls.resolve4, 2, 'a lookup at the TTL');
    assert.deepEqual(
      second.addresses.map((a) => a.address),
      ['127.0.0.3'],
    );
    assert.deepEqual(cache.stats(), {
      lookups: 2,
      hits: 1,
      coalesced: 0,
      failures: 0,
      refreshes: 0,
      entries: 1,
    });
  });

  test('TTLs are held within minTtl and ttl', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    resolver.v4.set('long.test', [v4('127.0.0.1', 86_400)]);
    resolver.v4.set('zero.test', [v4('127.0.0.1', 0)]);
    const cache = new DnsCache({ resolver, ttl: 20_000, minTtl: 500 }, clock);
    assert.equal((await cache.resolve('long.test')).expiresAt, 20_000);
    assert.equal((await cache.resolve('zero.test')).expiresAt, 500);
  });

  test('names the DNS servers cannot answer go to the system lookup, kept for ttl', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    resolver.system.set('hosts-only', [{ address: '127.0.0.1', family: 4 }]);
    resolver.system.set('localhost', [{ address: '::1', family: 6 }]);
    const cache = new DnsCache({ resolver, ttl: 7000 }, clock);
    const answer = await cache.resolve('hosts-only');
    assert.deepEqual(answer.addresses, [{ address: '127.0.0.1', family: 4 }]);
    assert.equal(answer.expiresAt, 7000);
    assert.equal(resolver.calls.resolve4, 1);
    assert.equal(resolver.calls.lookup, 1);
    // localhost is never asked of DNS servers (RFC 6761).
    assert.deepEqual((await cache.resolve('localhost')).addresses, [{ address: '::1', family: 6 }]);
    assert.equal(resolver.calls.resolve4, 1);
    assert.equal(resolver.calls.lookup, 2);
  });

  test('DNS servers that do not answer are skipped for a while: names go to the system', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    const down = () =>
      Promise.reject(Object.assign(new Error('queryA ETIMEOUT'), { code: 'ETIMEOUT' }));
    resolver.resolve4 = () => {
      resolver.calls.resolve4++;
      return down();
    };
    resolver.resolve6 = () => {
      resolver.calls.resolve6++;
      return down();
    };
    resolver.system.set('a.test', [{ address: '127.0.0.1', family: 4 }]);
    resolver.system.set('b.test', [{ address: '127.0.0.2', family: 4 }]);
    const cache = new DnsCache({ resolver }, clock);
    assert.equal((await cache.resolve('a.test')).addresses[0]?.address, '127.0.0.1');
    assert.equal(resolver.calls.resolve4, 1);
    assert.equal((await cache.resolve('b.test')).addresses[0]?.address, '127.0.0.2');
    assert.equal(resolver.calls.resolve4, 1, 'not asked again while down');
    assert.equal(resolver.calls.lookup, 2);
    clock.advance(30_000);
    resolver.system.set('c.test', [{ address: '127.0.0.3', family: 4 }]);
    await cache.resolve('c.test');
    assert.equal(resolver.calls.resolve4, 2, 'asked again after a while');
  });

  test('a failure is remembered for negativeTtl, then asked again', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    const cache = new DnsCache({ resolver, negativeTtl: 300 }, clock);
    await assert.rejects(cache.resolve('gone.test'), { code: 'ENOTFOUND' });
    await assert.rejects(cache.resolve('gone.test'), { code: 'ENOTFOUND' });
    assert.equal(resolver.calls.lookup, 1, 'the second failure came from the cache');
    clock.advance(300);
    resolver.v4.set('gone.test', [v4('127.0.0.1')]);
    assert.equal((await cache.resolve('gone.test')).addresses[0]?.address, '127.0.0.1');
    assert.equal(cache.stats().failures, 1);
  });

  test('beyond maxEntries the least recently used name goes', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    for (const name of ['a.test', 'b.test', 'c.test']) resolver.v4.set(name, [v4('127.0.0.1')]);
    const cache = new DnsCache({ resolver, maxEntries: 2 }, clock);
    await cache.resolve('a.test');
    await cache.resolve('b.test');
    await cache.resolve('a.test'); // a is now the most recent
    await cache.resolve('c.test'); // b goes
    assert.equal(cache.stats().entries, 2);
    const before = resolver.calls.resolve4;
    await cache.resolve('a.test');
    assert.equal(resolver.calls.resolve4, before, 'a stayed');
    await cache.resolve('b.test');
    assert.equal(resolver.calls.resolve4, before + 1, 'b was looked up again');
  });

  test('concurrent requests for a name share one lookup', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    let open!: () => void;
    resolver.gate = new Promise((resolve) => {
      open = resolve;
    });
    resolver.v4.set('new.test', [v4('127.0.0.1')]);
    const cache = new DnsCache({ resolver }, clock);
    const all = Array.from({ length: 100 }, () => cache.resolve('new.test'));
    open();
    const answers = await Promise.all(all);
    assert.ok(answers.every((a) => a === answers[0]));
    assert.equal(resolver.calls.resolve4, 1);
    assert.equal(cache.stats().coalesced, 99);
  });
});

describe('the order new connections try addresses in', () => {
  const list: LookupAddress[] = [
    { address: '127.0.0.1', family: 4 },
    { address: '127.0.0.2', family: 4 },
    { address: '127.0.0.3', family: 4 },
    { address: '::1', family: 6 },
  ];
  const never = () => false;
  const order = (turn: number, penalized: (address: string) => boolean = never) =>
    orderAddresses(list, turn, penalized).map((a) => a.address);

  test('turn by turn each family is rotated, and the families interleaved', () => {
    assert.deepEqual(order(0), ['127.0.0.1', '::1', '127.0.0.2', '127.0.0.3']);
    assert.deepEqual(order(1), ['127.0.0.2', '::1', '127.0.0.3', '127.0.0.1']);
    assert.deepEqual(order(2), ['127.0.0.3', '::1', '127.0.0.1', '127.0.0.2']);
    assert.deepEqual(order(3), order(0));
  });

  test('any answer: a permutation, failed ones last, each address of the first family leading once a cycle', () => {
    const address = fc.oneof(
      fc.ipV4().map((a): LookupAddress => ({ address: a, family: 4 })),
      fc.ipV6().map((a): LookupAddress => ({ address: a, family: 6 })),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(address, { minLength: 1, maxLength: 8, selector: (a) => a.address }),
        fc.nat(1000),
        fc.func(fc.boolean()),
        (answer, turn, isFailed) => {
          const penalized = (a: string) => isFailed(a);
          const out = orderAddresses(answer, turn, penalized);
          assert.deepEqual(out.map((a) => a.address).sort(), answer.map((a) => a.address).sort());
          const firstFailed = out.findIndex((a) => penalized(a.address));
          if (firstFailed >= 0)
            assert.ok(out.slice(firstFailed).every((a) => penalized(a.address)));
          const lead = answer.filter((a) => a.family === answer[0]!.family);
          const leaders = lead.map(
            (_, i) => orderAddresses(answer, turn + i, () => false)[0]!.address,
          );
          assert.deepEqual([...leaders].sort(), lead.map((a) => a.address).sort());
        },
      ),
    );
  });

  test('an address that just failed goes last', () => {
    assert.deepEqual(
      order(0, (a) => a === '127.0.0.1'),
      ['::1', '127.0.0.2', '127.0.0.3', '127.0.0.1'],
    );
  });

  test('a pool forgets a failure after failurePenalty', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    resolver.v4.set('p.test', [v4('127.0.0.1', 3600), v4('127.0.0.2', 3600)]);
    const cache = new DnsCache({ resolver, failurePenalty: 1000, ttl: 3_600_000 }, clock);
    const source = new OriginAddresses(cache, 'p.test');
    const firsts: string[] = [];
    const next = async () => firsts.push((await source.addresses('p.test'))[0]!.address);
    await next(); // turn 0: .1 first
    source.failed('127.0.0.1');
    await next(); // turn 1: .2 first anyway
    await next(); // turn 2: .1 would lead, but it failed
    clock.advance(1000);
    await next(); // turn 3: .2 leads
    await next(); // turn 4: .1 leads again
    assert.deepEqual(firsts, ['127.0.0.1', '127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.1']);
    source.stop();
  });

  test('while the pool has connections, the name is followed at each expiry', async () => {
    const clock = new FakeClock();
    const resolver = new FakeResolver();
    resolver.v4.set('f.test', [v4('127.0.0.1', 2), v4('127.0.0.2', 2)]);
    const cache = new DnsCache({ resolver }, clock);
    const retired: string[][] = [];
    let open = 1;
    const pool: AddressedPool = {
      stats: () => ({ open }),
      retireAddresses: (stale) => {
        retired.push(['127.0.0.1', '127.0.0.2', '127.0.0.3'].filter(stale));
        return 0;
      },
    };
    const source = new OriginAddresses(cache, 'f.test');
    source.pool = pool;
    await source.addresses('f.test');
    resolver.v4.set('f.test', [v4('127.0.0.2', 2), v4('127.0.0.3', 2)]);
    clock.advance(1999);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(retired, [], 'nothing before the expiry');
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(retired, [['127.0.0.1']]);
    assert.equal(cache.stats().refreshes, 1);
    // With nothing open, the watch stops: the next connect looks up by itself.
    open = 0;
    clock.advance(2000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(retired.length, 1);
    assert.equal(clock.pending, 0);
  });
});

/** An HTTP server on `host:port`, counting the connections it accepted. */
interface AddressServer {
  readonly host: string;
  connections: number;
  readonly sockets: Set<Socket>;
  server: Server;
}

async function listenOn(
  host: string,
  port: number,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<AddressServer> {
  const server = createServer(handler);
  const state: AddressServer = { host, connections: 0, sockets: new Set(), server };
  server.on('connection', (socket: Socket) => {
    state.connections++;
    state.sockets.add(socket);
    socket.on('close', () => state.sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return state;
}

/** Servers on each of `hosts`, all on one port (the origin has one); a few ports are tried. */
async function serversOnOnePort(
  hosts: string[],
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ port: number; servers: AddressServer[]; close: () => Promise<void> }> {
  for (let tries = 0; ; tries++) {
    const servers: AddressServer[] = [];
    try {
      const first = await listenOn(hosts[0]!, 0, handler);
      servers.push(first);
      const port = (first.server.address() as AddressInfo).port;
      for (const host of hosts.slice(1)) servers.push(await listenOn(host, port, handler));
      const close = async () => {
        for (const s of servers) {
          s.server.closeAllConnections();
          await new Promise<void>((resolve) => s.server.close(() => resolve()));
        }
      };
      return { port, servers, close };
    } catch (error) {
      for (const s of servers) s.server.close();
      if (tries >= 5) throw error;
    }
  }
}

/** Whether this machine has ::1 to listen on. */
async function hasIpv6Loopback(): Promise<boolean> {
  try {
    const s = await listenOn('::1', 0, () => {});
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
    return true;
  } catch {
    return false;
  }
}

/**
 * An address where connects hang, on loopback: a listener in a child process that is stopped
 * (SIGSTOP) once its accept queue is full, so the kernel drops further SYNs. Undefined (and
 * nothing left running) when this machine does not behave so.
 */
async function blackhole(host: string, port: number): Promise<{ close: () => void } | undefined> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('net').createServer();
       s.on('error', () => process.exit(3));
       s.listen({ port: ${port}, host: '${host}', backlog: 1 }, () => console.log('up'));`,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const fillers: Socket[] = [];
  const close = () => {
    for (const socket of fillers) socket.destroy();
    child.kill('SIGKILL');
  };
  const up = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    child.stdout.once('data', () => {
      clearTimeout(timer);
      resolve(true);
    });
    child.once('exit', () => resolve(false));
  });
  if (!up || child.pid === undefined) {
    close();
    return undefined;
  }
  process.kill(child.pid, 'SIGSTOP');
  // Connects until one hangs (at most a few): the queue is then full.
  for (let i = 0; i < 8; i++) {
    const socket = connect(port, host);
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 500);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) return { close };
  }
  close();
  return undefined;
}

const ok = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-length': 2 });
  res.end('ok');
};

/** Collects `httpool:connection:open` and `:close` messages while `body` runs. */
async function watchingConnections<T>(
  body: (
    opened: Array<{ remoteAddress: string | undefined }>,
    closed: Array<{ reason: string }>,
  ) => Promise<T>,
): Promise<T> {
  const opened: Array<{ remoteAddress: string | undefined }> = [];
  const closed: Array<{ reason: string }> = [];
  const onOpen = (message: unknown) => opened.push(message as { remoteAddress: string });
  const onClose = (message: unknown) => closed.push(message as { reason: string });
  subscribe('httpool:connection:open', onOpen);
  subscribe('httpool:connection:close', onClose);
  try {
    return await body(opened, closed);
  } finally {
    unsubscribe('httpool:connection:open', onOpen);
    unsubscribe('httpool:connection:close', onClose);
  }
}

describe('an Agent with a DNS cache', () => {
  test('100 concurrent requests to a new name make one lookup', async () => {
    const { port, close } = await serversOnOnePort(['127.0.0.1'], ok);
    const resolver = new FakeResolver();
    let open!: () => void;
    resolver.gate = new Promise((resolve) => {
      open = resolve;
    });
    resolver.v4.set('new.test', [v4('127.0.0.1')]);
    const agent = new Agent({ dns: { resolver }, maxSize: 10 });
    try {
      const all = Array.from({ length: 100 }, async () => {
        const res = await agent.request(`http://new.test:${port}/`);
        return res.text();
      });
      setImmediate(open);
      const bodies = await Promise.all(all);
      assert.ok(bodies.every((b) => b === 'ok'));
      assert.equal(resolver.calls.resolve4, 1);
      assert.equal(resolver.calls.lookup, 0);
      const stats = agent.dnsStats()!;
      assert.equal(stats.lookups, 1);
      assert.equal(stats.hits + stats.coalesced, 9, 'ten connections, one lookup');
    } finally {
      await agent.close();
      await close();
    }
  });

  test('new connections rotate over three addresses; the address shows on connection:open', async () => {
    const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    let held: Array<() => void> = [];
    const { port, servers, close } = await serversOnOnePort(hosts, (req, res) => {
      // Held until all nine arrived, so each request needs a connection of its own.
      held.push(() => ok(req, res));
      if (held.length === 9) {
        for (const go of held) go();
        held = [];
      }
    });
    const resolver = new FakeResolver();
    resolver.v4.set(
      'three.test',
      hosts.map((h) => v4(h)),
    );
    const agent = new Agent({ dns: { resolver } });
    try {
      await watchingConnections(async (opened) => {
        const bodies = await Promise.all(
          Array.from({ length: 9 }, async () =>
            (await agent.request(`http://three.test:${port}/`)).text(),
          ),
        );
        assert.deepEqual(bodies, Array(9).fill('ok'));
        assert.deepEqual(
          servers.map((s) => s.connections),
          [3, 3, 3],
        );
        assert.deepEqual(
          opened.map((m) => m.remoteAddress).sort(),
          [...hosts, ...hosts, ...hosts].sort(),
        );
      });
    } finally {
      await agent.close();
      await close();
    }
  });

  test('a refused first address falls through to the next at once', async () => {
    // Nothing listens on 127.0.0.2 at this port: the connect is refused.
    const { port, servers, close } = await serversOnOnePort(['127.0.0.1'], ok);
    const resolver = new FakeResolver();
    resolver.v4.set('half.test', [v4('127.0.0.2'), v4('127.0.0.1')]);
    // An attempt delay no request could wait out: only the refusal moves on.
    const agent = new Agent({ dns: { resolver, attemptDelay: 600_000 }, connectTimeout: 60_000 });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal(await (await agent.request(`http://half.test:${port}/`)).text(), 'ok');
      }
      assert.equal(servers[0]!.connections, 1);
    } finally {
      await agent.close();
      await close();
    }
  });

  test('a first address where connects hang costs about the attempt delay, not the connect timeout', async (t) => {
    const { port, servers, close } = await serversOnOnePort(['127.0.0.1'], ok);
    const hole = await blackhole('127.0.0.2', port);
    if (hole === undefined) {
      t.skip('no loopback blackhole on this machine (a stopped listener did not hang connects)');
      await close();
      return;
    }
    const resolver = new FakeResolver();
    resolver.v4.set('slow.test', [v4('127.0.0.2'), v4('127.0.0.1')]);
    const connectTimeout = 60_000;
    const agent = new Agent({ dns: { resolver, attemptDelay: 50 }, connectTimeout });
    try {
      const started = performance.now();
      assert.equal(await (await agent.request(`http://slow.test:${port}/`)).text(), 'ok');
      // Only a bound that catches waiting out the connect timeout: the machine is noisy.
      assert.ok(performance.now() - started < connectTimeout / 4);
      assert.equal(servers[0]!.connections, 1);
      assert.equal(agent.stats()[`http://slow.test:${port}`]?.connectFailed, 0);
    } finally {
      await agent.close();
      hole.close();
      await close();
    }
  });

  test('when the name moves, its connections retire after their exchange; no request fails', async () => {
    const clock = new FakeClock();
    let release: (() => void) | undefined;
    const { port, servers, close } = await serversOnOnePort(
      ['127.0.0.1', '127.0.0.2'],
      (req, res) => {
        if (req.url === '/slow') release = () => ok(req, res);
        else ok(req, res);
      },
    );
    const [a, b] = servers as [AddressServer, AddressServer];
    const resolver = new FakeResolver();
    resolver.v4.set('moving.test', [v4('127.0.0.1', 2)]);
    const agent = new Agent({ dns: { resolver }, clock });
    const url = `http://moving.test:${port}`;
    try {
      await watchingConnections(async (opened, closed) => {
        // Two connections to .1: one left idle, one busy with a response still coming.
        const fast = agent.request(`${url}/fast`);
        const slow = agent.request(`${url}/slow`);
        assert.equal(await (await fast).text(), 'ok');
        while (release === undefined) await new Promise((resolve) => setImmediate(resolve));
        assert.equal(a.connections, 2);
        assert.deepEqual(
          opened.map((m) => m.remoteAddress),
          ['127.0.0.1', '127.0.0.1'],
        );
        // The name moves to .2; at the TTL the cache asks again.
        resolver.v4.set('moving.test', [v4('127.0.0.2', 2)]);
        clock.advance(2000);
        while (closed.length < 1) await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(
          closed.map((m) => m.reason),
          ['dns-changed'],
          'the idle one at once',
        );
        assert.equal(agent.stats()[url]?.open, 1, 'the busy one is not cut');
        release();
        const res = await slow;
        assert.equal(await res.text(), 'ok');
        assert.deepEqual(
          closed.map((m) => m.reason),
          ['dns-changed', 'dns-changed'],
          'the busy one after its exchange',
        );
        // New connections go where the name points now.
        assert.equal(await (await agent.request(`${url}/fast`)).text(), 'ok');
        assert.equal(b.connections, 1);
        assert.equal(opened.at(-1)?.remoteAddress, '127.0.0.2');
        assert.equal(agent.dnsStats()?.refreshes, 1);
      });
    } finally {
      await agent.close();
      await close();
    }
  });

  test('HTTP/2: when the name moves, a busy session takes no new streams; its own finish', async () => {
    const clock = new FakeClock();
    const held: ServerHttp2Stream[] = [];
    const sessions = new Map<string, number>();
    const h2 = [createH2cServer(), createH2cServer()];
    for (const server of h2) {
      server.on('session', (session) => {
        const address = session.socket.localAddress ?? '?';
        sessions.set(address, (sessions.get(address) ?? 0) + 1);
      });
      server.on('stream', (stream, headers) => {
        if (headers[':path'] === '/slow') held.push(stream);
        else {
          stream.respond({ ':status': 200 });
          stream.end(`ok from ${stream.session?.socket.localAddress}`);
        }
      });
    }
    await new Promise<void>((resolve) => h2[0]!.listen(0, '127.0.0.1', resolve));
    const port = (h2[0]!.address() as AddressInfo).port;
    await new Promise<void>((resolve) => h2[1]!.listen(port, '127.0.0.2', resolve));
    const resolver = new FakeResolver();
    resolver.v4.set('moving.test', [v4('127.0.0.1', 2)]);
    const agent = new Agent({ dns: { resolver }, clock, http2: 'prior-knowledge' });
    const url = `http://moving.test:${port}`;
    try {
      await watchingConnections(async (_opened, closed) => {
        assert.equal(await (await agent.request(`${url}/`)).text(), 'ok from 127.0.0.1');
        const slow = agent.request(`${url}/slow`);
        while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
        resolver.v4.set('moving.test', [v4('127.0.0.2', 2)]);
        clock.advance(2000);
        while (agent.dnsStats()?.refreshes !== 1) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        // A new request goes to the new address while the old session still carries /slow.
        assert.equal(await (await agent.request(`${url}/`)).text(), 'ok from 127.0.0.2');
        assert.equal(closed.length, 0, 'the busy session is not cut');
        held[0]!.respond({ ':status': 200 });
        held[0]!.end('slow done');
        assert.equal(await (await slow).text(), 'slow done');
        while (closed.length === 0) await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(
          closed.map((m) => m.reason),
          ['dns-changed'],
        );
        assert.deepEqual(Object.fromEntries(sessions), { '127.0.0.1': 1, '127.0.0.2': 1 });
      });
    } finally {
      await agent.close({ timeout: 2000 });
      for (const server of h2) await new Promise((resolve) => server.close(resolve));
    }
  });

  test('over IPv6 too: a refused IPv4 address falls through to ::1', async (t) => {
    if (!(await hasIpv6Loopback())) {
      t.skip('no ::1 on this machine: IPv6 part skipped');
      return;
    }
    const { port, servers, close } = await serversOnOnePort(['::1'], ok);
    const resolver = new FakeResolver();
    resolver.v4.set('dual.test', [v4('127.0.0.2')]);
    resolver.v6.set('dual.test', [v4('::1')]);
    const agent = new Agent({ dns: { resolver } });
    try {
      await watchingConnections(async (opened) => {
        assert.equal(await (await agent.request(`http://dual.test:${port}/`)).text(), 'ok');
        assert.equal(servers[0]!.connections, 1);
        assert.deepEqual(
          opened.map((m) => m.remoteAddress),
          ['::1'],
        );
      });
    } finally {
      await agent.close();
      await close();
    }
  });

  test('over TLS the name, not the address, is the server name and what the certificate must match', async () => {
    const certs = makeCertificates();
    const server = await startTlsServer(certs);
    const resolver = new FakeResolver();
    resolver.system.set('localhost', [{ address: '127.0.0.1', family: 4 }]);
    // The certificate names localhost and 127.0.0.1, not other.test.
    resolver.v4.set('other.test', [v4('127.0.0.1')]);
    const agent = new Agent({ dns: { resolver }, tls: { ca: certs.ca } });
    try {
      await watchingConnections(async (opened) => {
        const res = await agent.request(`https://localhost:${server.port}/hello`);
        assert.equal(await res.text(), '/hello');
        assert.equal(server.handshakes[0]?.servername, 'localhost');
        assert.equal(opened[0]?.remoteAddress, '127.0.0.1');
      });
      await assert.rejects(
        agent.request(`https://other.test:${server.port}/`),
        (error: unknown) => {
          assert.ok(error instanceof SocketError);
          assert.equal((error.cause as { code?: string }).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
          return true;
        },
      );
    } finally {
      await agent.close();
      await server.close();
    }
  });

  test('dns: false, a lookup or a socketPath leave names to net.connect', async () => {
    const none = new Agent({ dns: false });
    assert.equal(none.dnsStats(), undefined);
    const pinned = new Agent({
      lookup: (_h, _o, cb) => (cb as (e: null, a: string, f: number) => void)(null, '127.0.0.1', 4),
    });
    assert.equal(pinned.dnsStats(), undefined);
    const local = new Agent({ socketPath: '/nonexistent/httpool.sock' });
    assert.equal(local.dnsStats(), undefined);
    const on = new Agent();
    assert.deepEqual(on.dnsStats(), {
      lookups: 0,
      hits: 0,
      coalesced: 0,
      failures: 0,
      refreshes: 0,
      entries: 0,
    });
    await Promise.all([none.close(), pinned.close(), local.close(), on.close()]);
  });

  test('bad dns options are refused, named', () => {
    assert.throws(() => new Agent({ dns: { ttl: -1 } }), /dns option ttl must be/);
    assert.throws(
      () => new Agent({ dns: { tll: 5 } as never }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /did you mean ttl\?/.test(error.message),
    );
    assert.throws(() => new Agent({ dns: true as never }), InvalidArgumentError);
    assert.throws(() => new Agent({ dns: { resolver: {} as never } }), /a resolver/);
  });
});
