/**
 * The HTTP/2 test servers do what they say, checked with node:http2's own client (not
 * httpool): the fault server in its child process, the raw-frame server, and the real servers
 * (nghttpd, nginx). The h2 client tests build on these, so a fault that silently does not
 * happen here would make them pass for the wrong reason. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import {
  type ClientHttp2Session,
  connect,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { type H2FaultServer, startH2FaultServer } from '../helpers/h2-fault-server.js';
import {
  decodeSettings,
  ErrorCode,
  FrameType,
  type H2RawConnection,
  type H2RawServerOptions,
  MAX_STREAM_ID,
  startH2RawServer,
} from '../helpers/h2-raw-server.js';
import {
  HELLO,
  type RealH2Server,
  skipUnless,
  startNghttpd,
  startNginxH2,
} from '../helpers/h2-real-servers.js';
import { sleep } from '../helpers/servers.js';
import { makeCertificates } from '../helpers/tls.js';

/** What one client stream ended with. */
interface Outcome {
  status: number | undefined;
  headers: IncomingHttpHeaders;
  /** The :status of each informational (1xx) head, in order. */
  informational: number[];
  body: string;
  trailers: IncomingHttpHeaders | undefined;
  rstCode: number | undefined;
  /** The stream error's code, e.g. ERR_HTTP2_STREAM_ERROR. */
  error: string | undefined;
  /** The stream had not closed after `timeoutMs`; it was then cancelled. */
  timedOut: boolean;
  streamId: number | undefined;
}

/** Sends one request on `session` and resolves when its stream closes, or after `timeoutMs`. */
function send(
  session: ClientHttp2Session,
  path: string,
  options: { headers?: OutgoingHttpHeaders; body?: string; timeoutMs?: number } = {},
): Promise<Outcome> {
  const { body, timeoutMs = 2000 } = options;
  const stream = session.request(
    { ':path': path, ':method': body === undefined ? 'GET' : 'POST', ...options.headers },
    { endStream: body === undefined },
  );
  if (body !== undefined) stream.end(body);
  const outcome: Outcome = {
    status: undefined,
    headers: {},
    informational: [],
    body: '',
    trailers: undefined,
    rstCode: undefined,
    error: undefined,
    timedOut: false,
    streamId: undefined,
  };
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    outcome.body += text;
  });
  stream.on('headers', (headers) => outcome.informational.push(Number(headers[':status'])));
  stream.on('response', (headers) => {
    outcome.status = Number(headers[':status']);
    outcome.headers = headers;
  });
  stream.on('trailers', (trailers) => {
    outcome.trailers = trailers;
  });
  stream.on('error', (error: NodeJS.ErrnoException) => {
    outcome.error = error.code;
  });
  stream.on('ready', () => {
    outcome.streamId = stream.id;
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      outcome.timedOut = true;
      stream.close(constants.NGHTTP2_CANCEL);
      resolve(outcome);
    }, timeoutMs);
    stream.on('close', () => {
      clearTimeout(timer);
      outcome.rstCode = stream.rstCode;
      outcome.streamId ??= stream.id;
      resolve(outcome);
    });
  });
}

/** A client session that records its GOAWAYs, SETTINGS and errors, and is closed by `after`. */
interface Client {
  session: ClientHttp2Session;
  goaways: Array<{ code: number; lastStreamId: number }>;
  remoteMcs: number[];
  errors: string[];
}

const clients: Client[] = [];

function open(origin: string, options: SecureClientSessionOptions = {}): Client {
  const session = connect(origin, options);
  const client: Client = { session, goaways: [], remoteMcs: [], errors: [] };
  session.on('goaway', (code, lastStreamId) => client.goaways.push({ code, lastStreamId }));
  session.on('remoteSettings', (settings) =>
    client.remoteMcs.push(settings.maxConcurrentStreams ?? Number.NaN),
  );
  session.on('error', (error: NodeJS.ErrnoException) => client.errors.push(String(error.code)));
  clients.push(client);
  return client;
}

/** Resolves once `session` received its first SETTINGS (or fails after 2 s). */
async function settled(client: Client): Promise<void> {
  await eventually(() => client.remoteMcs.length > 0, 2000, 'the server SETTINGS');
}

/** Resolves with true once a PING is answered, false when none came within `ms`. */
function pinged(session: ClientHttp2Session, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    session.ping((error) => {
      clearTimeout(timer);
      resolve(error === null);
    });
  });
}

