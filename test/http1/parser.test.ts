import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidStateError, ResponseError, ResponseLimitError } from '../../src/errors.js';
import { defaultParserLimits, type ParserLimits } from '../../src/http1/limits.js';
import { type ResponseHead, ResponseParser } from '../../src/http1/parser.js';

/** Everything a parse reported, with body views merged so that different splits compare equal. */
interface Result {
  informational: ResponseHead[];
  head: ResponseHead | null;
  body: string;
  trailers: string[] | null;
  consumed: number;
  error: unknown;
}

interface RunOptions {
  method?: string;
  limits?: Partial<ParserLimits>;
  eof?: boolean;
}

/** Feeds `pieces` for one response; stops feeding once it completes (or upgrades). */
function run(pieces: Uint8Array[], options: RunOptions = {}): Result {
  const result: Result = {
    informational: [],
    head: null,
    body: '',
    trailers: null,
    consumed: 0,
    error: null,
  };
  const parser = new ResponseParser(
    {
      onInformational(head) {
        result.informational.push(head);
      },
      onHead(head) {
        assert.equal(result.head, null, 'onHead twice');
        result.head = head;
      },
      onData(chunk) {
        assert.ok(result.head !== null && result.trailers === null, 'onData outside a body');
        assert.ok(chunk.length > 0, 'empty onData');
        result.body += Buffer.from(chunk).toString('latin1');
      },
      onComplete(trailers) {
        assert.equal(result.trailers, null, 'onComplete twice');
        result.trailers = trailers;
      },
    },
    options.limits,
  );
  parser.expect(options.method ?? 'GET');
  try {
    for (const piece of pieces) {
      if (!parser.busy) break;
      result.consumed += parser.execute(piece);
    }
    if (options.eof === true) parser.finish();
  } catch (error) {
    result.error = error;
    result.consumed = -1; // how much was consumed before a failure depends on the split
  }
  return result;
}

const bytes = (s: string) => Buffer.from(s, 'latin1');

/** Parses `raw` whole, split in two at every boundary, and one byte at a time; all must agree. */
function parseEverySplit(raw: string, options: RunOptions = {}): Result {
  const input = bytes(raw);
  const whole = run([input], options);
  for (let cut = 1; cut < input.length; cut++) {
    const split = run([input.subarray(0, cut), input.subarray(cut)], options);
    assert.deepEqual(split, whole, `split at ${cut}`);
  }
  const single = run(
    Array.from({ length: input.length }, (_, k) => input.subarray(k, k + 1)),
    options,
  );
  assert.deepEqual(single, whole, 'one byte at a time');
  return whole;
}

function assertLimit(raw: string, limit: keyof ParserLimits, options: RunOptions = {}): void {
  const result = parseEverySplit(raw, options);
  assert.ok(
    result.error instanceof ResponseLimitError,
    `expected ${limit}, got ${String(result.error)}`,
  );
  assert.equal(result.error.limit, limit);
}

function assertInvalid(raw: string, options: RunOptions = {}): void {
  const result = parseEverySplit(raw, options);
  assert.ok(
    result.error instanceof ResponseError,
    `expected a ResponseError for ${JSON.stringify(raw)}, got ${String(result.error)}`,
  );
  assert.equal(result.error.code, 'ERR_INVALID_RESPONSE');
}

