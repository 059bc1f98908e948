/**
 * Http1Connection on its own, without a pool: a real loopback socket whose server side the
 * test writes byte by byte, and a FakeClock for every timer. Each test reads as a rule of the
 * exchange: the phases it goes through, the one report it makes, how a failure says whether
 * the server could have seen the request, and when the connection may carry another.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { HeadersTimeoutError, SocketError } from '../../src/errors.js';
import type { ExchangeReport } from '../../src/http/transport.js';
import { Http1Connection, type Http1ConnectionOptions } from '../../src/http1/connection.js';
import { eventually, sleep } from '../helpers/servers.js';

const server = createServer();
const accepted: Socket[] = [];
const acceptWaiters: Array<(socket: Socket) => void> = [];
server.on('connection', (socket) => {
  socket.on('error', () => {});
  const waiter = acceptWaiters.shift();
  if (waiter !== undefined) waiter(socket);
  else accepted.push(socket);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };
const opened: Socket[] = [];
after(async () => {
  for (const socket of opened) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A connection over a fresh loopback socket, the server's end of it, and what it reported. */
async function open(options: Partial<Http1ConnectionOptions> = {}) {
  const peerAccepted = new Promise<Socket>((resolve) => {
    const ready = accepted.shift();
    if (ready !== undefined) resolve(ready);
    else acceptWaiters.push(resolve);
  });
  const socket = netConnect(port, '127.0.0.1');
  opened.push(socket);
  await once(socket, 'connect');
  const peer = await peerAccepted;
  opened.push(peer);
  let received = '';
  peer.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  const clock = new FakeClock();
  const reports: ExchangeReport[] = [];
  const closes: Array<Error | undefined> = [];
  const connection = new Http1Connection(
    socket,
    { host: `127.0.0.1:${port}`, clock, ...options },
    {
      onExchangeEnd: (report) => reports.push(report),
      onClose: (error) => closes.push(error),
    },
  );
  return {
    connection,
    socket,
    peer,
    clock,
    reports,
    closes,
    /** Everything the server has read so far. */
    received: () => received,
    /** Waits until the server has read `text`. */
    arrived: (text: string) => eventually(() => received.includes(text), 2000, `"${text}"`),
  };
}

const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

/** An async iterable whose parts the test hands over one at a time; `end()` finishes it. */
function gatedBody() {
  const parts: Array<string | null> = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const push = (part: string | null) => {
    parts.push(part);
    wake?.();
  };
  return {
    send: (part: string) => push(part),
    end: () => push(null),
    get closed() {
      return closed;
    },
    body: (async function* () {
      try {
        for (;;) {
          while (parts.length === 0) await new Promise<void>((resolve) => (wake = resolve));
          const part = parts.shift()!;
          if (part === null) return;
          yield part;
        }
      } finally {
        closed = true;
      }
    })(),
  };
}

/** Waits long enough for any report or close still on its way, then checks the count. */
async function assertReports(reports: ExchangeReport[], count: number): Promise<void> {
  await sleep(20);
  assert.equal(reports.length, count, `${reports.length} reports, expected ${count}`);
}

