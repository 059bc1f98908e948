import assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import {
  Agent,
  RedirectError,
  ResponseError,
  ResponseLimitError,
  SocketError,
} from '../../src/index.js';
import { collectGarbage } from '../helpers/gc.js';
import { eventually, sleep, startHttpServer, type TestServer } from '../helpers/servers.js';

/** Reads a request body to the end. */
async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: string | Buffer, headers = {}) {
  res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

const PAYLOAD = 'hello, fetch';

/**
 * The main test server:
 * - `/echo`: JSON of the method, selected request headers and the body (base64)
 * - `/redirect/<status>?to=<url>`: a redirect
 * - `/loop/<n>`: redirects to `/loop/<n+1>`, `/loop/<limit>` answers 200
 * - `/status/<n>`: an empty answer with that status
 * - `/encoded/<codings>`: PAYLOAD under those content codings
 * - `/cookies`: two Set-Cookie fields and a repeated field
 */
async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/');
  if (parts[1] === 'echo') {
    const body = await readAll(req);
    const h = req.headers;
    send(
      res,
      200,
      JSON.stringify({
        method: req.method,
        path: req.url,
        contentType: h['content-type'] ?? null,
        contentLength: h['content-length'] ?? null,
        chunked: h['transfer-encoding'] === 'chunked',
        accept: h.accept ?? null,
        acceptEncoding: h['accept-encoding'] ?? null,
        authorization: h.authorization ?? null,
        x: h['x-test'] ?? null,
        body: body.toString('latin1'),
      }),
      { 'content-type': 'application/json' },
    );
    return;
  }
  await readAll(req);
  if (parts[1] === 'redirect') {
    res.writeHead(Number(parts[2]), {
      location: url.searchParams.get('to') ?? '/echo',
      'content-length': 5,
    });
    res.end('moved');
    return;
  }
  if (parts[1] === 'loop') {
    const n = Number(parts[2]);
    if (n >= Number(url.searchParams.get('limit'))) send(res, 200, `done ${n}`);
    else {
      res.writeHead(302, { location: `/loop/${n + 1}${url.search}`, 'content-length': 0 });
      res.end();
    }
    return;
  }
  if (parts[1] === 'status') {
    res.writeHead(Number(parts[2]), 'Custom Reason');
    res.end();
    return;
  }
  if (parts[1] === 'encoded') {
    const codings = (parts[2] ?? '').split(',').filter((c) => c !== '');
    let body = Buffer.from(PAYLOAD);
    for (const coding of codings) {
      if (coding === 'gzip') body = gzipSync(body);
      else if (coding === 'deflate') body = deflateSync(body);
      else if (coding === 'rawdeflate') body = deflateRawSync(body);
      else if (coding === 'br') body = brotliCompressSync(body);
    }
    send(res, 200, body, {
      'content-encoding': codings.map((c) => (c === 'rawdeflate' ? 'deflate' : c)).join(', '),
    });
    return;
  }
  if (parts[1] === 'cookies') {
    res.setHeader('set-cookie', ['a=1; Path=/', 'b=2']);
    res.setHeader('x-many', ['one', 'two']);
    send(res, 200, 'ok');
    return;
  }
  send(res, 200, PAYLOAD, { 'content-type': 'text/plain', 'x-served-by': 'test' });
}

/** Everything a comparison looks at, with the `date` header left out (it can tick between calls). */
async function snapshot(response: Response) {
  const headers = [...response.headers].filter(([name]) => name !== 'date');
  const body = response.body === null ? null : Buffer.from(await response.arrayBuffer());
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    url: response.url,
    redirected: response.redirected,
    type: response.type,
    headers,
    body: body === null ? null : body.toString('latin1'),
  };
}

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** The multipart boundary is random: make two bodies comparable. */
function sameBoundary(s: Snapshot): Snapshot {
  if (s.body === null) return s;
  if (!s.body.startsWith('{')) return s;
  const echo = JSON.parse(s.body) as { contentType: string | null; body: string };
  const boundary = /boundary=(.+)$/.exec(echo.contentType ?? '')?.[1];
  if (boundary === undefined) return s;
  const body = JSON.stringify({
    ...echo,
    contentType: echo.contentType!.replace(boundary, 'B'),
    body: echo.body.replaceAll(boundary, 'B'),
    contentLength: null,
  });
  return { ...s, body, headers: s.headers.filter(([name]) => name !== 'content-length') };
}