describe('ResponseParser: framing', () => {
  it('reads a Content-Length body', () => {
    const raw = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
    const r = parseEverySplit(`${raw}HTTP/1.1 200 OK\r\n`);
    assert.equal(r.error, null);
    assert.equal(r.consumed, raw.length, 'stops right after the message');
    assert.deepEqual(r.head, {
      versionMajor: 1,
      versionMinor: 1,
      status: 200,
      statusText: 'OK',
      rawHeaders: ['Content-Type', 'text/plain', 'Content-Length', '5'],
      keepAlive: true,
      contentLength: 5,
      chunked: false,
      upgrade: false,
    });
    assert.equal(r.body, 'hello');
    assert.deepEqual(r.trailers, []);
  });

  it('trims OWS around values and keeps names as received', () => {
    const r = parseEverySplit(
      'HTTP/1.1 200 \r\nX-A:\t a b \t\r\nx-empty:\r\nX-SP:   \r\nContent-Length: 0\r\n\r\n',
    );
    assert.equal(r.head?.statusText, '');
    assert.deepEqual(r.head?.rawHeaders, [
      'X-A',
      'a b',
      'x-empty',
      '',
      'X-SP',
      '',
      'Content-Length',
      '0',
    ]);
  });

  it('reads a chunked body with extensions and trailers', () => {
    const raw =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n' +
      '5;name=value;flag\r\nhello\r\n' +
      '1 ; q="a \\"quoted\\" ;value" ; x = y\r\n \r\n' +
      '000A\r\n0123456789\r\n' +
      '0;last\r\nExpires: never\r\nX-Checksum:  abc \r\n\r\n';
    const r = parseEverySplit(`${raw}extra`);
    assert.equal(r.error, null);
    assert.equal(r.consumed, raw.length);
    assert.equal(r.head?.chunked, true);
    assert.equal(r.head?.contentLength, null);
    assert.equal(r.body, 'hello 0123456789');
    assert.deepEqual(r.trailers, ['Expires', 'never', 'X-Checksum', 'abc']);
  });

  it('reads a close-delimited body until finish()', () => {
    const raw =
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body\r\n\r\nHTTP/1.1 200 OK';
    const open = parseEverySplit(raw);
    assert.equal(open.trailers, null, 'not complete before EOF');
    assert.equal(open.head?.keepAlive, false);
    assert.equal(open.body, 'some body\r\n\r\nHTTP/1.1 200 OK');
    const closed = parseEverySplit(raw, { eof: true });
    assert.equal(closed.error, null);
    assert.deepEqual(closed.trailers, []);
    // A Transfer-Encoding that does not end in chunked is also read until close (RFC 9112 §6.3).
    const te = parseEverySplit('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc', {
      eof: true,
    });
    assert.equal(te.body, 'abc');
    assert.equal(te.head?.chunked, false);
    assert.deepEqual(te.trailers, []);
  });

  it('gives HEAD, 204 and 304 responses no body', () => {
    for (const [raw, method] of [
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'HEAD'],
      ['HTTP/1.1 200 OK\r\n\r\n', 'HEAD'],
      ['HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n', 'GET'],
      ['HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET'],
      ['HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n', 'GET'],
    ] as const) {
      const r = parseEverySplit(`${raw}HTTP/1.1 200 OK\r\n\r\n`, { method });
      assert.equal(r.error, null, raw);
      assert.equal(r.consumed, raw.length, raw);
      assert.equal(r.body, '');
      assert.deepEqual(r.trailers, []);
      assert.equal(r.head?.keepAlive, true, raw);
    }
  });

  it('skips 1xx interim responses and parses the final one', () => {
    const raw =
      'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const r = parseEverySplit(raw);
    assert.equal(r.error, null);
    assert.deepEqual(
      r.informational.map((h) => [h.status, h.rawHeaders]),
      [
        [100, []],
        [103, ['Link', '</a.css>; rel=preload']],
      ],
    );
    assert.equal(r.head?.status, 200);
    assert.equal(r.body, 'ok');
  });

  it('stops after a 101 head and leaves the rest unconsumed', () => {
    const head =
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
    const r = parseEverySplit(`${head}\x81\x05hello`);
    assert.equal(r.consumed, head.length);
    assert.equal(r.head?.upgrade, true);
    assert.equal(r.trailers, null, 'no onComplete for an upgrade');
    const tunnel = parseEverySplit('HTTP/1.1 200 Connection established\r\n\r\nTLS...', {
      method: 'CONNECT',
    });
    assert.equal(tunnel.head?.upgrade, true);
    assert.equal(tunnel.consumed, 39);
  });

  it('answers to CONNECT: 2xx opens the tunnel whatever its framing fields say; others have bodies', () => {
    // RFC 9110 §9.3.6: Content-Length and Transfer-Encoding in a 2xx answer to CONNECT are
    // ignored, even when they would be an error anywhere else.
    const cases: [string, string, number | null][] = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'TLS..', null],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '\x16\x03\x01', null],
      ['HTTP/1.1 204 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'x', null],
      ['HTTP/1.1 200 OK\r\nContent-Length: x\r\nTransfer-Encoding: gzip\r\n\r\n', 'x', null],
      ['HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'x', null],
    ];
    for (const [head, after, contentLength] of cases) {
      const r = parseEverySplit(head + after, { method: 'CONNECT' });
      assert.equal(r.error, null, head);
      assert.equal(r.head?.upgrade, true, head);
      assert.equal(r.head?.contentLength, contentLength, head);
      assert.equal(r.head?.chunked, false, head);
      assert.equal(r.consumed, head.length, head);
      assert.equal(r.trailers, null, head);
    }
    // A refusal is an ordinary response with a body; its framing fields count.
    const refused = parseEverySplit(
      'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno',
      { method: 'CONNECT' },
    );
    assert.equal(refused.head?.upgrade, false);
    assert.equal(refused.body, 'no');
    const bad = parseEverySplit(
      'HTTP/1.1 403 No\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      {
        method: 'CONNECT',
      },
    );
    assert.ok(bad.error instanceof ResponseError);
    // Nor does the exception reach other methods.
    const get = parseEverySplit(
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    );
    assert.ok(get.error instanceof ResponseError);
  });

  it('decides keep-alive by version, Connection tokens and framing', () => {
    const cases: [string, boolean][] = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', true],
      ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.1 200 OK\r\nConnection: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n', true],
      ['HTTP/1.1 200 OK\r\n\r\n', false], // close-delimited
      ['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n', true],
      ['HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n', false], // close-delimited
      ['HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n', true],
    ];
    for (const [raw, keepAlive] of cases) {
      assert.equal(parseEverySplit(raw).head?.keepAlive, keepAlive, raw);
    }
  });

  it('accepts any Uint8Array and delivers body bytes as views, not copies', () => {
    const input = new Uint8Array(bytes('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc'));
    const seen: Uint8Array[] = [];
    const parser = new ResponseParser({
      onHead() {},
      onData: (c) => seen.push(c),
      onComplete() {},
    });
    parser.expect('GET');
    assert.equal(parser.execute(input), input.length);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.buffer, input.buffer);
    assert.equal(seen[0]!.byteOffset, input.length - 3);
  });
});