describe('Http1Connection: phases', () => {
  test('a GET: awaiting-head, body, then one report and idle; capacity 1, active 1 then 0', async () => {
    const c = await open();
    assert.equal(c.connection.capacity, 1);
    assert.equal(c.connection.active, 0);
    const pending = c.connection.request({ path: '/a' });
    assert.equal(c.connection.exchangePhase, 'awaiting-head', 'written at once');
    assert.equal(c.connection.active, 1);
    await c.arrived('GET /a HTTP/1.1\r\n');
    c.peer.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhe');
    const res = await pending;
    assert.equal(c.connection.exchangePhase, 'body');
    assert.equal(c.reports.length, 0, 'no report before the body ends');
    c.peer.write('llo');
    assert.equal(await res.text(), 'hello');
    assert.equal(c.connection.exchangePhase, undefined);
    assert.equal(c.connection.active, 0);
    assert.equal(c.connection.state, 'idle');
    assert.deepEqual(c.reports, [
      { reusable: true, error: undefined, status: 200, keepAliveHint: undefined },
    ]);
    assert.equal(c.connection.isHealthy(), true);
    await assertReports(c.reports, 1);
  });

  test('a streamed upload: writing until the stream ends, then awaiting-head', async () => {
    const c = await open();
    const upload = gatedBody();
    const pending = c.connection.request({ method: 'PUT', body: upload.body });
    assert.equal(c.connection.exchangePhase, 'writing');
    upload.send('part one, ');
    await c.arrived('part one, ');
    assert.equal(c.connection.exchangePhase, 'writing');
    upload.send('part two');
    upload.end();
    await c.arrived('0\r\n\r\n');
    assert.equal(c.connection.exchangePhase, 'awaiting-head');
    c.peer.write(ok('done'));
    assert.equal(await (await pending).text(), 'done');
    assert.equal(c.reports.length, 1);
    assert.equal(c.reports[0]!.reusable, true);
  });

  test('Expect: 100-continue: awaiting-continue until 100, then writing the body, then awaiting-head', async () => {
    const c = await open();
    const pending = c.connection.request({
      method: 'PUT',
      headers: { expect: '100-continue' },
      body: 'the body',
    });
    assert.equal(c.connection.exchangePhase, 'awaiting-continue');
    await c.arrived('\r\n\r\n');
    c.peer.write('HTTP/1.1 100 Continue\r\n\r\n');
    await c.arrived('the body');
    assert.equal(c.connection.exchangePhase, 'awaiting-head');
    c.peer.write(ok('got it'));
    assert.equal(await (await pending).text(), 'got it');
    assert.equal(c.reports.length, 1);
    assert.equal(c.reports[0]!.reusable, true);
  });

  test('Expect: 100-continue: a second of silence sends the body anyway (fake time)', async () => {
    const c = await open();
    const pending = c.connection.request({
      method: 'PUT',
      headers: { expect: '100-continue' },
      body: 'late body',
    });
    await c.arrived('\r\n\r\n');
    c.clock.advance(999);
    assert.equal(c.connection.exchangePhase, 'awaiting-continue');
    c.clock.advance(1);
    assert.equal(c.connection.exchangePhase, 'awaiting-head');
    await c.arrived('late body');
    c.peer.write(ok('ok'));
    assert.equal(await (await pending).text(), 'ok');
  });

  test('a body given up: draining, then a reusable report once the rest is read', async () => {
    const c = await open();
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.peer.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n012');
    const res = await pending;
    const dumped = res.dump();
    assert.equal(c.connection.exchangePhase, 'draining');
    c.peer.write('3456789');
    await dumped;
    await eventually(() => c.reports.length === 1, 1000, 'the report');
    assert.equal(c.reports[0]!.reusable, true, 'a small unread body is drained, not a close');
    assert.equal(c.connection.state, 'idle');
  });

  test('the last write not yet flushed: flushing, and after the wait a report that says no', async () => {
    // The server reads a little of a large upload, answers, and reads no more: the response is
    // whole while most of the request still sits in the socket's buffer.
    const c = await open();
    let seen = 0;
    c.peer.on('data', (chunk: Buffer) => {
      seen += chunk.byteLength;
      if (seen > 4096 && !c.peer.isPaused()) {
        c.peer.pause();
        c.peer.write('HTTP/1.1 413 Content Too Large\r\ncontent-length: 4\r\n\r\nnope');
      }
    });
    const res = await c.connection.request({
      method: 'PUT',
      body: new Uint8Array(32 * 1024 * 1024),
    });
    assert.equal(await res.text(), 'nope');
    assert.equal(c.connection.exchangePhase, 'flushing');
    assert.equal(c.reports.length, 0, 'the verdict waits for the flush');
    c.clock.advance(249);
    assert.equal(c.reports.length, 0);
    c.clock.advance(1);
    assert.equal(c.connection.exchangePhase, undefined);
    assert.equal(c.reports.length, 1);
    assert.equal(c.reports[0]!.reusable, false);
    assert.equal(c.reports[0]!.error, undefined, 'the exchange itself succeeded');
    assert.equal(c.connection.closing, true);
    await assertReports(c.reports, 1);
  });

  test('awaiting-head runs the headers timer on the injected clock', async () => {
    const c = await open({ headersTimeout: 500 });
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.clock.advance(499);
    assert.equal(c.connection.exchangePhase, 'awaiting-head');
    c.clock.advance(1);
    await assert.rejects(pending, HeadersTimeoutError);
    assert.equal(c.reports.length, 1);
    assert.equal(c.reports[0]!.reusable, false);
    assert.ok(c.reports[0]!.error instanceof HeadersTimeoutError);
    await assertReports(c.reports, 1);
  });
});

