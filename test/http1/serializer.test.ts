import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../src/errors.js';
import type { HeadersInput } from '../../src/http/options.js';
import {
  type BodyFraming,
  chunkHeader,
  isTokenString,
  LAST_CHUNK,
  type RequestHeadInput,
  serializeRequestHead,
} from '../../src/http1/serializer.js';

const NONE: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };
const length = (n: number): BodyFraming => ({ kind: 'length', length: n });

/** Looks like a credential, so a leak in an error message is easy to spot. */
const SECRET = 'sk_live_51Hc9SeCrEt';

function req(overrides: Partial<RequestHeadInput> = {}): RequestHeadInput {
  return { method: 'GET', path: '/', host: 'example.com', framing: NONE, ...overrides };
}

/** Asserts an ERR_INVALID_ARG refusal whose message contains none of `secrets`. */
function assertRefused(
  input: RequestHeadInput,
  secrets: readonly string[] = [SECRET],
  why?: RegExp,
): void {
  assert.throws(
    () => serializeRequestHead(input),
    (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${err}`);
      assert.equal(err.code, 'ERR_INVALID_ARG');
      for (const secret of secrets) assert.ok(!err.message.includes(secret), err.message);
      if (why !== undefined) assert.match(err.message, why);
      assert.ok(!/[\r\n\0]/.test(err.message), 'message must not carry control characters');
      return true;
    },
  );
}

/** An object whose string conversion is hostile: the check must run after String(). */
function numberLike(text: string): number {
  return { toString: () => text, valueOf: () => 1 } as unknown as number;
}

describe('serializeRequestHead: valid heads', () => {
  const cases: { name: string; input: RequestHeadInput; head: string; keepAlive?: boolean }[] = [
    {
      name: 'minimal GET',
      input: req(),
      head: 'GET / HTTP/1.1\r\nhost: example.com\r\n\r\n',
    },
    {
      name: 'record headers keep order and name case; numbers are converted',
      input: req({ path: '/a/b?c=d&e', headers: { Accept: '*/*', 'X-Count': 3 } }),
      head: 'GET /a/b?c=d&e HTTP/1.1\r\nhost: example.com\r\nAccept: */*\r\nX-Count: 3\r\n\r\n',
    },
    {
      name: 'iterable headers (Map)',
      input: req({
        headers: new Map<string, string | number>([
          ['a', '1'],
          ['b', 2],
        ]),
      }),
      head: 'GET / HTTP/1.1\r\nhost: example.com\r\na: 1\r\nb: 2\r\n\r\n',
    },
    {
      name: 'iterable headers (array of pairs) may repeat a name',
      input: req({
        headers: [
          ['cookie', 'a=1'],
          ['cookie', 'b=2'],
        ],
      }),
      head: 'GET / HTTP/1.1\r\nhost: example.com\r\ncookie: a=1\r\ncookie: b=2\r\n\r\n',
    },
    {
      name: 'array values give one line per element; undefined is skipped',
      input: req({ headers: { 'set-thing': ['x', 1], skipped: undefined } }),
      head: 'GET / HTTP/1.1\r\nhost: example.com\r\nset-thing: x\r\nset-thing: 1\r\n\r\n',
    },
    {
      name: 'values are trimmed of SP/HTAB; inner whitespace and obs-text kept; empty allowed',
      input: req({ headers: { a: ' \t x  y \t', b: 'caf\u00e9', c: '', d: '   ' } }),
      head: 'GET / HTTP/1.1\r\nhost: example.com\r\na: x  y\r\nb: caf\u00e9\r\nc: \r\nd: \r\n\r\n',
    },
    {
      name: 'user Host replaces the default and comes first',
      input: req({ headers: { accept: 'x', Host: 'other.test:8080' } }),
      head: 'GET / HTTP/1.1\r\nHost: other.test:8080\r\naccept: x\r\n\r\n',
    },
    {
      name: 'IPv6 host literal',
      input: req({ host: '[::1]:8080' }),
      head: 'GET / HTTP/1.1\r\nhost: [::1]:8080\r\n\r\n',
    },
    {
      name: 'length framing adds content-length',
      input: req({ method: 'POST', framing: length(5) }),
      head: 'POST / HTTP/1.1\r\nhost: example.com\r\ncontent-length: 5\r\n\r\n',
    },
    {
      name: 'GET with length framing still gets content-length',
      input: req({ framing: length(0) }),
      head: 'GET / HTTP/1.1\r\nhost: example.com\r\ncontent-length: 0\r\n\r\n',
    },
    {
      name: 'matching user Content-Length is kept in place, canonicalised',
      input: req({
        method: 'PUT',
        framing: length(12),
        headers: { 'Content-Length': '012', z: 'z' },
      }),
      head: 'PUT / HTTP/1.1\r\nhost: example.com\r\nContent-Length: 12\r\nz: z\r\n\r\n',
    },
    {
      name: 'user Content-Length with many leading zeros',
      input: req({
        method: 'PUT',
        framing: length(12),
        headers: { 'content-length': '00000000000000000012' },
      }),
      head: 'PUT / HTTP/1.1\r\nhost: example.com\r\ncontent-length: 12\r\n\r\n',
    },
    {
      name: 'numeric user Content-Length',
      input: req({ method: 'PUT', framing: length(7), headers: { 'content-length': 7 } }),
      head: 'PUT / HTTP/1.1\r\nhost: example.com\r\ncontent-length: 7\r\n\r\n',
    },
    {
      name: 'bodiless POST gets content-length: 0',
      input: req({ method: 'POST' }),
      head: 'POST / HTTP/1.1\r\nhost: example.com\r\ncontent-length: 0\r\n\r\n',
    },
    {
      name: 'bodiless PATCH with a user content-length: 0 is not doubled',
      input: req({ method: 'PATCH', headers: { 'Content-Length': '0' } }),
      head: 'PATCH / HTTP/1.1\r\nhost: example.com\r\nContent-Length: 0\r\n\r\n',
    },
    {
      name: 'bodiless DELETE gets no content-length',
      input: req({ method: 'DELETE' }),
      head: 'DELETE / HTTP/1.1\r\nhost: example.com\r\n\r\n',
    },
    {
      name: 'method sent as given (no case normalisation, no content-length for "post")',
      input: req({ method: 'post' }),
      head: 'post / HTTP/1.1\r\nhost: example.com\r\n\r\n',
    },
    {
      name: 'chunked framing adds transfer-encoding',
      input: req({ method: 'POST', framing: CHUNKED }),
      head: 'POST / HTTP/1.1\r\nhost: example.com\r\ntransfer-encoding: chunked\r\n\r\n',
    },
    {
      name: 'user Transfer-Encoding: chunked with chunked framing is not doubled',
      input: req({ method: 'POST', framing: CHUNKED, headers: { 'Transfer-Encoding': 'Chunked' } }),
      head: 'POST / HTTP/1.1\r\nhost: example.com\r\nTransfer-Encoding: Chunked\r\n\r\n',
    },
    {
      name: 'Connection: close is sent as given and clears keepAlive',
      input: req({ headers: { Connection: 'Close' } }),
      head: 'GET / HTTP/1.1\r\nhost: example.com\r\nConnection: Close\r\n\r\n',
      keepAlive: false,
    },
    {
      name: 'Connection: keep-alive, te is allowed and keeps keepAlive',
      input: req({ headers: { connection: 'keep-alive, te', te: 'trailers' } }),
      head: 'GET / HTTP/1.1\r\nhost: example.com\r\nconnection: keep-alive, te\r\nte: trailers\r\n\r\n',
    },
    {
      name: 'asterisk-form for OPTIONS',
      input: req({ method: 'OPTIONS', path: '*' }),
      head: 'OPTIONS * HTTP/1.1\r\nhost: example.com\r\n\r\n',
    },
    {
      name: 'absolute-form',
      input: req({ path: 'HTTP://example.com/x?y' }),
      head: 'GET HTTP://example.com/x?y HTTP/1.1\r\nhost: example.com\r\n\r\n',
    },
    {
      name: 'WHATWG URL leftovers |^{}`\\ and pct-encoding in the target are allowed',
      input: req({ path: '/a%20b|c^?q={"x"}`\\' }),
      head: 'GET /a%20b|c^?q={"x"}`\\ HTTP/1.1\r\nhost: example.com\r\n\r\n',
    },
    {
      name: 'non-standard token method',
      input: req({ method: 'PROPFIND' }),
      head: 'PROPFIND / HTTP/1.1\r\nhost: example.com\r\n\r\n',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = serializeRequestHead(c.input);
      assert.equal(out.head, c.head);
      assert.equal(out.keepAlive, c.keepAlive ?? true);
      assert.equal(out.idempotencyKey, false);
      assert.equal(out.expectContinue, false);
    });
  }

  it('flags Idempotency-Key and X-Idempotency-Key', () => {
    for (const name of ['Idempotency-Key', 'x-idempotency-key']) {
      const out = serializeRequestHead(req({ method: 'POST', headers: { [name]: 'k1' } }));
      assert.equal(out.idempotencyKey, true);
      assert.ok(out.head.includes(`${name}: k1\r\n`));
    }
  });

  it('flags Expect: 100-continue when there is a body', () => {
    const out = serializeRequestHead(
      req({ method: 'PUT', framing: length(3), headers: { Expect: '100-Continue' } }),
    );
    assert.equal(out.expectContinue, true);
    assert.equal(
      out.head,
      'PUT / HTTP/1.1\r\nhost: example.com\r\nExpect: 100-Continue\r\ncontent-length: 3\r\n\r\n',
    );
  });

  it('ignores inherited (prototype) properties of a record', () => {
    const headers: Record<string, string> = Object.assign(
      Object.create({ injected: 'x\r\nevil: 1' }) as Record<string, string>,
      { own: 'y' },
    );
    assert.equal(
      serializeRequestHead(req({ headers })).head,
      'GET / HTTP/1.1\r\nhost: example.com\r\nown: y\r\n\r\n',
    );
  });

  it('does not mutate its input', () => {
    const headers = { a: ['1', '2'], Host: 'h' };
    const input = req({ headers, framing: length(1) });
    const copy = structuredClone(input);
    serializeRequestHead(input);
    assert.deepEqual(input, copy);
  });

  it('an empty Host array falls back to the default host', () => {
    assert.equal(
      serializeRequestHead(req({ headers: { host: [] } })).head,
      'GET / HTTP/1.1\r\nhost: example.com\r\n\r\n',
    );
  });
});