describe('ResponseParser: limits', () => {
  const head = (extra: string) => `HTTP/1.1 200 OK\r\n${extra}Content-Length: 0\r\n\r\n`;

  it('defaults', () => {
    assert.equal(defaultParserLimits.maxHeaderSize, 16384);
    assert.equal(defaultParserLimits.maxHeaderCount, 128);
    assert.equal(defaultParserLimits.maxResponseSize, Number.POSITIVE_INFINITY);
    assert.throws(
      () =>
        new ResponseParser({ onHead() {}, onData() {}, onComplete() {} }, { maxHeaderSize: -1 }),
    );
  });

  it('maxHeaderSize counts the whole head, exactly', () => {
    const raw = head('X-Pad: aaaaaaaaaa\r\n');
    assert.equal(parseEverySplit(raw, { limits: { maxHeaderSize: raw.length } }).error, null);
    assertLimit(raw, 'maxHeaderSize', { limits: { maxHeaderSize: raw.length - 1 } });
    assertLimit(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(20000)}`, 'maxHeaderSize');
    assertLimit(`${'\r\n'.repeat(9000)}HTTP/1.1 200 OK\r\n\r\n`, 'maxHeaderSize');
  });

  it('maxHeaderCount', () => {
    const three = head('A: 1\r\nB: 2\r\n');
    assert.equal(parseEverySplit(three, { limits: { maxHeaderCount: 3 } }).error, null);
    assertLimit(three, 'maxHeaderCount', { limits: { maxHeaderCount: 2 } });
  });

  it('maxStatusLineLength', () => {
    const line = 'HTTP/1.1 200 OKAY\r\n';
    assert.equal(
      parseEverySplit(`${line}\r\n`, { limits: { maxStatusLineLength: line.length } }).error,
      null,
    );
    assertLimit(`${line}\r\n`, 'maxStatusLineLength', {
      limits: { maxStatusLineLength: line.length - 1 },
    });
    assertLimit(`HTTP/1.1 200 ${'x'.repeat(9000)}`, 'maxStatusLineLength');
  });

  it('maxChunkSizeLineLength and maxChunkExtensionSize', () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    assertLimit(`${chunked}${'0'.repeat(5000)}1\r\nx\r\n`, 'maxChunkSizeLineLength');
    assertLimit(`${chunked}1;${'a'.repeat(1100)}\r\nx\r\n`, 'maxChunkExtensionSize');
    const ok = `${chunked}1;abc\r\nx\r\n0\r\n\r\n`;
    assert.equal(parseEverySplit(ok, { limits: { maxChunkExtensionSize: 4 } }).error, null);
    assertLimit(ok, 'maxChunkExtensionSize', { limits: { maxChunkExtensionSize: 3 } });
    assert.equal(parseEverySplit(ok, { limits: { maxChunkSizeLineLength: 7 } }).error, null);
    assertLimit(ok, 'maxChunkSizeLineLength', { limits: { maxChunkSizeLineLength: 6 } });
  });

  it('maxInformationalResponses', () => {
    const raw = `${'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(3)}HTTP/1.1 204 No Content\r\n\r\n`;
    assert.equal(parseEverySplit(raw, { limits: { maxInformationalResponses: 3 } }).error, null);
    assertLimit(raw, 'maxInformationalResponses', { limits: { maxInformationalResponses: 2 } });
  });

  it('maxResponseSize for Content-Length, chunked and close-delimited bodies', () => {
    const limits = { maxResponseSize: 4 };
    assert.equal(
      parseEverySplit('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd', { limits }).error,
      null,
    );
    assertLimit('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde', 'maxResponseSize', { limits });
    assertLimit(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      'maxResponseSize',
      { limits },
    );
    assertLimit('HTTP/1.1 200 OK\r\n\r\nabcde', 'maxResponseSize', { limits });
    // No body, so no limit.
    assert.equal(
      parseEverySplit('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n', { limits, method: 'HEAD' })
        .error,
      null,
    );
  });

  it('maxTrailerSize and the trailer field count', () => {
    const raw = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n\r\n';
    assert.equal(parseEverySplit(raw, { limits: { maxTrailerSize: 14 } }).error, null);
    assertLimit(raw, 'maxTrailerSize', { limits: { maxTrailerSize: 13 } });
    assertLimit(raw, 'maxHeaderCount', { limits: { maxHeaderCount: 1 } });
  });
});

describe('ResponseParser: malformed input', () => {
  const invalid: [string, string][] = [
    ['bare LF after the status line', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n'],
    ['bare LF after a field', 'HTTP/1.1 200 OK\r\nA: b\nContent-Length: 0\r\n\r\n'],
    ['bare LF ending the head', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n'],
    ['bare CR in a value', 'HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n'],
    ['leading bare LF', '\nHTTP/1.1 200 OK\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nA: b\r\n c\r\nContent-Length: 0\r\n\r\n'],
    ['space before the first field', 'HTTP/1.1 200 OK\r\n A: b\r\n\r\n'],
    ['space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
    ['empty field name', 'HTTP/1.1 200 OK\r\n: x\r\n\r\n'],
    ['invalid name byte', 'HTTP/1.1 200 OK\r\nA(b): x\r\n\r\n'],
    ['NUL in a value', 'HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n'],
    ['DEL in a value', 'HTTP/1.1 200 OK\r\nA: b\x7fc\r\n\r\n'],
    ['NUL in the reason', 'HTTP/1.1 200 O\0K\r\n\r\n'],
    ['lower-case protocol', 'http/1.1 200 OK\r\n\r\n'],
    ['RTSP', 'RTSP/1.0 200 OK\r\n\r\n'],
    ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n\r\n'],
    ['HTTP/0.9', 'HTTP/0.9 200 OK\r\n\r\n'],
    ['HTTP/1.2', 'HTTP/1.2 200 OK\r\n\r\n'],
    ['status 099', 'HTTP/1.1 099 OK\r\n\r\n'],
    ['four-digit status', 'HTTP/1.1 2000 OK\r\n\r\n'],
    ['tab after status', 'HTTP/1.1 200\tOK\r\n\r\n'],
    ['CL +5', 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nabcde'],
    ['CL -1', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['CL 0x5', 'HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n'],
    ['CL 1.1', 'HTTP/1.1 200 OK\r\nContent-Length: 1.1\r\n\r\n'],
    ['CL "5 5"', 'HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n'],
    ['CL "5, 5"', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n'],
    ['CL empty', 'HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n'],
    ['CL 2^53', 'HTTP/1.1 200 OK\r\nContent-Length: 9007199254740992\r\n\r\n'],
    ['two identical CL', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx'],
    ['two different CL', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx'],
    [
      'CL + TE',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'TE + CL on a 204',
      'HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n',
    ],
    ['TE in HTTP/1.0', 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['empty TE', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n'],
    ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\ng\r\n'],
    ['empty chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n'],
    ['negative chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n'],
    ['space after chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n'],
    [
      'chunk size overflow',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20000000000000\r\n',
    ],
    [
      'chunk size 2^64',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n',
    ],
    [
      'bare LF after chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n',
    ],
    ['empty extension', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;\r\nx\r\n'],
    ['NUL in extension', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a\0\r\nx\r\n'],
    [
      'LF in quoted extension',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a="\n"\r\nx\r\n',
    ],
    [
      'no CRLF after chunk data',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n',
    ],
    [
      'bare LF after chunk data',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\n0\r\n\r\n',
    ],
    [
      'obs-fold in trailers',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n 2\r\n\r\n',
    ],
    ['bare LF ending trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n'],
  ];
  for (const [name, raw] of invalid) {
    it(name, () => {
      assertInvalid(raw);
    });
  }

  it('after an error every call throws the same error', () => {
    const parser = new ResponseParser({ onHead() {}, onData() {}, onComplete() {} });
    parser.expect('GET');
    let first: unknown;
    try {
      parser.execute(bytes('HTTP/1.1 200 OK\r\nA : b\r\n'));
    } catch (error) {
      first = error;
    }
    assert.ok(first instanceof ResponseError);
    assert.throws(
      () => parser.execute(bytes('\r\n')),
      (e) => e === first,
    );
    assert.throws(
      () => parser.execute(bytes('HTTP/1.1 200 OK\r\n\r\n')),
      (e) => e === first,
    );
    assert.throws(
      () => parser.finish(),
      (e) => e === first,
    );
    assert.throws(
      () => parser.expect('GET'),
      (e) => e === first,
    );
  });
});

describe('ResponseParser: lifecycle', () => {
  const events = () => ({ onHead() {}, onData() {}, onComplete() {} });

  it('throws on unsolicited bytes while idle', () => {
    const parser = new ResponseParser(events());
    assert.equal(parser.execute(new Uint8Array(0)), 0);
    assert.throws(() => parser.execute(bytes('HTTP/1.1 200 OK\r\n\r\n')), /unsolicited/);
    const again = new ResponseParser(events());
    again.expect('GET');
    const response = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
    assert.equal(again.execute(bytes(`${response}\r\n`)), response.length);
    assert.equal(again.busy, false);
    assert.throws(
      () => again.execute(bytes('\r\n')),
      (e) => e instanceof ResponseError && /unsolicited/.test(e.message),
    );
  });

  it('parses pipelined responses one expect() at a time', () => {
    const first = 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na';
    const second = 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb';
    const bodies: string[] = [];
    const parser = new ResponseParser({
      onHead() {},
      onData: (c) => bodies.push(Buffer.from(c).toString()),
      onComplete() {},
    });
    parser.expect('GET');
    const input = bytes(first + second);
    const used = parser.execute(input);
    assert.equal(used, first.length);
    parser.expect('GET');
    assert.throws(() => parser.expect('GET'), InvalidStateError, 'already armed');
    assert.equal(parser.execute(input.subarray(used)), second.length);
    assert.deepEqual(bodies, ['a', 'b']);
  });

  it('rejects data after a response that closed the connection', () => {
    const parser = new ResponseParser(events());
    parser.expect('GET');
    const response = 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
    assert.equal(parser.execute(bytes(`${response}HTTP/1.1`)), response.length);
    assert.throws(() => parser.expect('GET'), InvalidStateError);
    assert.throws(() => parser.execute(bytes('HTTP/1.1')), ResponseError);
  });

  it('tracks messageBytes and busy', () => {
    const parser = new ResponseParser(events());
    assert.equal(parser.busy, false);
    parser.expect('GET');
    assert.equal(parser.busy, true);
    assert.equal(parser.messageBytes, 0);
    parser.finish(); // nothing received: no-op
    const interim = 'HTTP/1.1 100 Continue\r\n\r\n';
    parser.execute(bytes(interim));
    assert.equal(parser.messageBytes, interim.length);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab'));
    assert.equal(parser.messageBytes, interim.length + 40);
    assert.equal(parser.busy, true);
    parser.execute(bytes('cHTTP'));
    assert.equal(parser.messageBytes, interim.length + 41);
    assert.equal(parser.busy, false);
    parser.expect('GET');
    assert.equal(parser.messageBytes, 0);
  });

  it('finish() rejects truncated responses and completes close-delimited ones', () => {
    const truncated = [
      'H',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n',
      'HTTP/1.1 100 Continue\r\n\r\n',
      '\r\n',
    ];
    for (const raw of truncated) {
      const r = run([bytes(raw)], { eof: true });
      assert.ok(r.error instanceof ResponseError, raw);
      assert.match(r.error.message, /truncated/);
    }
    const parser = new ResponseParser(events());
    parser.finish(); // idle: no-op
    parser.expect('GET');
    parser.execute(bytes('HTTP/1.1 200 OK\r\n\r\nbody'));
    parser.finish();
    assert.equal(parser.busy, false);
    parser.finish(); // already complete: no-op
  });

  it('buffers at most one unfinished line', () => {
    const parser = new ResponseParser(events());
    parser.expect('GET');
    const raw = bytes(
      `HTTP/1.1 200 OK\r\nX-Long: ${'v'.repeat(1000)}\r\nContent-Length: 0\r\n\r\n`,
    );
    let max = 0;
    for (let k = 0; k < raw.length; k += 7) {
      parser.execute(raw.subarray(k, k + 7));
      max = Math.max(max, parser.bufferedBytes);
    }
    assert.ok(max <= 1012, `buffered ${max}`);
    assert.equal(parser.bufferedBytes, 0);
  });
});