describe('Http1Connection: one report per exchange', () => {
  test('three exchanges, three reports; destroy() afterwards adds none', async () => {
    const c = await open();
    for (let i = 0; i < 3; i++) {
      const pending = c.connection.request({ path: `/${i}` });
      await c.arrived(`GET /${i} `);
      c.peer.write(ok(`r${i}`));
      assert.equal(await (await pending).text(), `r${i}`);
    }
    assert.equal(c.reports.length, 3);
    assert.ok(c.reports.every((report) => report.reusable && report.error === undefined));
    c.connection.destroy();
    await c.connection.closed;
    await assertReports(c.reports, 3);
    assert.deepEqual(c.closes, [undefined]);
  });

  test('a failure reports once, however many ways the socket then says it is gone', async () => {
    const c = await open();
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.peer.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nsome');
    const res = await pending;
    c.peer.resetAndDestroy();
    await assert.rejects(res.text(), SocketError);
    c.connection.destroy(new Error('and again'));
    await c.connection.closed;
    await assertReports(c.reports, 1);
    assert.equal(c.reports[0]!.reusable, false);
    assert.ok(c.reports[0]!.error instanceof SocketError);
  });

  test('input refused before anything is sent: no exchange, no report, the connection as it was', async () => {
    const c = await open();
    await assert.rejects(c.connection.request({ method: 'BAD METHOD' }));
    await assert.rejects(c.connection.request({ headers: { 'x-bad': 'a\r\nb' } }));
    assert.equal(c.connection.active, 0);
    assert.equal(c.connection.isHealthy(), true);
    await assertReports(c.reports, 0);
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.peer.write(ok('fine'));
    assert.equal(await (await pending).text(), 'fine');
    assert.equal(c.reports.length, 1);
  });
});