describe('serializeRequestHead: refusals', () => {
  const h = (headers: HeadersInput, extra: Partial<RequestHeadInput> = {}) =>
    req({ headers, ...extra });
  const cases: { name: string; input: RequestHeadInput; secrets?: string[]; why?: RegExp }[] = [
    // method
    { name: 'empty method', input: req({ method: '' }) },
    { name: 'method with space', input: req({ method: 'GET /evil' }), secrets: ['/evil'] },
    { name: 'method with CRLF', input: req({ method: `GET\r\n${SECRET}` }) },
    { name: 'method with NUL', input: req({ method: 'GE\0T' }) },
    { name: 'method non-ASCII', input: req({ method: 'G\u00c9T' }) },
    { name: 'CONNECT', input: req({ method: 'CONNECT', path: '/' }) },
    { name: 'connect (any case)', input: req({ method: 'connect' }) },
    {
      name: 'TRACE with a body',
      input: req({ method: 'TRACE', framing: length(1) }),
      why: /TRACE/,
    },
    // path
    { name: 'empty path', input: req({ path: '' }) },
    { name: 'path with CRLF', input: req({ path: `/a\r\n${SECRET}` }) },
    { name: 'path with bare LF', input: req({ path: `/${SECRET}\nx` }) },
    { name: 'path with bare CR', input: req({ path: `/${SECRET}\rx` }) },
    { name: 'path with NUL', input: req({ path: `/${SECRET}\0` }) },
    { name: 'path with space', input: req({ path: `/${SECRET} HTTP/1.1` }) },
    { name: 'path with HTAB', input: req({ path: `/${SECRET}\t` }) },
    { name: 'path with DEL', input: req({ path: `/${SECRET}\x7f` }) },
    { name: 'path with other CTL', input: req({ path: `/${SECRET}\x1b` }) },
    { name: 'path with latin1 byte', input: req({ path: `/${SECRET}\u00e9` }) },
    {
      name: 'path with U+010D U+010A (CVE-2018-12116)',
      input: req({ path: `/${SECRET}\u010d\u010a` }),
    },
    {
      name: 'path with a fragment',
      input: req({ path: `/${SECRET}#frag` }),
      why: /'#' at position/,
    },
    { name: 'relative path', input: req({ path: 'a/b' }) },
    { name: '* without OPTIONS', input: req({ path: '*' }), why: /only allowed with OPTIONS/ },
    { name: '*x with OPTIONS', input: req({ method: 'OPTIONS', path: '*x' }) },
    { name: 'other scheme', input: req({ path: 'ftp://example.com/' }) },
    { name: 'absolute-form without authority', input: req({ path: 'http:///x' }) },
    // host
    { name: 'default host with CRLF', input: req({ host: `h\r\n\r\n${SECRET}` }) },
    { name: 'default host empty', input: req({ host: '' }) },
    { name: 'default host with a slash', input: req({ host: `h/${SECRET}` }) },
    { name: 'user Host with CRLF', input: h({ Host: `x\r\n\r\na:${SECRET}` }) },
    {
      name: 'user Host with userinfo',
      input: h({ host: `${SECRET}@evil` }),
      secrets: ['@evil'],
      why: /header "host" contains/,
    },
    { name: 'user Host empty', input: h({ host: '' }) },
    // header names
    { name: 'empty header name', input: h({ '': 'x' }) },
    { name: 'header name with colon', input: h({ [`a:${SECRET}`]: 'x' }) },
    { name: 'header name with CRLF', input: h({ [`a\r\n${SECRET}`]: 'x' }) },
    { name: 'header name with space', input: h({ [`a ${SECRET}`]: 'x' }) },
    { name: 'header name non-ASCII', input: h({ [`\u00e9${SECRET}`]: 'x' }) },
    { name: 'pseudo-header name', input: h({ ':authority': 'x' }) },
    { name: 'iterable entry not a pair', input: h(['a'] as unknown as HeadersInput) },
    { name: 'iterable entry name not a string', input: h([[1, 'x']] as unknown as HeadersInput) },
    { name: 'headers is a string', input: h('a: b' as unknown as HeadersInput) },
    // header values
    { name: 'value with CRLF', input: h({ authorization: `Bearer ${SECRET}\r\nx: y` }) },
    { name: 'value with bare CR', input: h({ authorization: `Bearer ${SECRET}\r` }) },
    { name: 'value with bare LF', input: h({ authorization: `Bearer ${SECRET}\nx` }) },
    { name: 'value with NUL', input: h({ authorization: `Bearer ${SECRET}\0` }) },
    { name: 'value with DEL', input: h({ authorization: `Bearer ${SECRET}\x7f` }) },
    { name: 'value with VT', input: h({ authorization: `Bearer ${SECRET}\v` }) },
    { name: 'value above U+00FF', input: h({ authorization: `Bearer ${SECRET}\u20ac` }) },
    { name: 'value with CRLF in an array element', input: h({ cookie: ['a=1', `${SECRET}\r\n`] }) },
    { name: 'value with CRLF in an iterable', input: h([['cookie', `${SECRET}\n`]]) },
    {
      name: 'value with CRLF after String() of a number-like object',
      input: h({ 'x-n': numberLike(`1\r\nx-secret: ${SECRET}`) }),
      why: /"x-n" contains CR/,
    },
    {
      name: 'value whose conversion throws',
      input: h({ 'x-n': Object.create(null) as unknown as number }),
    },
    {
      name: 'value with Symbol.toPrimitive returning CRLF',
      input: h({
        'x-n': { [Symbol.toPrimitive]: () => `${SECRET}\r\n` } as unknown as number,
      }),
    },
    // duplicates
    { name: 'Host twice, case variants in a record', input: h({ Host: 'a', host: 'b' }) },
    { name: 'Host twice in an array', input: h({ host: ['a', 'b'] }), why: /duplicate/ },
    {
      name: 'Host twice in an iterable',
      input: h([
        ['HOST', 'a'],
        ['host', 'b'],
      ]),
    },
    {
      name: 'Content-Length twice, case variants (GHSA-2mjp-6q6p-2qxm)',
      input: h({ 'Content-Length': '5', 'content-length': '50' }, { framing: length(5) }),
    },
    {
      name: 'Content-Length twice in an array, same value',
      input: h({ 'content-length': ['5', '5'] }, { framing: length(5) }),
      why: /duplicate/,
    },
    {
      name: 'Content-Length twice in an iterable',
      input: h(
        [
          ['content-length', 5],
          ['Content-Length', 5],
        ],
        { framing: length(5) },
      ),
    },
    {
      name: 'Transfer-Encoding twice',
      input: h({ 'transfer-encoding': ['chunked', 'chunked'] }, { framing: CHUNKED }),
    },
    // Content-Length rules
    {
      name: 'CL mismatch',
      input: h({ 'content-length': '6' }, { framing: length(5) }),
      why: /does not match/,
    },
    {
      name: 'CL non-zero with none',
      input: h({ 'content-length': '5' }),
      why: /does not match the body length \(0 bytes\)/,
    },
    {
      name: 'CL with chunked',
      input: h({ 'content-length': '5' }, { framing: CHUNKED }),
      why: /not allowed with a chunked body/,
    },
    { name: 'CL negative', input: h({ 'content-length': -5 }, { framing: length(5) }) },
    { name: 'CL signed', input: h({ 'content-length': '+5' }, { framing: length(5) }) },
    { name: 'CL hex', input: h({ 'content-length': '0x5' }, { framing: length(5) }) },
    { name: 'CL list', input: h({ 'content-length': '5, 5' }, { framing: length(5) }) },
    { name: 'CL fraction', input: h({ 'content-length': 5.5 }, { framing: length(5) }) },
    { name: 'CL empty', input: h({ 'content-length': '' }, { framing: length(0) }) },
    {
      name: 'CL beyond 2^53',
      input: h({ 'content-length': '9007199254740993' }, { framing: length(2 ** 53 - 1) }),
      why: /not a non-negative decimal integer/,
    },
    // Transfer-Encoding rules
    { name: 'TE chunked without chunked framing', input: h({ 'transfer-encoding': 'chunked' }) },
    {
      name: 'TE chunked with length framing',
      input: h({ 'transfer-encoding': 'chunked' }, { framing: length(1) }),
      why: /only with chunked framing/,
    },
    {
      name: 'TE gzip, chunked',
      input: h({ 'transfer-encoding': 'gzip, chunked' }, { framing: CHUNKED }),
    },
    { name: 'TE identity', input: h({ 'Transfer-Encoding': 'identity' }, { framing: CHUNKED }) },
    // hop-by-hop and protocol switches
    { name: 'Upgrade header', input: h({ Upgrade: 'websocket' }) },
    {
      name: 'Connection: upgrade',
      input: h({ Connection: 'keep-alive, Upgrade' }),
      why: /"Connection": protocol upgrades/,
    },
    { name: 'Connection naming content-length', input: h({ Connection: 'content-length' }) },
    { name: 'Connection naming transfer-encoding', input: h({ connection: 'Transfer-Encoding' }) },
    { name: 'Connection naming host', input: h({ connection: 'host' }) },
    { name: 'Connection option not a token', input: h({ connection: `close, ${SECRET}/x` }) },
    { name: 'Keep-Alive header', input: h({ 'Keep-Alive': 'timeout=5' }) },
    {
      name: 'Expect other than 100-continue',
      input: h({ expect: `${SECRET}` }, { framing: length(1) }),
    },
    {
      name: 'Expect: 100-continue without a body',
      input: h({ expect: '100-continue' }),
      why: /needs a request body/,
    },
    // framing
    { name: 'negative length', input: req({ framing: length(-1) }) },
    { name: 'fractional length', input: req({ framing: length(1.5) }) },
    { name: 'unsafe length', input: req({ framing: length(2 ** 53) }) },
    {
      name: 'unknown framing',
      input: req({ framing: { kind: 'close' } as unknown as BodyFraming }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => assertRefused(c.input, c.secrets ?? [SECRET], c.why));
  }

  it('names the header and the position, not the value', () => {
    assert.throws(
      () => serializeRequestHead(h({ Authorization: `Bearer ${SECRET}\r\nx: y` })),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, /"Authorization"/);
        const at = `Bearer ${SECRET}`.length;
        assert.ok(err.message.endsWith(`contains CR (0x0D) at position ${at}`), err.message);
        return true;
      },
    );
  });

  it('describes the path position instead of echoing the path', () => {
    const path = `/x?token=${SECRET}\n`;
    assert.throws(() => serializeRequestHead(req({ path })), {
      message: `the request path contains LF (0x0A) at position ${path.indexOf('\n')}`,
    });
  });
});

