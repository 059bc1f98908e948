/**
 * MockAgent: scripted answers over in-memory sockets, through the real pool, parser, replay
 * rule, timeouts and redirects.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BodyTimeoutError,
  HeadersTimeoutError,
  InvalidArgumentError,
  isHttpoolError,
  SocketError,
} from '../../src/index.js';
import {
  FakeClock,
  MockAgent,
  MockNotMatchedError,
  MockPendingError,
} from '../../src/testing/index.js';
import { startHttpServer } from '../helpers/servers.js';

const API = 'http://api.test';
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('MockAgent', () => {
  test('answers with the scripted status, headers and body, and records the call', async () => {
    await using agent = new MockAgent();
    const items = agent
      .intercept(API, { path: '/items?page=2', headers: { accept: /json/ } })
      .reply(201, '{"items":[]}', {
        headers: { 'content-type': 'application/json', 'x-a': ['1', '2'] },
      });
    assert.throws(() => agent.assertNoPendingInterceptors(), MockPendingError);
    const res = await agent.request(`${API}/items?page=2`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('x-a'), '1, 2');
    assert.deepEqual(await res.json(), { items: [] });
    assert.equal(items.calls, 1);
    agent.assertNoPendingInterceptors();
    const [call] = agent.calls;
    assert.equal(call?.method, 'GET');
    assert.equal(call?.path, '/items?page=2');
    assert.equal(call?.headers['host'], 'api.test');
    assert.equal(call?.headers['accept'], 'application/json');
    assert.equal(call?.matched, true);
  });

  test('the second request reuses the connection', async () => {
    await using agent = new MockAgent();
    agent.intercept(API, { path: '/a' }).reply(200, 'a').times(2);
    for (let i = 0; i < 2; i++) assert.equal(await (await agent.request(`${API}/a`)).text(), 'a');
    assert.equal(agent.connectionsOpened, 1);
    assert.deepEqual(
      agent.calls.map((c) => c.connection),
      [1, 1],
    );
    assert.equal(agent.stats()[API]?.requests, 2);
  });

  test('a GET on a stale connection is replayed on a new one; a POST is not', async () => {
    await using agent = new MockAgent();
    agent.intercept(API, { path: '/1' }).reply(200, 'one');
    // The server drops the kept-alive connection as the request arrives: no byte of an answer.
    agent.intercept(API, { path: '/2' }).fault('close');
    agent.intercept(API, { path: '/2' }).reply(200, 'two');
    assert.equal(await (await agent.request(`${API}/1`)).text(), 'one');
    assert.equal(await (await agent.request(`${API}/2`)).text(), 'two');
    assert.deepEqual(
      agent.calls.map((c) => [c.path, c.connection]),
      [
        ['/1', 1],
        ['/2', 1],
        ['/2', 2],
      ],
    );
    assert.equal(agent.stats()[API]?.replayed, 1);

    agent.intercept(API, { method: 'POST', path: '/3' }).fault('close');
    const error = await agent
      .request(`${API}/3`, { method: 'POST', body: 'x' })
      .catch((e: unknown) => e);
    assert.ok(error instanceof SocketError, String(error));
    assert.equal(error.responseStarted, false);
    assert.equal(agent.calls.filter((c) => c.path === '/3').length, 1, 'the POST went once');
  });

  test('an unmatched request fails with MockNotMatchedError naming what was expected, never replayed', async () => {
    await using agent = new MockAgent();
    agent.intercept(API, { path: '/a' }).reply(200, 'a');
    agent.intercept(API, { method: 'POST', path: /^\/b/ }).reply(200, 'b');
    await (await agent.request(`${API}/a`)).text();
    const error = await agent.request(`${API}/nope?q=1`).catch((e: unknown) => e);
    assert.ok(error instanceof MockNotMatchedError, String(error));
    assert.equal(error.code, 'ERR_MOCK_NOT_MATCHED');
    assert.equal(error.origin, API);
    assert.equal(error.method, 'GET');
    assert.equal(error.path, '/nope');
    assert.deepEqual(error.expected, [`POST /^\\/b/ on ${API} (1 left)`]);
    assert.match(error.message, /net connect is disabled/);
    // On a reused connection, yet not sent again.
    assert.equal(agent.calls.length, 2);
    assert.equal(agent.calls[1]?.matched, false);

    const elsewhere = await agent.request('http://other.test/').catch((e: unknown) => e);
    assert.ok(elsewhere instanceof MockNotMatchedError);
    assert.match(elsewhere.message, /no interceptor is waiting for http:\/\/other\.test/);
  });

  test('matching on method, path (string, RegExp, function), headers and body, in order, with times and persist', async () => {
    await using agent = new MockAgent();
    agent.intercept(API, { method: 'put', path: (p) => p.startsWith('/put/') }).reply(200, 'put');
    agent.intercept(API, { method: 'POST', path: '/post', body: /"n":1/ }).reply(200, 'json one');
    agent
      .intercept(API, { method: 'POST', path: '/post', headers: { 'x-k': (v) => v === undefined } })
      .reply(200, 'no x-k')
      .persist();
    agent
      .intercept(API, { path: /^\/twice/ })
      .reply(200, 'twice')
      .times(2);
    const text = async (url: string, options = {}) =>
      (await agent.request(`${API}${url}`, options)).text();
    assert.equal(await text('/put/1', { method: 'PUT', body: 'x' }), 'put');
    assert.equal(await text('/post', { method: 'POST', json: { n: 1 } }), 'json one');
    assert.equal(await text('/post', { method: 'POST', body: 'a' }), 'no x-k');
    assert.equal(await text('/post', { method: 'POST', body: 'b' }), 'no x-k');
    await assert.rejects(
      agent.request(`${API}/post`, { method: 'POST', body: 'c', headers: { 'x-k': '1' } }),
      MockNotMatchedError,
    );
    assert.equal(await text('/twice'), 'twice');
    assert.equal(await text('/twice?again'), 'twice');
    await assert.rejects(agent.request(`${API}/twice`), MockNotMatchedError);
    // Body bytes arrive as sent, chunked or not.
    const streamed = agent.calls.find((c) => c.path === '/post');
    assert.equal(streamed?.body, '{"n":1}');
    agent.assertNoPendingInterceptors();
  });

  test('bodies: bytes, JSON, pieces with delays on a fake clock, by length, chunked or to the close', async () => {
    const clock = new FakeClock();
    await using agent = new MockAgent({ clock });
    agent.intercept(API, { path: '/bytes' }).reply(200, new Uint8Array([0, 1, 2, 255]));
    agent.intercept(API, { path: '/json' }).reply({ json: { ok: true } });
    agent
      .intercept(API, { path: '/pieces' })
      .reply(200, ['a', { data: 'b', delay: 1000 }, new Uint8Array([99])]);
    agent.intercept(API, { path: '/close' }).reply(200, 'to the end', { framing: 'close' });
    agent.intercept(API, { path: '/length' }).reply(200, ['x', 'y'], { framing: 'length' });
    assert.deepEqual([...(await (await agent.request(`${API}/bytes`)).bytes())], [0, 1, 2, 255]);
    const json = await agent.request(`${API}/json`);
    assert.equal(json.headers.get('content-type'), 'application/json');
    assert.deepEqual(await json.json(), { ok: true });
    const pieces = await agent.request(`${API}/pieces`);
    assert.equal(pieces.headers.get('transfer-encoding'), 'chunked');
    const body = pieces.text();
    // The second piece waits for the clock.
    for (let i = 0; i < 5; i++) await turn();
    clock.advance(1000);
    assert.equal(await body, 'abc');
    const close = await agent.request(`${API}/close`);
    assert.equal(await close.text(), 'to the end');
    const length = await agent.request(`${API}/length`);
    assert.equal(length.headers.get('content-length'), '2');
    assert.equal(await length.text(), 'xy');
    // The close-delimited body closed its connection.
    assert.equal(agent.connectionsOpened, 2);
  });

  test('faults: reset, a cut body, stray bytes while idle', async () => {
    await using agent = new MockAgent();
    agent.intercept(API, { method: 'POST', path: '/reset' }).fault('reset');
    const reset = await agent
      .request(`${API}/reset`, { method: 'POST', body: 'x' })
      .catch((e: unknown) => e);
    assert.ok(reset instanceof SocketError && /ECONNRESET/.test(reset.message), String(reset));

    agent.intercept(API, { path: '/cut' }).fault('cut-body', { body: 'x'.repeat(100) });
    const cut = await agent.request(`${API}/cut`);
    const cutError = await cut.text().catch((e: unknown) => e);
    assert.ok(isHttpoolError(cutError), String(cutError));

    agent.intercept(API, { path: '/reset-body' }).fault('reset-body', { body: 'y'.repeat(100) });
    const resetBody = await agent.request(`${API}/reset-body`);
    assert.ok(isHttpoolError(await resetBody.text().catch((e: unknown) => e)));

    const opened = agent.connectionsOpened;
    agent.intercept(API, { path: '/stray' }).fault('stray-bytes', { body: 'ok' });
    agent.intercept(API, { path: '/after' }).reply(200, 'fresh');
    assert.equal(await (await agent.request(`${API}/stray`)).text(), 'ok');
    // The stray bytes closed the idle connection: the next request opens another.
    for (let i = 0; i < 10; i++) await turn();
    assert.equal(await (await agent.request(`${API}/after`)).text(), 'fresh');
    assert.equal(agent.connectionsOpened, opened + 2);

    assert.equal(agent.stats()[API]?.leased, 0);
  });

  test('faults: Connection: close, then a drip on the next connection', async () => {
    // An agent of its own: a connection closed while idle (above) teaches the pool to keep
    // idle connections for less, which would make reuse here depend on timing.
    await using agent = new MockAgent();
    agent.intercept(API, { path: '/first' }).reply(200, 'first');
    agent.intercept(API, { path: '/bye' }).reply(200, 'bye', { connectionClose: true });
    agent.intercept(API, { path: '/drip' }).fault('drip', { body: 'drip drip', dripBytes: 3 });
    await (await agent.request(`${API}/first`)).text();
    const bye = await agent.request(`${API}/bye`);
    assert.equal(bye.headers.get('connection'), 'close');
    assert.equal(await bye.text(), 'bye');
    assert.equal(await (await agent.request(`${API}/drip`)).text(), 'drip drip');
    assert.deepEqual(
      agent.calls.map((c) => c.connection),
      [1, 1, 2],
    );
    assert.equal(agent.stats()[API]?.leased, 0);
  });

  test('stalls end in the pool’s timeouts on a fake clock, without waiting', async () => {
    const clock = new FakeClock();
    await using agent = new MockAgent({ clock, headersTimeout: 30_000, bodyTimeout: 10_000 });
    agent.intercept(API, { path: '/stall' }).fault('stall');
    agent.intercept(API, { path: '/stall-body' }).fault('stall-body', { body: 'z'.repeat(10) });
    const stalled = agent.request(`${API}/stall`).catch((e: unknown) => e);
    await agent.waitForCalls(1);
    clock.advance(29_999);
    await turn();
    clock.advance(1);
    assert.ok((await stalled) instanceof HeadersTimeoutError);

    const res = await agent.request(`${API}/stall-body`);
    const body = res.text().catch((e: unknown) => e);
    for (let i = 0; i < 5; i++) await turn();
    clock.advance(10_000);
    assert.ok((await body) instanceof BodyTimeoutError);
  });

  test('idle connections expire on the fake clock', async () => {
    const clock = new FakeClock();
    await using agent = new MockAgent({ clock, idleTimeout: 5000 });
    agent.intercept(API, { path: '/' }).reply(200, 'x').persist();
    await (await agent.request(`${API}/`)).text();
    clock.advance(4999);
    await (await agent.request(`${API}/`)).text();
    assert.equal(agent.connectionsOpened, 1);
    clock.advance(5000);
    await turn();
    await (await agent.request(`${API}/`)).text();
    assert.equal(agent.connectionsOpened, 2);
  });

  test('redirects are followed from one mocked origin to another; a reply function sees the call', async () => {
    await using agent = new MockAgent();
    agent
      .intercept(API, { path: '/old' })
      .reply(302, '', { headers: { location: 'https://new.test/new?from=old' } });
    agent
      .intercept('https://new.test', { path: /^\/new/ })
      .reply(async (call) => ({ status: 200, body: `${call.origin}${call.path}` }));
    const res = await agent.request(`${API}/old`, { redirect: 'follow' });
    assert.equal(await res.text(), 'https://new.test/new?from=old');
    assert.deepEqual(res.redirectUrls, ['https://new.test/new?from=old']);

    agent.intercept(API, { path: '/fetch' }).reply(200, 'fetched');
    const fetched = await agent.fetch(`${API}/fetch`);
    assert.equal(await fetched.text(), 'fetched');
  });

  test('the network is closed unless opened for an origin', async () => {
    const server = await startHttpServer((_req, res) => res.end('real'));
    try {
      await using agent = new MockAgent();
      await assert.rejects(agent.request(`${server.origin}/`), MockNotMatchedError);
      assert.equal(server.connections, 0);
      agent.enableNetConnect(server.origin);
      // The pool made for the origin stays; a fresh agent shows the rule at connect time.
      await using open = new MockAgent();
      open.enableNetConnect(/127\.0\.0\.1/);
      assert.equal(await (await open.request(`${server.origin}/`)).text(), 'real');
      assert.equal(server.connections, 1);
      open.disableNetConnect();
      await assert.rejects(open.request('http://127.0.0.2:9/'), MockNotMatchedError);
    } finally {
      await server.close();
    }
  });

  test('bad input is refused, typed', () => {
    const agent = new MockAgent();
    assert.throws(() => agent.intercept('ftp://x', { path: '/' }), InvalidArgumentError);
    assert.throws(() => agent.intercept(API, {} as never), InvalidArgumentError);
    const interceptor = agent.intercept(API, { path: '/' });
    assert.throws(() => interceptor.times(0), InvalidArgumentError);
    assert.throws(() => interceptor.reply(1000), InvalidArgumentError);
    assert.throws(
      () => interceptor.reply(200, '', { headers: { 'x\n': 'y' } }),
      InvalidArgumentError,
    );
    assert.throws(() => interceptor.fault('explode' as never), InvalidArgumentError);
    assert.throws(() => new MockAgent({ connect: () => undefined } as never), InvalidArgumentError);
    assert.throws(() => new MockAgent({ maxSize: -1 }), InvalidArgumentError);
    void agent.destroy();
  });
});

describe('MockAgent, the rest of its surface', () => {
  test('a reply function that throws fails its request, typed; pending lists unused persistent interceptors', async () => {
    await using agent = new MockAgent();
    agent.intercept(API, { path: '/boom' }).reply(() => {
      throw new Error('oops');
    });
    const error = await agent.request(`${API}/boom`).catch((e: unknown) => e);
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.match(error.message, /oops/);
    agent.intercept(API, { method: 'DELETE', path: '/x' }).reply(204).persist();
    assert.deepEqual(agent.pendingInterceptors(), [`DELETE /x on ${API} (persistent)`]);
    await (await agent.request(`${API}/x`, { method: 'DELETE' })).dump();
    assert.deepEqual(agent.pendingInterceptors(), []);
  });

  test('enableNetConnect() with no argument or a function opens the network to origins without interceptors', async () => {
    const server = await startHttpServer((_req, res) => res.end('real'));
    try {
      for (const open of [undefined, (origin: string) => origin === server.origin]) {
        await using agent = new MockAgent();
        agent.enableNetConnect(open);
        agent.intercept('http://api.test', { path: '/' }).reply(200, 'mocked');
        assert.equal(await (await agent.request(`${server.origin}/`)).text(), 'real');
        assert.equal(await (await agent.request('http://api.test/')).text(), 'mocked');
      }
      assert.equal(server.connections, 2);
    } finally {
      await server.close();
    }
  });

  test('an HTTP/2-only mock is refused; http2 auto speaks HTTP/1.1 to it', async () => {
    assert.throws(() => new MockAgent({ http2: 'only' }), InvalidArgumentError);
    await using agent = new MockAgent({ http2: 'auto' });
    agent.intercept('https://h.test', { path: '/' }).reply(200, 'h1');
    assert.equal(await (await agent.request('https://h.test/')).text(), 'h1');
  });

  test('Expect: 100-continue gets its go-ahead, and the body arrives', async () => {
    await using agent = new MockAgent();
    agent.intercept(API, { method: 'POST', path: '/up', body: 'the data' }).reply(201, 'stored');
    const res = await agent.request(`${API}/up`, {
      method: 'POST',
      headers: { expect: '100-continue' },
      body: 'the data',
    });
    assert.equal(res.status, 201);
    assert.equal(await res.text(), 'stored');
    assert.equal(agent.calls[0]?.headers['expect'], '100-continue');
  });

  test('waitForCalls is bounded in real time', async () => {
    await using agent = new MockAgent();
    await assert.rejects(agent.waitForCalls(1, 20), /received 0 requests, not 1/);
  });
});

describe('MockAgent body faults without a body of their own', () => {
  test('stall-body, cut-body and drip play on a default body: the head arrives whole', async () => {
    const clock = new FakeClock();
    const agent = new MockAgent({ clock, bodyTimeout: 1000 });
    try {
      const api = 'http://faults.test';
      agent.intercept(api, { path: '/stall' }).fault('stall-body');
      agent.intercept(api, { path: '/cut' }).fault('cut-body');
      agent.intercept(api, { path: '/drip' }).fault('drip');
      const stalled = await agent.request(`${api}/stall`);
      assert.equal(stalled.status, 200);
      const reading = stalled.text();
      reading.catch(() => {});
      await agent.waitForCalls(1);
      clock.advance(1000);
      await assert.rejects(reading, BodyTimeoutError);
      const cut = await agent.request(`${api}/cut`);
      assert.equal(cut.status, 200);
      await assert.rejects(cut.text(), SocketError);
      const drip = await agent.request(`${api}/drip`);
      assert.equal(await drip.text(), 'x'.repeat(64));
    } finally {
      await agent.close();
    }
  });
});