describe('agent.fetch', () => {
  let server: TestServer;
  let other: TestServer;
  const agent = new Agent();
  const servers: TestServer[] = [];

  before(async () => {
    server = await startHttpServer((req, res) => void handler(req, res));
    other = await startHttpServer((req, res) => void handler(req, res));
    servers.push(server, other);
  });
  after(async () => {
    await agent.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  /** Runs the same request through Node's fetch and ours, and checks they agree. */
  async function compare(
    input: () => string | URL | Request,
    init: () => RequestInit | undefined = () => undefined,
    ignore: readonly string[] = [],
  ): Promise<Snapshot> {
    const strip = (s: Snapshot) => ({
      ...s,
      headers: s.headers.filter(([name]) => !ignore.includes(name)),
    });
    const theirs = strip(sameBoundary(await snapshot(await fetch(input(), init()))));
    const ours = strip(sameBoundary(await snapshot(await agent.fetch(input(), init()))));
    assert.deepEqual(ours, theirs);
    return ours;
  }

  /** What `/echo` reports. */
  interface Echo {
    method: string;
    path: string;
    contentType: string | null;
    contentLength: string | null;
    chunked: boolean;
    accept: string | null;
    acceptEncoding: string | null;
    authorization: string | null;
    x: string | null;
    body: string;
  }
  const echoOf = (s: Snapshot) =>
    JSON.parse(Buffer.from(s.body!, 'latin1').toString('utf8')) as Echo;

  test('returns a real global Response', async () => {
    const response = await agent.fetch(`${server.origin}/plain`);
    assert.equal(Object.getPrototypeOf(response), Response.prototype);
    assert.ok(response.body instanceof ReadableStream);
    assert.equal(await response.text(), PAYLOAD);
  });

  test('simple GET: status, headers, body, url, redirected agree with Node fetch', async () => {
    const s = await compare(() => `${server.origin}/plain?x=1#fragment`);
    assert.equal(s.url, `${server.origin}/plain?x=1`);
    assert.equal(s.body, PAYLOAD);
    assert.equal(s.type, 'basic');
    await compare(() => new URL(`${server.origin}/plain`));
    await compare(() => server.origin); // the URL is normalised: a `/` is added
  });

  test('request headers: defaults, records, pairs and Headers', async () => {
    const s = await compare(() => `${server.origin}/echo`);
    assert.equal(echoOf(s).accept, '*/*');
    assert.equal(echoOf(s).acceptEncoding, 'gzip, deflate');
    for (const headers of [
      { 'X-Test': 'a', accept: 'text/plain' },
      [['x-test', 'a']] as [string, string][],
      new Headers({ 'x-test': 'a' }),
    ]) {
      const echo = echoOf(
        await compare(
          () => `${server.origin}/echo`,
          () => ({ headers }),
        ),
      );
      assert.equal(echo.x, 'a');
    }
  });

  test('Set-Cookie fields stay separate, other repeats are joined', async () => {
    const response = await agent.fetch(`${server.origin}/cookies`);
    assert.deepEqual(response.headers.getSetCookie(), ['a=1; Path=/', 'b=2']);
    assert.equal(response.headers.get('x-many'), 'one, two');
    await response.arrayBuffer();
    await compare(() => `${server.origin}/cookies`);
  });

  describe('request bodies', () => {
    const post = (body: () => unknown, extra: RequestInit = {}) =>
      compare(
        () => `${server.origin}/echo`,
        () => ({ method: 'POST', body: body() as RequestInit['body'], ...extra }) as RequestInit,
      );

    test('string', async () => {
      const echo = echoOf(await post(() => 'héllo'));
      assert.equal(echo.contentType, 'text/plain;charset=UTF-8');
      assert.equal(echo.body, Buffer.from('héllo').toString('latin1'));
    });

    test('string with a Content-Type of its own', async () => {
      const echo = echoOf(
        await post(() => '{"a":1}', { headers: { 'content-type': 'application/json' } }),
      );
      assert.equal(echo.contentType, 'application/json');
    });

    test('Uint8Array, ArrayBuffer and DataView', async () => {
      const bytes = new Uint8Array([0, 1, 2, 255, 10, 13]);
      assert.equal(echoOf(await post(() => bytes)).body, Buffer.from(bytes).toString('latin1'));
      await post(() => bytes.buffer);
      await post(() => new DataView(bytes.buffer, 1, 3));
    });

    test('URLSearchParams', async () => {
      const echo = echoOf(await post(() => new URLSearchParams({ a: '1', b: 'x y&z' })));
      assert.equal(echo.contentType, 'application/x-www-form-urlencoded;charset=UTF-8');
      assert.equal(echo.body, 'a=1&b=x+y%26z');
    });

    test('Blob, typed and untyped', async () => {
      const echo = echoOf(await post(() => new Blob(['blob body'], { type: 'text/x-blob' })));
      assert.equal(echo.contentType, 'text/x-blob');
      assert.equal(echo.body, 'blob body');
      assert.equal(echoOf(await post(() => new Blob(['x']))).contentType, null);
    });

    test('FormData', async () => {
      const echo = echoOf(
        await post(() => {
          const form = new FormData();
          form.append('field', 'value');
          form.append('file', new Blob(['content'], { type: 'text/plain' }), 'a.txt');
          return form;
        }),
      );
      assert.match(String(echo.contentType), /^multipart\/form-data; boundary=B$/);
      assert.match(String(echo.body), /name="field"\r\n\r\nvalue\r\n/);
      assert.match(String(echo.body), /filename="a.txt"/);
    });

    test('ReadableStream (duplex: half) is sent chunked', async () => {
      const stream = () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('part one, '));
            controller.enqueue(new TextEncoder().encode('part two'));
            controller.close();
          },
        });
      const echo = echoOf(await post(stream, { duplex: 'half' } as RequestInit));
      assert.equal(echo.body, 'part one, part two');
      assert.equal(echo.chunked, true);
      await assert.rejects(
        agent.fetch(`${server.origin}/echo`, { method: 'POST', body: stream() }),
        (error: Error) => error instanceof TypeError && /duplex/.test(error.message),
      );
    });

    test('GET and HEAD cannot have a body', async () => {
      for (const method of ['GET', 'HEAD', 'get']) {
        await assert.rejects(
          agent.fetch(`${server.origin}/echo`, { method, body: 'x' }),
          TypeError,
        );
      }
    });

    test('methods: case normalised for the standard ones, forbidden ones refused', async () => {
      assert.equal(
        echoOf(
          await compare(
            () => `${server.origin}/echo`,
            () => ({ method: 'post', body: '' }),
          ),
        ).method,
        'POST',
      );
      await compare(
        () => `${server.origin}/echo`,
        () => ({ method: 'PATCH', body: 'p' }),
      );
      await assert.rejects(agent.fetch(server.origin, { method: 'CONNECT' }), TypeError);
    });
  });

  test('HEAD, 204, 304 and 205 have a null body', async () => {
    // Node's fetch closes the connection after a HEAD (so the server answers differently).
    const s = await compare(
      () => `${server.origin}/plain`,
      () => ({ method: 'HEAD' }),
      ['connection', 'keep-alive'],
    );
    assert.equal(s.body, null);
    for (const status of [204, 205, 304]) {
      const r = await compare(() => `${server.origin}/status/${status}`);
      assert.equal(r.body, null);
      assert.equal(r.statusText, 'Custom Reason');
    }
    await compare(() => `${server.origin}/status/404`);
    await compare(() => `${server.origin}/status/503`);
  });

  describe('redirects', () => {
    const redirect = (status: number, to: string) =>
      `${server.origin}/redirect/${status}?to=${encodeURIComponent(to)}`;

    test('a 301 → 302 → 303 chain turns POST into GET and drops the body', async () => {
      const url = () => redirect(301, redirect(302, redirect(303, `${server.origin}/echo`)));
      const s = await compare(url, () => ({ method: 'POST', body: 'data' }));
      assert.equal(s.redirected, true);
      assert.equal(s.url, `${server.origin}/echo`);
      const echo = echoOf(s);
      assert.equal(echo.method, 'GET');
      assert.equal(echo.body, '');
      assert.equal(echo.contentType, null);
    });

    test('301 and 302 keep PUT; 303 turns PUT into GET', async () => {
      for (const status of [301, 302]) {
        const echo = echoOf(
          await compare(
            () => redirect(status, '/echo'),
            () => ({ method: 'PUT', body: 'kept' }),
          ),
        );
        assert.equal(echo.method, 'PUT');
        assert.equal(echo.body, 'kept');
      }
      const echo = echoOf(
        await compare(
          () => redirect(303, '/echo'),
          () => ({ method: 'PUT', body: 'gone' }),
        ),
      );
      assert.equal(echo.method, 'GET');
    });

    test('307 and 308 keep the method and the body', async () => {
      for (const status of [307, 308]) {
        const echo = echoOf(
          await compare(
            () => redirect(status, '/echo'),
            () => ({ method: 'POST', body: 'kept' }),
          ),
        );
        assert.equal(echo.method, 'POST');
        assert.equal(echo.body, 'kept');
        // Node 20's fetch fails to replay a Uint8Array (a detached buffer): ours only.
        const bytes = echoOf(
          await snapshot(
            await agent.fetch(redirect(status, '/echo'), {
              method: 'POST',
              body: new Uint8Array([1, 2, 3]),
            }),
          ),
        );
        assert.equal(bytes.body, '\x01\x02\x03');
        assert.equal(bytes.contentLength, '3');
      }
    });

    test('a 307 with a streamed body fails, as the spec says', async () => {
      const init = () =>
        ({
          method: 'POST',
          duplex: 'half',
          body: new ReadableStream({
            start(c) {
              c.enqueue(new Uint8Array([1]));
              c.close();
            },
          }),
        }) as RequestInit;
      await assert.rejects(fetch(redirect(307, '/echo'), init()), TypeError);
      await assert.rejects(
        agent.fetch(redirect(307, '/echo'), init()),
        (error: Error) =>
          error instanceof TypeError &&
          error.message === 'fetch failed' &&
          error.cause instanceof RedirectError,
      );
      // A 303 drops the body, so the stream is no obstacle.
      const echo = echoOf(await snapshot(await agent.fetch(redirect(303, '/echo'), init())));
      assert.equal(echo.method, 'GET');
    });

    test('redirect: "manual" returns the 3xx response as it is', async () => {
      const s = await compare(
        () => redirect(302, '/echo'),
        () => ({ redirect: 'manual' }),
      );
      assert.equal(s.status, 302);
      assert.equal(s.redirected, false);
      assert.equal(s.body, 'moved');
    });

    test('redirect: "error" rejects with a RedirectError cause', async () => {
      await assert.rejects(fetch(redirect(302, '/echo'), { redirect: 'error' }), TypeError);
      await assert.rejects(
        agent.fetch(redirect(302, '/echo'), { redirect: 'error' }),
        (error: Error) => error instanceof TypeError && error.cause instanceof RedirectError,
      );
      // Not a redirect: fine.
      assert.equal(
        (await agent.fetch(`${server.origin}/plain`, { redirect: 'error' })).status,
        200,
      );
    });

    test('a redirect to a URL with credentials fails with a RedirectError cause', async () => {
      const target = `${server.origin.replace('http://', 'http://user:pw@')}/echo`;
      await assert.rejects(
        agent.fetch(redirect(302, target)),
        (error: Error) =>
          error instanceof TypeError &&
          error.cause instanceof RedirectError &&
          /credentials/.test(error.cause.message),
      );
      // Without credentials the same hop is followed.
      const res = await agent.fetch(redirect(302, `${server.origin}/echo`));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    });

    test('20 redirects are followed, the 21st fails', async () => {
      const s = await compare(() => `${server.origin}/loop/0?limit=20`);
      assert.equal(s.body, 'done 20');
      assert.equal(s.url, `${server.origin}/loop/20?limit=20`);
      await assert.rejects(fetch(`${server.origin}/loop/0?limit=21`), TypeError);
      await assert.rejects(
        agent.fetch(`${server.origin}/loop/0?limit=21`),
        (error: Error) =>
          error instanceof TypeError &&
          error.cause instanceof RedirectError &&
          /more than 20/.test(error.cause.message),
      );
    });

    test('a cross-origin redirect drops Authorization; a same-origin one keeps it', async () => {
      const init = () => ({ headers: { authorization: 'Bearer secret' } });
      const cross = await compare(() => redirect(302, `${other.origin}/echo`), init);
      assert.equal(echoOf(cross).authorization, null);
      assert.equal(cross.url, `${other.origin}/echo`);
      const same = await compare(() => redirect(302, '/echo'), init);
      assert.equal(echoOf(same).authorization, 'Bearer secret');
    });

    test('a redirect to another scheme fails', async () => {
      await assert.rejects(
        agent.fetch(redirect(302, 'ftp://example.com/')),
        (error: Error) => error instanceof TypeError && error.cause instanceof RedirectError,
      );
    });
  });

  describe('Request input', () => {
    test('method, headers, body and redirect mode come from the Request', async () => {
      const request = () =>
        new Request(`${server.origin}/echo`, {
          method: 'POST',
          body: 'from a Request',
          headers: { 'x-test': 'r' },
        });
      const echo = echoOf(await compare(request));
      assert.equal(echo.method, 'POST');
      assert.equal(echo.body, 'from a Request');
      assert.equal(echo.x, 'r');
      assert.equal(echo.contentType, 'text/plain;charset=UTF-8');
      const manual = await agent.fetch(
        new Request(`${server.origin}/redirect/301`, { redirect: 'manual' }),
      );
      assert.equal(manual.status, 301);
      await manual.arrayBuffer();
    });

    test('init overrides the Request; a 307 replays a Request body', async () => {
      const echo = echoOf(
        await compare(
          () =>
            new Request(`${server.origin}/redirect/307?to=/echo`, { method: 'POST', body: 'a' }),
          () => ({ headers: { 'x-test': 'init' } }),
        ),
      );
      assert.equal(echo.x, 'init');
      assert.equal(echo.body, 'a');
    });
  });

  describe('content decoding', () => {
    for (const codings of ['gzip', 'deflate', 'rawdeflate', 'br', 'gzip,br', 'deflate,gzip']) {
      test(codings, async () => {
        const url = `${server.origin}/encoded/${codings}`;
        const ours = await snapshot(await agent.fetch(url));
        assert.equal(ours.body, PAYLOAD);
        if (codings !== 'br' && codings !== 'gzip,br') {
          // Node 20's fetch does not ask for br over http, but decodes what it gets; compare all.
          assert.deepEqual(ours, await snapshot(await fetch(url)));
        }
        assert.ok(ours.headers.some(([n]) => n === 'content-encoding'));
      });
    }

    test('an unknown coding leaves the body as it is', async () => {
      const response = await agent.fetch(`${server.origin}/encoded/zstdx`);
      assert.equal(await response.text(), PAYLOAD);
    });

    test('more than five codings are refused', async () => {
      await assert.rejects(
        agent.fetch(`${server.origin}/encoded/gzip,gzip,gzip,gzip,gzip,gzip`),
        (error: Error) => error instanceof TypeError && error.cause instanceof ResponseError,
      );
      const five = await agent.fetch(`${server.origin}/encoded/gzip,gzip,gzip,gzip,gzip`);
      assert.equal(await five.text(), PAYLOAD);
    });

    test('maxResponseSize bounds the decoded body too: a gzip bomb fails, typed', async () => {
      // 8 MiB of zeros gzip to about 8 KiB: well under the limit on the wire, far over it decoded.
      const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
      const server8 = await startHttpServer((_req, res) =>
        send(res, 200, bomb, { 'content-encoding': 'gzip' }),
      );
      servers.push(server8);
      const limit = 1024 * 1024;
      await using limited = new Agent({ limits: { maxResponseSize: limit } });
      const response = await limited.fetch(server8.origin);
      await assert.rejects(response.arrayBuffer(), (error: unknown) => {
        const cause = (error as { cause?: unknown }).cause;
        assert.ok(cause instanceof ResponseLimitError, String(cause));
        assert.equal(cause.limit, 'maxResponseSize');
        assert.equal(cause.value, limit);
        return true;
      });
      // Without the limit (the default), the same body decodes in full.
      const whole = await (await agent.fetch(server8.origin)).arrayBuffer();
      assert.equal(whole.byteLength, 8 * 1024 * 1024);
    });

    test('a corrupt gzip body errors the stream', async () => {
      const bad = await startHttpServer((_req, res) =>
        send(res, 200, Buffer.from('definitely not gzip'), { 'content-encoding': 'gzip' }),
      );
      servers.push(bad);
      const response = await agent.fetch(bad.origin);
      await assert.rejects(response.text());
    });
  });

  describe('abort', () => {
    test('an aborted signal rejects at once with its reason', async () => {
      const controller = new AbortController();
      controller.abort();
      const theirs = await fetch(server.origin, { signal: controller.signal }).catch((e) => e);
      const ours = await agent.fetch(server.origin, { signal: controller.signal }).catch((e) => e);
      assert.equal(ours, controller.signal.reason);
      assert.equal(theirs, controller.signal.reason);
      assert.equal((ours as DOMException).name, 'AbortError');
      const custom = new AbortController();
      custom.abort('my reason');
      await assert.rejects(
        agent.fetch(server.origin, { signal: custom.signal }),
        (e) => e === 'my reason',
      );
    });

    test('an abort while waiting for the head rejects with the reason', async () => {
      const slow = await startHttpServer(() => {
        // never answers
      });
      servers.push(slow);
      const signal = AbortSignal.timeout(50);
      await assert.rejects(
        agent.fetch(slow.origin, { signal }),
        (e: DOMException) => e === signal.reason && e.name === 'TimeoutError',
      );
    });

    test('an abort during the body errors the stream with the reason', async () => {
      const trickle = await startHttpServer((_req, res) => {
        res.writeHead(200, { 'content-length': 100 });
        res.write('first part');
      });
      servers.push(trickle);
      const controller = new AbortController();
      const response = await agent.fetch(trickle.origin, { signal: controller.signal });
      const reader = response.body!.getReader();
      const first = await reader.read();
      assert.equal(Buffer.from(first.value!).toString(), 'first part');
      const pending = reader.read();
      controller.abort();
      await assert.rejects(pending, (e) => e === controller.signal.reason);
      await eventually(() => trickle.open.size === 0, 2000, 'the aborted connection to close');
    });

    test('an abort after a small body arrived, before it is read, errors it as in Node', async () => {
      const outcomes: string[] = [];
      for (const run of [fetch, agent.fetch.bind(agent)]) {
        const controller = new AbortController();
        const response = await run(`${server.origin}/plain`, { signal: controller.signal });
        await sleep(20); // the body is in, the exchange is over
        controller.abort();
        outcomes.push(
          await response.text().then(
            (text) => `read ${text}`,
            (e: Error) =>
              // Node 20 rejects with an AbortError of its own; Node 22+ and httpool with the reason.
              e === controller.signal.reason || (run === fetch && e.name === 'AbortError')
                ? 'aborted'
                : String(e),
          ),
        );
      }
      assert.deepEqual(outcomes, ['aborted', 'aborted']);
    });

    test('an abort between the response arriving and fetch() resolving rejects with the reason', async () => {
      // The exchange ends (and the connection drops its abort listener) in the read that
      // brought the response; a request:end subscriber aborts right there, before fetch resumes.
      const controller = new AbortController();
      const abort = () => controller.abort();
      diagnostics.subscribe('httpool:request:end', abort);
      try {
        await assert.rejects(
          agent.fetch(`${server.origin}/plain`, { signal: controller.signal }),
          (e) => e === controller.signal.reason,
        );
      } finally {
        diagnostics.unsubscribe('httpool:request:end', abort);
      }
      assert.equal(await (await agent.fetch(`${server.origin}/plain`)).text(), PAYLOAD);
    });

    test('a small body read whole leaves no listener on the signal; an abort later changes nothing', async () => {
      const controller = new AbortController();
      const response = await agent.fetch(`${server.origin}/plain`, { signal: controller.signal });
      assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
      assert.equal(await response.text(), PAYLOAD);
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
      controller.abort();
      assert.equal(response.bodyUsed, true);
      // Cancelled unread, the listener goes too.
      const other = new AbortController();
      const unread = await agent.fetch(`${server.origin}/plain`, { signal: other.signal });
      await unread.body!.cancel();
      assert.equal(getEventListeners(other.signal, 'abort').length, 0);
    });

    test('cancelling the body gives the connection up and later fetches still work', async () => {
      // The server keeps sending: the connection reads a little (maxDrainBytes) then closes.
      const big = await startHttpServer((_req, res) => {
        const chunk = Buffer.alloc(64 * 1024);
        let left = 64;
        res.writeHead(200, { 'content-length': left * chunk.byteLength });
        const pump = () => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        res.on('error', () => {});
        pump();
      });
      servers.push(big);
      const response = await agent.fetch(big.origin);
      const reader = response.body!.getReader();
      await reader.read();
      await reader.cancel();
      await eventually(() => big.open.size === 0, 2000, 'the cancelled connection to close');
      assert.equal(await (await agent.fetch(`${server.origin}/plain`)).text(), PAYLOAD);
    });
  });

  test('a large body streams with backpressure: the client does not buffer it all', async () => {
    // Loopback kernel buffers alone can hold several MB (here about 5 MB; Node's own fetch
    // stalls the server at a similar point), so the body is larger than they can absorb.
    const TOTAL = 48 * 1024 * 1024;
    const CHUNK = 64 * 1024;
    let written = 0;
    let blocked = 0;
    const big = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': TOTAL });
      const chunk = Buffer.alloc(CHUNK, 7);
      const pump = () => {
        while (written < TOTAL) {
          written += CHUNK;
          if (!res.write(chunk)) {
            blocked++;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
    });
    servers.push(big);
    const response = await agent.fetch(big.origin);
    const reader = response.body!.getReader();
    let received = 0;
    // A slow reader: a few chunks, then pauses long enough for the server to run ahead.
    for (let i = 0; i < 3; i++) {
      const { value } = await reader.read();
      received += value!.byteLength;
    }
    await sleep(150);
    const stalledAt = written;
    await sleep(100);
    assert.ok(blocked > 0, 'the server saw write() return false');
    assert.equal(written, stalledAt, 'the server is stalled while the reader sleeps');
    assert.ok(written < 20 * 1024 * 1024, `only ${written} bytes in flight, not all ${TOTAL}`);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
    }
    assert.equal(received, TOTAL);
    assert.equal(written, TOTAL);
  });

  test('connection refused: TypeError("fetch failed") with a SocketError cause', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), TypeError);
    await assert.rejects(
      agent.fetch(`http://127.0.0.1:${port}/`),
      (error: Error) =>
        error instanceof TypeError &&
        error.message === 'fetch failed' &&
        error.cause instanceof SocketError,
    );
  });

  test('bad input: an invalid URL, credentials, another scheme', async () => {
    await assert.rejects(agent.fetch('not a url'), TypeError);
    await assert.rejects(agent.fetch(`http://user:pw@127.0.0.1:${server.port}/`), TypeError);
    await assert.rejects(agent.fetch('ftp://127.0.0.1/'), TypeError);
    await assert.rejects(agent.fetch(server.origin, { headers: { 'x-bad': 'a\r\nb' } }), TypeError);
  });

  test('sequential fetches reuse one connection', async () => {
    const counted = await startHttpServer((req, res) => void handler(req, res));
    servers.push(counted);
    const local = new Agent();
    try {
      for (let i = 0; i < 50; i++) {
        const response = await local.fetch(`${counted.origin}/plain?i=${i}`);
        assert.equal(await response.text(), PAYLOAD);
      }
      for (let i = 0; i < 10; i++) {
        const response = await local.fetch(`${counted.origin}/echo`, {
          method: 'POST',
          body: `b${i}`,
        });
        assert.equal(echoOf(await snapshot(response)).body, `b${i}`);
      }
      assert.equal(counted.connections, 1);
      assert.equal(counted.requests, 60);
    } finally {
      await local.close();
    }
  });
});

describe('agent.fetch: unread bodies', () => {
  test('a Response dropped unread gives its connection back once collected', async () => {
    const server = await startHttpServer((_req, res) => {
      // More than the body queues before pausing the socket, less than a drain reads.
      res.writeHead(200, { 'content-length': 200_000 });
      res.end(Buffer.alloc(200_000));
    });
    const agent = new Agent({ maxSize: 1 });
    try {
      await (async () => {
        const response = await agent.fetch(server.origin);
        assert.equal(response.status, 200);
        await sleep(20);
        assert.equal(agent.stats()[server.origin]!.leased, 1);
      })();
      // The only connection is leased until the unread body is given up.
      await collectGarbage(400, () => agent.stats()[server.origin]!.idle === 1);
      assert.equal(agent.stats()[server.origin]!.idle, 1, 'the unread body was not given up');
      assert.equal(
        await (await agent.fetch(server.origin)).arrayBuffer().then((b) => b.byteLength),
        200_000,
      );
      assert.equal(server.connections, 1);
    } finally {
      await agent.destroy();
      await server.close();
    }
  });
});