describe('serializeRequestHead: authority-form, for CONNECT tunnels only', () => {
  const tunnel = (path: string, extra: Partial<RequestHeadInput> = {}) =>
    req({ method: 'CONNECT', path, host: path, tunnel: true, ...extra });
  const valid: { name: string; input: RequestHeadInput; head: string }[] = [
    {
      name: 'a host name and port',
      input: tunnel('a.test:443'),
      head: 'CONNECT a.test:443 HTTP/1.1\r\nhost: a.test:443\r\n\r\n',
    },
    {
      name: 'an IPv4 address',
      input: tunnel('127.0.0.1:8443'),
      head: 'CONNECT 127.0.0.1:8443 HTTP/1.1\r\nhost: 127.0.0.1:8443\r\n\r\n',
    },
    {
      name: 'an IPv6 literal in brackets',
      input: tunnel('[::1]:443'),
      head: 'CONNECT [::1]:443 HTTP/1.1\r\nhost: [::1]:443\r\n\r\n',
    },
    {
      name: 'headers follow Host in order; no framing field for a bodiless CONNECT',
      input: tunnel('a.test:1', {
        headers: [
          ['proxy-authorization', 'Basic eDp5'],
          ['user-agent', 'ua'],
        ],
      }),
      head: 'CONNECT a.test:1 HTTP/1.1\r\nhost: a.test:1\r\nproxy-authorization: Basic eDp5\r\nuser-agent: ua\r\n\r\n',
    },
    {
      name: 'the highest port',
      input: tunnel('a.test:65535'),
      head: 'CONNECT a.test:65535 HTTP/1.1\r\nhost: a.test:65535\r\n\r\n',
    },
  ];
  for (const c of valid) {
    it(c.name, () => assert.equal(serializeRequestHead(c.input).head, c.head));
  }

  const refused: { name: string; input: RequestHeadInput; why: RegExp }[] = [
    {
      name: 'CONNECT without the tunnel flag',
      input: tunnel('a.test:443', { tunnel: false }),
      why: /CONNECT is not supported/,
    },
    {
      name: 'lower-case connect as a tunnel',
      input: tunnel('a.test:443', { method: 'connect' }),
      why: /opened with CONNECT/,
    },
    {
      name: 'a tunnel with another method',
      input: tunnel('a.test:443', { method: 'GET' }),
      why: /opened with CONNECT/,
    },
    { name: 'origin-form with CONNECT', input: tunnel('/'), why: /authority-form/ },
    { name: 'asterisk-form with CONNECT', input: tunnel('*'), why: /authority-form/ },
    {
      name: 'absolute-form with CONNECT',
      input: tunnel('http://a.test:443'),
      why: /authority-form/,
    },
    { name: 'no port', input: tunnel('a.test'), why: /authority-form/ },
    { name: 'empty port', input: tunnel('a.test:'), why: /authority-form/ },
    { name: 'port 0', input: tunnel('a.test:0'), why: /authority-form/ },
    { name: 'port above 65535', input: tunnel('a.test:65536'), why: /authority-form/ },
    { name: 'port not decimal', input: tunnel('a.test:0x1bb'), why: /authority-form/ },
    { name: 'no host', input: tunnel(':443'), why: /authority-form/ },
    { name: 'userinfo', input: tunnel(`${SECRET}@a.test:443`), why: /authority-form/ },
    { name: 'a bare IPv6 address', input: tunnel('::1:443'), why: /authority-form/ },
    { name: 'brackets around no IPv6', input: tunnel('[a.test]:443'), why: /authority-form/ },
    { name: 'a path after the port', input: tunnel('a.test:443/x'), why: /authority-form/ },
    {
      name: 'CONNECT with a body',
      input: tunnel('a.test:443', { framing: length(1) }),
      why: /CONNECT request must not have a body/,
    },
    {
      name: 'authority-form with GET',
      input: req({ path: 'a.test:443' }),
      why: /only for CONNECT/,
    },
    {
      name: 'authority-form with OPTIONS',
      input: req({ method: 'OPTIONS', path: '[::1]:80' }),
      why: /only for CONNECT/,
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => assertRefused(c.input, [SECRET], c.why));
  }
});