/** The fates of the attempts whose request id starts with `prefix`, in arrival order. */
async function fatesOf(server: H2FaultServer, prefix: string): Promise<string[]> {
  return (await server.attempts()).filter((a) => a.requestId.startsWith(prefix)).map((a) => a.fate);
}

/** Polls an async `condition` every 10 ms until it holds; fails after `timeoutMs`. */
async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

after(() => {
  for (const { session } of clients) session.destroy();
});

describe('the h2 fault server (node:http2 in a child process)', () => {
  let server: H2FaultServer;
  let narrow: H2FaultServer;
  before(async () => {
    [server, narrow] = await Promise.all([
      startH2FaultServer(),
      startH2FaultServer({ settings: { maxConcurrentStreams: 1 }, allowHTTP1: true }),
    ]);
  });
  after(async () => {
    await Promise.all([server?.close(), narrow?.close()]);
  });

  test('speaks h2 over TLS (ALPN h2) and h2c, echoing request headers and body', async () => {
    for (const [origin, options] of [
      [server.tlsOrigin, { ca: server.ca }],
      [server.h2cOrigin, {}],
    ] as const) {
      const client = open(origin, options);
      const res = await send(client.session, '/echo', {
        headers: { 'x-request-id': `echo-${origin}`, 'x-test': 'one' },
        body: 'hello',
      });
      assert.equal(res.status, 200, origin);
      const echoed = JSON.parse(res.body) as {
        method: string;
        headers: IncomingHttpHeaders;
        body: string;
      };
      assert.equal(echoed.method, 'POST');
      assert.equal(echoed.headers['x-test'], 'one');
      assert.equal(echoed.body, 'hello');
      assert.equal(res.headers['x-stream-id'], '1');
      assert.equal(res.headers['x-request-id'], `echo-${origin}`);
      if (origin === server.tlsOrigin) {
        assert.equal(
          (client.session.socket as unknown as { alpnProtocol: string }).alpnProtocol,
          'h2',
        );
      }
    }
  });

  test('GOAWAY with a last-stream-id below in-flight streams: those above are refused (rstCode 7), unprocessed', async () => {
    const { session, goaways } = open(server.h2cOrigin);
    const ids = ['ga-a', 'ga-b', 'ga-c', 'ga-d'];
    const paths = ['/?delay=150', '/goaway?streams=4', '/?delay=150', '/?delay=150'];
    const results = await Promise.all(
      paths.map((path, i) => send(session, path, { headers: { 'x-request-id': ids[i]! } })),
    );
    assert.deepEqual(
      results.map((r) => [r.streamId, r.status, r.rstCode]),
      [
        [1, 200, 0],
        [3, 200, 0],
        [5, undefined, constants.NGHTTP2_REFUSED_STREAM],
        [7, undefined, constants.NGHTTP2_REFUSED_STREAM],
      ],
    );
    assert.deepEqual(goaways[0], { code: 0, lastStreamId: 3 });
    const counts = await server.counts();
    assert.deepEqual(
      ids.map((id) => counts[id]),
      [
        { received: 1, processed: 1 },
        { received: 1, processed: 1 },
        { received: 1, processed: 0 },
        { received: 1, processed: 0 },
      ],
    );
  });

  test('over IPC: waitForStreams, then GOAWAY on one session with a last id below two of its streams', async () => {
    const { session, goaways } = open(server.h2cOrigin);
    const first = await send(session, '/');
    const index = Number(first.headers['x-session']);
    const pending = ['ipc-a', 'ipc-b', 'ipc-c'].map((id) =>
      send(session, '/?delay=100', { headers: { 'x-request-id': id } }),
    );
    await server.waitForStreams(3);
    await server.goaway({ session: index, lastStreamId: 3 });
    const results = await Promise.all(pending);
    assert.deepEqual(
      results.map((r) => [r.streamId, r.status, r.rstCode]),
      [
        [3, 200, 0],
        [5, undefined, constants.NGHTTP2_REFUSED_STREAM],
        [7, undefined, constants.NGHTTP2_REFUSED_STREAM],
      ],
    );
    assert.deepEqual(goaways[0], { code: 0, lastStreamId: 3 });
    assert.deepEqual(await fatesOf(server, 'ipc-'), ['ok', 'goaway', 'goaway']);
    await assert.rejects(server.waitForStreams(50, 50), /fewer than 50 streams/);
  });

  test('REFUSED_STREAM for the first attempt of an id; the session stays usable and the retry is served', async () => {
    const client = open(server.h2cOrigin);
    const headers = { 'x-request-id': 'refused-1' };
    const first = await send(client.session, '/refuse?times=1', { headers });
    assert.equal(first.status, undefined);
    assert.equal(first.rstCode, constants.NGHTTP2_REFUSED_STREAM);
    assert.equal(first.error, 'ERR_HTTP2_STREAM_ERROR');
    const second = await send(client.session, '/refuse?times=1', { headers });
    assert.equal(second.status, 200);
    assert.equal(second.body, 'ok refused-1');
    assert.equal(second.streamId, 3, 'the retry went on the same session');
    assert.deepEqual(client.goaways, []);
    assert.deepEqual((await server.counts())['refused-1'], { received: 2, processed: 1 });
    assert.deepEqual(await fatesOf(server, 'refused-1'), ['refused', 'ok']);
  });

  test('SETTINGS_MAX_CONCURRENT_STREAMS 1, then raised, lowered to 0 and raised over IPC: remoteSettings fires each time', async () => {
    const client = open(narrow.h2cOrigin);
    await settled(client);
    assert.deepEqual(client.remoteMcs, [1]);
    const three = await Promise.all(
      [1, 2, 3].map((i) =>
        send(client.session, '/?delay=30', { headers: { 'x-request-id': `mcs-${i}` } }),
      ),
    );
    assert.deepEqual(
      three.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(
      (await narrow.stats()).maxStreamsPerSession,
      1,
      'the server never had 2 streams open',
    );
    assert.equal((await send(client.session, '/settings?mcs=5')).status, 200);
    await eventually(() => client.remoteMcs.length === 2, 2000, 'SETTINGS with MCS 5');
    assert.equal((await send(client.session, '/settings?mcs=0')).status, 200);
    await eventually(() => client.remoteMcs.length === 3, 2000, 'SETTINGS with MCS 0');
    assert.deepEqual(client.remoteMcs, [1, 5, 0]);
    // With MCS 0 nothing reaches the server, until the limit is raised again.
    const blocked = send(client.session, '/', { headers: { 'x-request-id': 'mcs-blocked' } });
    await sleep(150);
    assert.equal((await narrow.counts())['mcs-blocked'], undefined);
    await narrow.settings({ maxConcurrentStreams: 2 });
    assert.equal((await blocked).status, 200);
    assert.deepEqual(client.remoteMcs, [1, 5, 0, 2]);
  });

  test('RST_STREAM mid-body: the headers and 1000 bytes arrive, then rstCode 2', async () => {
    const { session } = open(server.h2cOrigin);
    const res = await send(session, '/rst?bytes=1000&code=2', {
      headers: { 'x-request-id': 'rst-1' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 1000);
    assert.equal(res.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
    const before = await send(session, '/rst?headers=0&code=8', {
      headers: { 'x-request-id': 'rst-2' },
    });
    assert.equal(before.status, undefined);
    assert.equal(before.rstCode, constants.NGHTTP2_CANCEL);
    assert.deepEqual(await fatesOf(server, 'rst-'), ['reset', 'reset']);
  });

  test('a silent session answers no PING; a healthy one does', async () => {
    const { session } = open(server.h2cOrigin);
    assert.equal((await send(session, '/')).status, 200);
    assert.equal(await pinged(session, 1000), true, 'PING answered before the silence');
    const silent = send(session, '/silent', { timeoutMs: 300 });
    await sleep(50);
    assert.equal(await pinged(session, 250), false, 'PING answered while silent');
    assert.equal((await silent).timedOut, true);
  });

  test('the session closes with streams in flight: without GOAWAY (FIN, RST), or with session.destroy()', async () => {
    for (const mode of ['close', 'reset', 'goaway'] as const) {
      const client = open(server.h2cOrigin);
      const inFlight = send(client.session, '/?delay=1000', {
        headers: { 'x-request-id': `destroy-${mode}` },
      });
      const trigger = send(client.session, `/destroy?mode=${mode}`);
      const [res] = await Promise.all([inFlight, trigger]);
      assert.equal(res.status, undefined, mode);
      assert.equal(res.timedOut, false, `${mode}: the stream closed with its session`);
      await eventually(() => client.session.destroyed, 2000, `${mode}: the session closes`);
      if (mode === 'goaway') {
        // session.destroy() names every stream it received as processed.
        assert.deepEqual(client.goaways[0], { code: 0, lastStreamId: 3 });
      } else {
        assert.deepEqual(client.goaways, [], `${mode}: no GOAWAY`);
      }
    }
  });

  test('stalled headers and a stalled body stay stalled; a cancelled stream is recorded as aborted', async () => {
    const { session } = open(server.h2cOrigin);
    const [headers, body] = await Promise.all([
      send(session, '/stall-headers', { headers: { 'x-request-id': 'stall-h' }, timeoutMs: 200 }),
      send(session, '/stall-body?bytes=10', {
        headers: { 'x-request-id': 'stall-b' },
        timeoutMs: 200,
      }),
    ]);
    assert.equal(headers.timedOut, true);
    assert.equal(headers.status, undefined);
    assert.equal(body.timedOut, true);
    assert.equal(body.status, 200);
    assert.equal(body.body, 'x'.repeat(10));
    await eventually(
      async () => (await fatesOf(server, 'stall-')).join() === 'aborted,aborted',
      2000,
      'both stalls recorded as aborted',
    );
    const drip = await send(session, '/drip?chunks=3&every=5');
    assert.equal(drip.body, 'xxx');
  });

  test('trailers, and a 103 before the response', async () => {
    const { session } = open(server.tlsOrigin, { ca: server.ca });
    const trailed = await send(session, '/trailers', { headers: { 'x-request-id': 't-1' } });
    assert.equal(trailed.status, 200);
    assert.equal(trailed.body, 'ok t-1');
    assert.equal(trailed.trailers?.['x-trailer'], 'yes');
    const hinted = await send(session, '/early-hints', { headers: { 'x-request-id': 'hint-1' } });
    assert.deepEqual(hinted.informational, [103]);
    assert.equal(hinted.status, 200);
  });

  test('counts: /__counts and the IPC channel agree; reset() forgets', async () => {
    const { session } = open(server.h2cOrigin);
    for (let i = 0; i < 3; i++)
      await send(session, '/', { headers: { 'x-request-id': 'counted' } });
    const overHttp = JSON.parse((await send(session, '/__counts')).body) as Record<string, unknown>;
    const overIpc = await server.counts();
    assert.deepEqual(overHttp, overIpc);
    assert.deepEqual(overIpc['counted'], { received: 3, processed: 3 });
    const stats = await server.stats();
    assert.ok(stats.sessions >= 1 && stats.connections >= stats.sessions);
    await server.reset();
    assert.deepEqual(await server.counts(), {});
  });

  test('allowHTTP1: an ALPN http/1.1 client is served over HTTP/1.1 on the TLS port', async () => {
    const res = await new Promise<{ status: number | undefined; version: string; body: string }>(
      (resolve, reject) => {
        const req = httpsRequest(
          `${narrow.tlsOrigin}/`,
          {
            ca: narrow.ca,
            headers: { 'x-request-id': 'h1-1' },
            agent: false,
            ...{ ALPNProtocols: ['http/1.1'] },
          },
          (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (text: string) => {
              body += text;
            });
            response.on('end', () =>
              resolve({ status: response.statusCode, version: response.httpVersion, body }),
            );
          },
        );
        req.setTimeout(2000, () => req.destroy(new Error('no answer in 2 s')));
        req.on('error', reject);
        req.end();
      },
    );
    assert.deepEqual(res, { status: 200, version: '1.1', body: 'ok h1-1' });
    const attempts = await narrow.attempts();
    assert.equal(attempts.find((a) => a.requestId === 'h1-1')?.fate, 'http1');
  });
});

describe('the h2 raw-frame server', () => {
  const certs = makeCertificates();
  /** Starts a raw server for one test and closes it when the test's promise settles. */
  async function withRaw(
    options: H2RawServerOptions,
    body: (origin: string, conns: H2RawConnection[]) => Promise<void>,
  ): Promise<void> {
    const raw = await startH2RawServer(options);
    try {
      await body(raw.origin, raw.connections);
      assert.deepEqual(raw.scriptErrors, []);
    } finally {
      await raw.close();
    }
  }

  test('GOAWAY(0) with three streams in flight (over TLS, ALPN h2): all three refused', async () => {
    await withRaw(
      {
        tls: certs,
        onConnection: async (conn) => {
          await conn.waitForStreams(3);
          conn.goaway(0);
        },
      },
      async (origin) => {
        const client = open(origin, { ca: certs.ca });
        const results = await Promise.all([1, 2, 3].map(() => send(client.session, '/')));
        assert.deepEqual(
          results.map((r) => [r.streamId, r.status, r.rstCode]),
          [
            [1, undefined, 7],
            [3, undefined, 7],
            [5, undefined, 7],
          ],
        );
        assert.deepEqual(client.goaways, [{ code: 0, lastStreamId: 0 }]);
      },
    );
  });

  test('double GOAWAY (2^31-1, then the real last id): both seen, the stream above refused', async () => {
    await withRaw(
      {
        onConnection: async (conn) => {
          const [a, b] = await conn.waitForStreams(3);
          conn.goaway(MAX_STREAM_ID);
          conn.respond(a!, 200, 'first');
          conn.respond(b!, 200, 'second');
          conn.goaway(b!);
        },
      },
      async (origin) => {
        const client = open(origin);
        const results = await Promise.all([1, 2, 3].map(() => send(client.session, '/')));
        assert.deepEqual(
          results.map((r) => [r.streamId, r.status, r.body, r.rstCode]),
          [
            [1, 200, 'first', 0],
            [3, 200, 'second', 0],
            [5, undefined, '', 7],
          ],
        );
        await eventually(() => client.goaways.length >= 2, 1000, 'both GOAWAYs');
        assert.deepEqual(client.goaways.map((g) => g.lastStreamId).slice(0, 2), [MAX_STREAM_ID, 3]);
      },
    );
  });

  test('a header block split over HEADERS and CONTINUATION decodes; a CONTINUATION flood kills the session', async () => {
    await withRaw(
      {
        onConnection: async (conn) => {
          const [first, second] = await conn.waitForStreams(2);
          conn.headers(
            first!,
            [
              [':status', '200'],
              ['x-big', 'b'.repeat(20_000)],
            ],
            {
              endStream: true,
              maxFrameSize: 8192,
            },
          );
          await sleep(20);
          conn.continuationFlood(second!, 50);
        },
      },
      async (origin, conns) => {
        const client = open(origin);
        const [split, flooded] = await Promise.all([
          send(client.session, '/'),
          send(client.session, '/'),
        ]);
        assert.equal(split.status, 200);
        assert.equal(split.headers['x-big'], 'b'.repeat(20_000));
        assert.equal(flooded.status, undefined);
        assert.equal(flooded.error, 'ERR_HTTP2_ERROR');
        // The client ends the session with a GOAWAY (node:http2 sends INTERNAL_ERROR).
        await conns[0]!.nextFrame((f) => f.type === FrameType.GOAWAY);
        await eventually(() => client.session.destroyed, 2000, 'the session ends on the flood');
      },
    );
  });

  test('PUSH_PROMISE after the client sent enablePush 0 kills the session (with push on, it does not)', async () => {
    for (const enablePush of [false, true]) {
      await withRaw(
        {
          onConnection: async (conn) => {
            const settings = await conn.nextFrame(
              (f) => f.type === FrameType.SETTINGS && f.flags === 0,
            );
            const push = decodeSettings(settings.payload).find(([id]) => id === 0x2);
            assert.deepEqual(push, [0x2, enablePush ? 1 : 0], 'the client SETTINGS, as read');
            const [id] = await conn.waitForStreams(1);
            conn.pushPromise(id!, 2, [
              [':method', 'GET'],
              [':path', '/pushed'],
              [':scheme', 'http'],
              [':authority', '127.0.0.1'],
            ]);
            conn.respond(id!, 200, 'main');
          },
        },
        async (origin, conns) => {
          const client = open(origin, { settings: { enablePush } });
          // A push the client allowed must be taken (or refused) by a listener.
          client.session.on('stream', (pushed) => pushed.close(constants.NGHTTP2_CANCEL));
          const res = await send(client.session, '/');
          if (enablePush) {
            assert.equal(res.body, 'main');
            return;
          }
          assert.equal(res.status, undefined);
          assert.equal(res.error, 'ERR_HTTP2_ERROR');
          await conns[0]!.nextFrame((f) => f.type === FrameType.GOAWAY);
          await eventually(() => client.session.destroyed, 2000, 'the session ends');
        },
      );
    }
  });

  test('a connection-specific header in a response: the stream fails with PROTOCOL_ERROR', async () => {
    await withRaw(
      {
        onConnection: async (conn) => {
          const [id] = await conn.waitForStreams(1);
          conn.respond(id!, 200, 'body', [['connection', 'keep-alive']]);
        },
      },
      async (origin) => {
        const client = open(origin);
        const res = await send(client.session, '/');
        assert.equal(res.status, undefined);
        assert.equal(res.rstCode, ErrorCode.PROTOCOL_ERROR);
      },
    );
  });

  test('MCS=0 forever: remoteSettings says 0 and no request reaches the server', async () => {
    await withRaw(
      { settings: { maxConcurrentStreams: 0 }, onConnection: () => {} },
      async (origin, conns) => {
        const client = open(origin);
        await settled(client);
        assert.deepEqual(client.remoteMcs, [0]);
        const res = await send(client.session, '/', { timeoutMs: 200 });
        assert.equal(res.timedOut, true);
        assert.deepEqual(conns[0]!.streams, []);
      },
    );
  });

  test('autoPong false: a PING is never answered (with it, it is)', async () => {
    for (const autoPong of [false, true]) {
      await withRaw({ autoPong, onConnection: () => {} }, async (origin) => {
        const client = open(origin);
        await settled(client);
        assert.equal(await pinged(client.session, 200), autoPong);
      });
    }
  });

  test('a stream window stuck at zero holds the request body until a WINDOW_UPDATE', async () => {
    await withRaw(
      {
        settings: { initialWindowSize: 0 },
        onConnection: async (conn) => {
          const [id] = await conn.waitForStreams(1);
          await sleep(100);
          const data = conn.frames.filter((f) => f.type === FrameType.DATA && f.payload.length > 0);
          conn.respond(id!, 200, `data frames before the update: ${data.length}`);
          // The request body is still unsent: the answer ends the stream (RFC 9113 §8.1).
          conn.rst(id!, ErrorCode.NO_ERROR);
        },
      },
      async (origin, conns) => {
        const client = open(origin);
        await settled(client);
        const res = await send(client.session, '/', { body: 'abc' });
        assert.equal(res.body, 'data frames before the update: 0');
        const conn = conns[0]!;
        const [id] = await conn.waitForStreams(1);
        const late = send(client.session, '/', { body: 'def' });
        const [, second] = await conn.waitForStreams(2);
        conn.windowUpdate(second!, 3);
        const frame = await conn.nextFrame((f) => f.type === FrameType.DATA && f.streamId !== id);
        assert.equal(frame.payload.toString(), 'def');
        conn.respond(second!, 200, 'late');
        assert.equal((await late).body, 'late');
      },
    );
  });

  test('bytes that are not HTTP/2 instead of the server preface: a session error', async () => {
    await withRaw(
      {
        settings: false,
        onConnection: (conn) => conn.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'),
      },
      async (origin, conns) => {
        const client = open(origin);
        const res = await send(client.session, '/');
        assert.equal(res.status, undefined);
        await eventually(() => client.session.destroyed, 2000, 'the session ends');
        assert.equal(res.error, 'ERR_HTTP2_ERROR');
        assert.deepEqual(conns[0]!.streams, [], 'no request reached the server');
      },
    );
  });
});

describe('real h2 servers', () => {
  async function check(server: RealH2Server, mcs: number): Promise<void> {
    for (const [origin, options] of [
      [server.tlsOrigin, { ca: server.ca }],
      [server.h2cOrigin, {}],
    ] as const) {
      const client = open(origin, options);
      const res = await send(client.session, '/hello.txt');
      assert.equal(res.status, 200, `${server.name} ${origin}`);
      assert.equal(res.body, HELLO);
      assert.deepEqual(client.remoteMcs.slice(0, 1), [mcs]);
      if (origin === server.tlsOrigin) {
        assert.equal(
          (client.session.socket as unknown as { alpnProtocol: string }).alpnProtocol,
          'h2',
        );
      }
    }
  }

  test('nghttpd answers h2 over TLS and h2c', { skip: skipUnless('nghttpd') }, async () => {
    const server = await startNghttpd({ maxConcurrentStreams: 7 });
    try {
      await check(server, 7);
    } finally {
      await server.close();
    }
  });

  test('nginx answers h2 over TLS and h2c', { skip: skipUnless('nginx') }, async () => {
    const server = await startNginxH2({ maxConcurrentStreams: 5, keepaliveRequests: 3 });
    try {
      await check(server, 5);
      const client = open(server.h2cOrigin);
      assert.equal((await send(client.session, '/')).body, 'ok from nginx\n');
      // keepalive_requests 3: the third request brings GOAWAY naming it (stream 5) as last.
      await send(client.session, '/');
      await send(client.session, '/');
      await eventually(() => client.goaways.length > 0, 2000, 'the GOAWAY of keepalive_requests');
      assert.equal(client.goaways[0]!.lastStreamId, 5);
    } finally {
      await server.close();
    }
  });
});