describe('Http1Connection: a failure says whether the server could have seen the request', () => {
  test('closed before any byte was written: requestSent none, no answer, no exchange', async () => {
    const c = await open();
    c.socket.destroy();
    const error = await c.connection.request({}).then(
      () => assert.fail('resolved'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SocketError);
    assert.equal(error.requestSent, 'none');
    assert.equal(error.responseStarted, false);
    await assertReports(c.reports, 0);
  });

  test('closed after the request was written, before any response byte: requestSent all, no answer', async () => {
    const c = await open();
    const pending = c.connection.request({ method: 'POST', body: 'charge' });
    await c.arrived('charge');
    c.peer.end();
    const error = await pending.then(
      () => assert.fail('resolved'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SocketError);
    assert.equal(error.code, 'ERR_SOCKET');
    assert.equal(error.requestSent, 'all');
    assert.equal(error.responseStarted, false);
    assert.equal(c.reports.length, 1);
    assert.equal(c.reports[0]!.error, error, 'the report carries the very error');
  });

  test('closed in the middle of a streamed upload: requestSent partial', async () => {
    const c = await open();
    const upload = gatedBody();
    const pending = c.connection.request({ method: 'PUT', body: upload.body });
    upload.send('first part');
    await c.arrived('first part');
    c.peer.end();
    const error = await pending.then(
      () => assert.fail('resolved'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SocketError);
    assert.equal(error.requestSent, 'partial');
    assert.equal(error.responseStarted, false);
    upload.send('never read');
    await eventually(() => upload.closed, 1000, 'the upload to stop');
  });

  test('closed mid-head: the answer had begun', async () => {
    const c = await open();
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.peer.end('HTTP/1.1 200 OK\r\ncontent-le');
    const error = await pending.then(
      () => assert.fail('resolved'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SocketError);
    assert.equal(error.requestSent, 'all');
    assert.equal(error.responseStarted, true);
  });

  test('closed mid-body: the body fails with an error that says the answer had begun', async () => {
    const c = await open();
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.peer.write('HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\npartial');
    const res = await pending;
    c.peer.end();
    const error = await res.text().then(
      () => assert.fail('resolved'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SocketError);
    assert.equal(error.responseStarted, true);
    assert.equal(c.reports.length, 1);
    assert.equal(c.reports[0]!.error, error);
  });
});

describe('Http1Connection: reuse verdicts', () => {
  /** One exchange answered with `response`; returns its report and the body read. */
  async function verdict(response: string) {
    const c = await open();
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.peer.write(response);
    const res = await pending;
    const closingAtHead = c.connection.closing;
    const text = await res.text();
    await eventually(() => c.reports.length === 1, 1000, 'the report');
    return { c, text, closingAtHead, report: c.reports[0]! };
  }

  test('Connection: close: closing from the head on, and the report says no', async () => {
    const { c, text, closingAtHead, report } = await verdict(ok('bye', 'connection: close\r\n'));
    assert.equal(text, 'bye');
    assert.equal(closingAtHead, true, 'one-way: known as soon as the head said so');
    assert.equal(report.reusable, false);
    assert.equal(report.error, undefined);
    assert.equal(c.connection.closing, true);
    await c.connection.closed;
  });

  test('HTTP/1.0 without keep-alive: the report says no', async () => {
    const { report, text } = await verdict('HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok');
    assert.equal(text, 'ok');
    assert.equal(report.reusable, false);
  });

  test('HTTP/1.0 with Connection: keep-alive: the report says yes', async () => {
    const { report } = await verdict(
      'HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok',
    );
    assert.equal(report.reusable, true);
  });

  test('the request asked to close: closing during the exchange, and the report says no', async () => {
    const c = await open();
    const pending = c.connection.request({ headers: { connection: 'close' } });
    assert.equal(c.connection.closing, true);
    await c.arrived('\r\n\r\n');
    c.peer.write(ok('x'));
    await (await pending).text();
    assert.equal(c.reports[0]!.reusable, false);
  });

  test('bytes past the response: the report says no', async () => {
    const { report } = await verdict(`${ok('one')}HTTP/1.1 200 OK\r\n`);
    assert.equal(report.reusable, false);
  });

  test('the Keep-Alive hint and the status travel in the report', async () => {
    const { report } = await verdict(
      'HTTP/1.1 201 Created\r\nkeep-alive: timeout=5, max=100\r\ncontent-length: 0\r\n\r\n',
    );
    assert.deepEqual(report, {
      reusable: true,
      error: undefined,
      status: 201,
      keepAliveHint: 5000,
    });
  });

  test('an early answer to an unfinished upload: delivered, the upload stopped, the report says no', async () => {
    const c = await open();
    const upload = gatedBody();
    const pending = c.connection.request({ method: 'PUT', body: upload.body });
    upload.send('some of it');
    await c.arrived('some of it');
    c.peer.write('HTTP/1.1 413 Content Too Large\r\ncontent-length: 4\r\n\r\nnope');
    const res = await pending;
    assert.equal(res.status, 413);
    assert.equal(await res.text(), 'nope');
    assert.equal(c.reports.length, 1);
    assert.equal(c.reports[0]!.reusable, false);
    assert.equal(c.reports[0]!.error, undefined);
    upload.send('more');
    await eventually(() => upload.closed, 1000, 'the upload to stop');
    assert.ok(!c.received().includes('more'));
  });

  test('an unread body over maxDrainBytes: closed instead of drained', async () => {
    const c = await open({ maxDrainBytes: 1024 });
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.peer.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n');
    const res = await pending;
    const dumped = res.dump();
    c.peer.write('y'.repeat(4096));
    await dumped;
    await eventually(() => c.reports.length === 1, 1000, 'the report');
    assert.equal(c.reports[0]!.reusable, false);
    assert.ok(c.reports[0]!.error instanceof SocketError);
    assert.match(c.reports[0]!.error.message, /draining a large unread response/);
    await c.connection.closed;
  });

  test('an unread body that drips past maxDrainTime (fake time): closed instead of drained', async () => {
    const c = await open({ maxDrainTime: 300 });
    const pending = c.connection.request({});
    await c.arrived('\r\n\r\n');
    c.peer.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0');
    const res = await pending;
    void res.dump();
    assert.equal(c.connection.exchangePhase, 'draining');
    c.clock.advance(299);
    assert.equal(c.reports.length, 0);
    c.clock.advance(1);
    assert.equal(c.reports.length, 1);
    assert.equal(c.reports[0]!.reusable, false);
    assert.match(String(c.reports[0]!.error?.message), /for over 300 ms/);
  });
});