describe('serializeRequestHead: stream framing', () => {
  const STREAM: BodyFraming = { kind: 'stream' };

  it('goes chunked without a content-length', () => {
    const out = serializeRequestHead(req({ method: 'PUT', framing: STREAM }));
    assert.equal(
      out.head,
      'PUT / HTTP/1.1\r\nhost: example.com\r\ntransfer-encoding: chunked\r\n\r\n',
    );
    assert.equal(out.declaredLength, undefined);
  });

  it("goes by the caller's content-length, reported as declaredLength", () => {
    const out = serializeRequestHead(
      req({ method: 'PUT', framing: STREAM, headers: { 'Content-Length': '0042' } }),
    );
    assert.equal(out.head, 'PUT / HTTP/1.1\r\nhost: example.com\r\nContent-Length: 42\r\n\r\n');
    assert.equal(out.declaredLength, 42);
  });

  it('refuses content-length with transfer-encoding, in either order, and a bad value', () => {
    for (const headers of [
      [
        ['content-length', '5'],
        ['transfer-encoding', 'chunked'],
      ],
      [
        ['transfer-encoding', 'chunked'],
        ['content-length', '5'],
      ],
    ] as const) {
      assertRefused(req({ method: 'PUT', framing: STREAM, headers }), [], /not allowed with/);
    }
    assertRefused(
      req({ method: 'PUT', framing: STREAM, headers: { 'content-length': '5, 5' } }),
      [],
      /not a non-negative decimal integer/,
    );
  });

  it('refuses 100-continue with a declared length of 0 (no content to hold back)', () => {
    assertRefused(
      req({
        method: 'PUT',
        framing: STREAM,
        headers: { expect: '100-continue', 'content-length': '0' },
      }),
      [],
      /100-continue needs a request body/,
    );
  });
});

describe('isTokenString', () => {
  it('accepts tokens', () => {
    for (const s of ['GET', 'x-custom', "!#$%&'*+-.^_`|~09azAZ"])
      assert.equal(isTokenString(s), true);
  });
  it('refuses non-tokens', () => {
    for (const s of [
      '',
      'a b',
      'a:b',
      'a\r',
      '(x)',
      '"q"',
      'a/b',
      'a@b',
      '\u00e9',
      '\u0100',
      'a\x7f',
    ]) {
      assert.equal(isTokenString(s), false, JSON.stringify(s));
    }
  });
});

describe('chunkHeader and LAST_CHUNK', () => {
  it('formats sizes in hex', () => {
    assert.equal(chunkHeader(1), '1\r\n');
    assert.equal(chunkHeader(255), 'ff\r\n');
    assert.equal(chunkHeader(65536), '10000\r\n');
    assert.equal(chunkHeader(Number.MAX_SAFE_INTEGER), '1fffffffffffff\r\n');
  });
  it('refuses zero, negative, fractional and non-finite sizes', () => {
    for (const size of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => chunkHeader(size), { code: 'ERR_INVALID_ARG' });
    }
  });
  it('LAST_CHUNK ends the body with no trailers', () => {
    assert.equal(LAST_CHUNK, '0\r\n\r\n');
  });
});

// --- Properties -------------------------------------------------------------------------------

/** Characters that matter to HTTP framing, mixed with ordinary ones. */
const nastyChar = fc.constantFrom(
  'a',
  'Z',
  '0',
  '-',
  '/',
  ':',
  ' ',
  '\t',
  '\r',
  '\n',
  '\0',
  '\x7f',
  '\x1b',
  '#',
  '*',
  '?',
  '%',
  '"',
  '\u00e9',
  '\u00ff',
  '\u0100',
  '\u010a',
  '\u2028',
  '\ud83d',
);
const nastyString = fc.oneof(
  fc.string({ unit: nastyChar, maxLength: 12 }),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const tokenString = fc.string({
  unit: fc.constantFrom(..."abcxyzABC019-_.!#$%&'*+^`|~".split('')),
  minLength: 1,
  maxLength: 12,
});
const headerName = fc.oneof(tokenString, nastyString);
const headerValue = fc.oneof(nastyString, fc.integer(), fc.double());

const SPECIAL = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'keep-alive',
  'expect',
]);

/** Splits a head into field lines, asserting its overall shape and that no line holds a CR or LF. */
function fieldLines(head: string, requestLine: string): [string, string][] {
  assert.ok(head.endsWith('\r\n\r\n'));
  const lines = head.slice(0, -4).split('\r\n');
  assert.equal(lines[0], requestLine);
  const out: [string, string][] = [];
  for (const line of lines.slice(1)) {
    assert.ok(!/[\r\n]/.test(line), 'bare CR or LF inside a line');
    const colon = line.indexOf(':');
    assert.ok(colon > 0);
    const name = line.slice(0, colon);
    assert.ok(isTokenString(name));
    assert.equal(line[colon + 1], ' ');
    out.push([name, line.slice(colon + 2)]);
  }
  return out;
}

function expectRefusal(err: unknown): void {
  assert.ok(err instanceof InvalidArgumentError, String(err));
  assert.equal(err.code, 'ERR_INVALID_ARG');
}

function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

describe('properties', () => {
  it('random headers either round-trip line by line or are refused', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }), (pairs) => {
        fc.pre(pairs.every(([name]) => !SPECIAL.has(name.toLowerCase())));
        let head: string;
        try {
          head = serializeRequestHead(req({ headers: pairs })).head;
        } catch (err) {
          expectRefusal(err);
          return;
        }
        assert.equal(Buffer.from(head, 'latin1').toString('latin1'), head, 'latin1-safe');
        const lines = fieldLines(head, 'GET / HTTP/1.1');
        assert.deepEqual(lines[0], ['host', 'example.com']);
        assert.deepEqual(
          lines.slice(1),
          pairs.map(([name, value]) => [name, trimOws(String(value))]),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('random record headers (special names included) never put a bare CR/LF on the wire', () => {
    const name = fc.oneof(
      headerName,
      fc.constantFrom('Host', 'content-length', 'Transfer-Encoding', 'Connection', 'Expect'),
    );
    const framing = fc.constantFrom<BodyFraming>(NONE, CHUNKED, length(0), length(3));
    fc.assert(
      fc.property(fc.dictionary(name, headerValue, { maxKeys: 5 }), framing, (headers, fr) => {
        let head: string;
        try {
          head = serializeRequestHead(req({ method: 'POST', headers, framing: fr })).head;
        } catch (err) {
          expectRefusal(err);
          return;
        }
        const lines = fieldLines(head, 'POST / HTTP/1.1');
        const lower = lines.map(([n]) => n.toLowerCase());
        assert.equal(lower[0], 'host');
        assert.equal(lower.filter((n) => n === 'host').length, 1);
        const cl = lower.filter((n) => n === 'content-length').length;
        const te = lower.filter((n) => n === 'transfer-encoding').length;
        if (fr.kind === 'chunked') assert.deepEqual([cl, te], [0, 1]);
        else assert.deepEqual([cl, te], [1, 0]);
      }),
      { numRuns: 2000 },
    );
  });

  it('random methods and paths give a clean request line or are refused', () => {
    const method = fc.oneof(tokenString, nastyString, fc.constantFrom('GET', 'OPTIONS', 'CONNECT'));
    const path = fc.oneof(
      nastyString,
      nastyString.map((s) => `/${s}`),
      nastyString.map((s) => `http://${s}`),
      fc.constant('*'),
    );
    fc.assert(
      fc.property(method, path, (m, p) => {
        let head: string;
        try {
          head = serializeRequestHead(req({ method: m, path: p })).head;
        } catch (err) {
          expectRefusal(err);
          return;
        }
        assert.ok(isTokenString(m));
        assert.ok(/^[\x21-\x7e]+$/.test(p) && !p.includes('#'));
        fieldLines(head, `${m} ${p} HTTP/1.1`);
      }),
      { numRuns: 3000 },
    );
  });

  it('random hosts give a single clean Host line or are refused', () => {
    fc.assert(
      fc.property(nastyString, (host) => {
        let head: string;
        try {
          head = serializeRequestHead(req({ host })).head;
        } catch (err) {
          expectRefusal(err);
          return;
        }
        assert.deepEqual(fieldLines(head, 'GET / HTTP/1.1'), [['host', host]]);
      }),
      { numRuns: 1000 },
    );
  });
});
