/**
 * HTTP/1.1 request-head serialisation (RFC 9112 §3, §5, §6) with strict input validation.
 *
 * Everything that reaches the wire through here is checked first: the method, the request-target,
 * the Host value and every header name and value (after `String()` conversion, so a `toString()`
 * that returns CR/LF cannot slip through). Validation uses 256-entry lookup tables, one pass per
 * string, and the head is built as a single string meant to be written with `latin1` encoding.
 *
 * Refusals throw {@link InvalidArgumentError} (`ERR_INVALID_ARG`). Messages name the header but
 * never repeat a header value, the path or an invalid method: they may carry secrets, and a
 * rejected string may hold control characters that would corrupt logs. Positions are given instead.
 */

import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

import type { HeadersInput } from '../http/options.js';

/**
 * How the request body is delimited on the wire (RFC 9112 §6), decided by the caller from the body:
 * no body, a body of known length, a chunked body of unknown length, or a `stream`: a body whose
 * length only the caller's headers can tell, sent with their Content-Length if they give one
 * (see {@link SerializedHead.declaredLength}), else chunked.
 */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'stream' };

/** What {@link serializeRequestHead} needs to build a request head. */
export interface RequestHeadInput {
  /** The request method, sent as given (methods are case-sensitive, RFC 9110 §9.1). Must be a token. */
  method: string;
  /**
   * The request-target: origin-form (`/a?b`), `*` (OPTIONS only), absolute-form (`http://h/p`),
   * or authority-form (`host:port`, CONNECT only).
   */
  path: string;
  /** The default Host value (`example.com:8080`, without a default port); a user Host header replaces it. */
  host: string;
  /** Extra request headers. */
  headers?: HeadersInput | undefined;
  /** The body framing, decided by the caller from the body type. */
  framing: BodyFraming;
  /**
   * Set only to open a CONNECT tunnel (src/http1/tunnel.ts): allows the method `CONNECT`, with
   * an authority-form target and no body. Without it CONNECT is refused in any case, since an
   * exchange on a pooled connection could not turn the connection into a tunnel.
   */
  tunnel?: boolean | undefined;
}

/** The result of {@link serializeRequestHead}. */
export interface SerializedHead {
  /**
   * The whole head, request line to the empty line: `"GET / HTTP/1.1\r\nhost: h\r\n...\r\n\r\n"`.
   * Every character is at most U+00FF: write it with `latin1` encoding (header values may hold
   * obs-text, RFC 9110 §5.5, which UTF-8 would re-encode).
   */
  head: string;
  /** False when the caller sent `Connection: close`: the connection must not be reused afterwards. */
  keepAlive: boolean;
  /** An `Idempotency-Key` (or `X-Idempotency-Key`) header is present: the request may be replayed. */
  idempotencyKey: boolean;
  /**
   * The caller sent `Expect: 100-continue` (only accepted with a body). The connection must then
   * wait for `100 Continue` (or a timeout) before writing the body, and must not reuse the socket if
   * a final status arrives before the body was written (RFC 9110 §10.1.1).
   */
  expectContinue: boolean;
  /**
   * For `stream` framing: the Content-Length the caller gave, which the body must match byte
   * for byte; undefined when the body goes chunked (and for the other framings).
   */
  declaredLength: number | undefined;
}

/** The chunk that ends a chunked body, with no trailer section (RFC 9112 §7.1). */
export const LAST_CHUNK = '0\r\n\r\n';

const CRLF = '\r\n';

// --- Lookup tables: 1 = allowed. Indexed by char code; codes above 0xFF are refused before lookup.

function table(ranges: readonly (readonly [number, number])[], chars = ''): Uint8Array {
  const t = new Uint8Array(256);
  for (const [from, to] of ranges) t.fill(1, from, to + 1);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

const DIGIT: readonly [number, number] = [0x30, 0x39];
const UPPER: readonly [number, number] = [0x41, 0x5a];
const LOWER: readonly [number, number] = [0x61, 0x7a];

/** tchar, RFC 9110 §5.6.2. */
const TCHAR = table([DIGIT, UPPER, LOWER], "!#$%&'*+-.^_`|~");

/** field-vchar / SP / HTAB, RFC 9110 §5.5: VCHAR and obs-text (0x80-0xFF); no CTL, no DEL. */
const FIELD_CHAR = table(
  [
    [0x20, 0x7e],
    [0x80, 0xff],
  ],
  '\t',
);

/**
 * Request-target characters: visible ASCII (0x21-0x7E) except `#`. This is RFC 3986's set
 * (RFC 9112 §3.2) widened to the characters a WHATWG `URL` leaves unescaped in a path or query
 * (`|`, `^`, `{`, `}`, `` ` ``, `\`, `"`, `<`, `>`), none of which can break framing. A fragment is
 * never part of a request-target (RFC 9112 §3.2.1, RFC 3986 §3.5), so `#` is refused, not cut.
 */
const TARGET_CHAR = table([[0x21, 0x7e]]);
TARGET_CHAR[0x23] = 0;

/** Host = uri-host [":" port] (RFC 9110 §7.2, RFC 3986 §3.2.2): reg-name, IP-literal and port chars. */
const HOST_CHAR = table([DIGIT, UPPER, LOWER], "-._~%!$&'()*+,;=:[]");

/** reg-name and IPv4address characters (RFC 3986 §3.2.2): unreserved, pct-encoded, sub-delims. */
const REG_NAME_CHAR = table([DIGIT, UPPER, LOWER], "-._~%!$&'()*+,;=");

const DIGITS = table([DIGIT]);

/** Index of the first character of `s` not allowed by `t`, or -1. */
function firstInvalid(s: string, t: Uint8Array): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || t[c] !== 1) return i;
  }
  return -1;
}

/**
 * Names a refused character without repeating the input around it. Visible ASCII is shown only
 * when `showAscii` is set (method, path, header names), never for header values.
 */
function describeChar(c: number, showAscii: boolean): string {
  if (c === 0x0d) return 'CR (0x0D)';
  if (c === 0x0a) return 'LF (0x0A)';
  if (c === 0x00) return 'NUL (0x00)';
  if (c < 0x20 || c === 0x7f)
    return `control character 0x${c.toString(16).padStart(2, '0').toUpperCase()}`;
  if (c === 0x20) return 'a space';
  if (c > 0xff) return 'a character above U+00FF';
  if (c > 0x7e) return 'a non-ASCII character';
  return showAscii ? `'${String.fromCharCode(c)}'` : 'a character not allowed here';
}

function badCharMessage(what: string, s: string, at: number, showAscii: boolean): string {
  return `${what} contains ${describeChar(s.charCodeAt(at), showAscii)} at position ${at}`;
}

/**
 * True when `s` is a non-empty RFC 9110 §5.6.2 token (`1*tchar`): the grammar of methods,
 * header names, transfer codings and connection options.
 */
export function isTokenString(s: string): boolean {
  return s.length > 0 && firstInvalid(s, TCHAR) === -1;
}

/**
 * The chunk-size line that precedes a chunk of `size` bytes (RFC 9112 §7.1): `${hex}\r\n`.
 * `size` must be a positive safe integer: a zero-size chunk would end the body, so skip empty
 * writes and end with {@link LAST_CHUNK}.
 */
export function chunkHeader(size: number): string {
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new InvalidArgumentError(
      `a chunk size must be a positive safe integer (got ${String(size)}); a zero-size chunk ends the body, use LAST_CHUNK`,
    );
  }
  return size.toString(16) + CRLF;
}

// --- Headers that get special treatment, recognised case-insensitively (RFC 9110 §5.1).

const OTHER = 0;
const HOST = 1;
const CONTENT_LENGTH = 2;
const TRANSFER_ENCODING = 3;
const CONNECTION = 4;
const UPGRADE = 5;
const KEEP_ALIVE = 6;
const EXPECT = 7;
const IDEMPOTENCY_KEY = 8;

/** Lower-cases only names whose length matches a special header, so ordinary names cost nothing. */
function classify(name: string): number {
  switch (name.length) {
    case 4:
      return name.toLowerCase() === 'host' ? HOST : OTHER;
    case 6:
      return name.toLowerCase() === 'expect' ? EXPECT : OTHER;
    case 7:
      return name.toLowerCase() === 'upgrade' ? UPGRADE : OTHER;
    case 10: {
      const lower = name.toLowerCase();
      return lower === 'connection' ? CONNECTION : lower === 'keep-alive' ? KEEP_ALIVE : OTHER;
    }
    case 14:
      return name.toLowerCase() === 'content-length' ? CONTENT_LENGTH : OTHER;
    case 15:
      return name.toLowerCase() === 'idempotency-key' ? IDEMPOTENCY_KEY : OTHER;
    case 17: {
      const lower = name.toLowerCase();
      if (lower === 'transfer-encoding') return TRANSFER_ENCODING;
      return lower === 'x-idempotency-key' ? IDEMPOTENCY_KEY : OTHER;
    }
    default:
      return OTHER;
  }
}

function isOptionalWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** `String(raw)` for anything but a string, turning a throwing conversion into a refusal. */
function toFieldString(name: string, raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number') return String(raw);
  try {
    return String(raw);
  } catch {
    throw new InvalidArgumentError(`header "${name}": the value cannot be converted to a string`);
  }
}

/**
 * Converts, validates and trims one field value. Leading and trailing SP/HTAB are removed
 * rather than refused: they are not part of a field value (RFC 9110 §5.5) and every recipient strips
 * them anyway, so trimming changes nothing a server could see.
 */
function fieldValue(name: string, raw: unknown): string {
  const s = toFieldString(name, raw);
  const bad = firstInvalid(s, FIELD_CHAR);
  if (bad !== -1) {
    throw new InvalidArgumentError(badCharMessage(`the value of header "${name}"`, s, bad, false));
  }
  let start = 0;
  let end = s.length;
  while (start < end && isOptionalWhitespace(s.charCodeAt(start))) start++;
  while (end > start && isOptionalWhitespace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** `1*DIGIT` (RFC 9110 §8.6) as a safe integer, or -1. */
function parseContentLength(value: string): number {
  const n = value.length;
  if (n === 0) return -1;
  let first = -1; // first non-zero digit: leading zeros are valid and must not count toward the limit
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    if (first === -1 && c !== 0x30) first = i;
  }
  if (first !== -1 && n - first > 16) return -1; // beyond 2^53: Number() would round
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : -1;
}

/**
 * Checks a Connection value (`#connection-option`, RFC 9110 §7.6.1) and reports whether it asks
 * to close. Refused options: `upgrade` (protocol upgrades are not supported), and the framing
 * headers `host`, `content-length`, `transfer-encoding`: listing them would let an intermediary strip
 * them as hop-by-hop, and change how the message is framed after it.
 */
function connectionWantsClose(name: string, value: string): boolean {
  let close = false;
  let start = 0;
  const n = value.length;
  while (start <= n) {
    let end = value.indexOf(',', start);
    if (end === -1) end = n;
    let a = start;
    let b = end;
    while (a < b && isOptionalWhitespace(value.charCodeAt(a))) a++;
    while (b > a && isOptionalWhitespace(value.charCodeAt(b - 1))) b--;
    if (a < b) {
      const option = value.slice(a, b);
      if (!isTokenString(option)) {
        throw new InvalidArgumentError(
          `header "${name}": an option is not a token (RFC 9110 §7.6.1)`,
        );
      }
      switch (option.toLowerCase()) {
        case 'close':
          close = true;
          break;
        case 'upgrade':
          throw new InvalidArgumentError(`header "${name}": protocol upgrades are not supported`);
        case 'host':
        case 'content-length':
        case 'transfer-encoding':
          throw new InvalidArgumentError(
            `header "${name}": must not name host, content-length or transfer-encoding`,
          );
      }
    }
    start = end + 1;
  }
  return close;
}

/** Accumulates the header section while enforcing the per-header rules. One per call. */
class HeadBuilder {
  /** Field lines other than Host, in input order. */
  lines = '';
  /** The user's Host line, or '' when none was given. */
  hostLine = '';
  hasHost = false;
  hasContentLength = false;
  hasTransferEncoding = false;
  keepAlive = true;
  idempotencyKey = false;
  expectContinue = false;
  /** A `stream` body's length, from the caller's Content-Length. */
  declaredLength: number | undefined = undefined;
  readonly framing: BodyFraming;

  constructor(framing: BodyFraming) {
    this.framing = framing;
  }

  /** One header from the input; `index` identifies it in errors when its name is unusable. */
  addField(name: unknown, raw: unknown, index: number): void {
    if (typeof name !== 'string') {
      throw new InvalidArgumentError(`header #${index}: the name is not a string`);
    }
    if (name.length === 0) throw new InvalidArgumentError(`header #${index}: the name is empty`);
    const bad = firstInvalid(name, TCHAR);
    if (bad !== -1) {
      // RFC 9110 §5.1: field-name = token. The name is not echoed: it may be a value in disguise.
      throw new InvalidArgumentError(
        `header #${index}: the name is not a token: ${badCharMessage('it', name, bad, true)}`,
      );
    }
    if (raw === undefined || raw === null) return;
    const kind = classify(name);
    if (Array.isArray(raw)) {
      // Host and Content-Length have at most one element: the second is refused as a duplicate.
      for (const element of raw as readonly unknown[]) {
        if (element !== undefined && element !== null) this.addValue(name, kind, element);
      }
    } else {
      this.addValue(name, kind, raw);
    }
  }

  addValue(name: string, kind: number, raw: unknown): void {
    const value = fieldValue(name, raw);
    switch (kind) {
      case OTHER:
        this.lines += `${name}: ${value}${CRLF}`;
        return;
      case HOST:
        // RFC 9112 §3.2: exactly one Host field.
        if (this.hasHost) throw new InvalidArgumentError(`duplicate header "${name}"`);
        this.hasHost = true;
        checkHost(value, `header "${name}"`);
        this.hostLine = `${name}: ${value}${CRLF}`;
        return;
      case CONTENT_LENGTH:
        this.addContentLength(name, value);
        return;
      case TRANSFER_ENCODING:
        if (this.hasTransferEncoding) throw new InvalidArgumentError(`duplicate header "${name}"`);
        // Only `chunked` alone matches what the connection writes (RFC 9112 §6.1, §7).
        if (
          (this.framing.kind !== 'chunked' && this.framing.kind !== 'stream') ||
          value.toLowerCase() !== 'chunked'
        ) {
          throw new InvalidArgumentError(
            `header "${name}": only "chunked" is allowed, and only with chunked framing`,
          );
        }
        if (this.declaredLength !== undefined) {
          // RFC 9112 §6.2: never both.
          throw new InvalidArgumentError(`header "${name}": not allowed with content-length`);
        }
        this.hasTransferEncoding = true;
        this.lines += `${name}: ${value}${CRLF}`;
        return;
      case CONNECTION:
        if (connectionWantsClose(name, value)) this.keepAlive = false;
        this.lines += `${name}: ${value}${CRLF}`;
        return;
      case UPGRADE:
        throw new InvalidArgumentError(`header "${name}": protocol upgrades are not supported`);
      case KEEP_ALIVE:
        throw new InvalidArgumentError(
          `header "${name}": the pool manages connection lifetime; Keep-Alive is not sent`,
        );
      case EXPECT:
        // RFC 9110 §10.1.1: 100-continue is the only expectation defined, and only with content.
        if (value.toLowerCase() !== '100-continue') {
          throw new InvalidArgumentError(`header "${name}": only "100-continue" is supported`);
        }
        // An empty body is no content either: nothing to hold back.
        if (
          this.framing.kind === 'none' ||
          (this.framing.kind === 'length' && this.framing.length === 0)
        ) {
          throw new InvalidArgumentError(`header "${name}": 100-continue needs a request body`);
        }
        this.expectContinue = true;
        this.lines += `${name}: ${value}${CRLF}`;
        return;
      case IDEMPOTENCY_KEY:
        this.idempotencyKey = true;
        this.lines += `${name}: ${value}${CRLF}`;
        return;
    }
  }

  addContentLength(name: string, value: string): void {
    // RFC 9110 §8.6 / RFC 9112 §6.3: more than one, or one that disagrees with the bytes sent,
    // lets the server frame the message differently from us (request smuggling).
    if (this.hasContentLength) throw new InvalidArgumentError(`duplicate header "${name}"`);
    this.hasContentLength = true;
    const length = parseContentLength(value);
    if (length === -1) {
      throw new InvalidArgumentError(`header "${name}": not a non-negative decimal integer`);
    }
    const framing = this.framing;
    if (framing.kind === 'chunked' || (framing.kind === 'stream' && this.hasTransferEncoding)) {
      // RFC 9112 §6.2: a sender MUST NOT send Content-Length with Transfer-Encoding.
      throw new InvalidArgumentError(`header "${name}": not allowed with a chunked body`);
    }
    if (framing.kind === 'stream') {
      // The caller knows the stream's length: it is sent with it (and held to it).
      this.declaredLength = length;
      this.lines += `${name}: ${length}${CRLF}`;
      return;
    }
    const expected = framing.kind === 'length' ? framing.length : 0;
    if (length !== expected) {
      throw new InvalidArgumentError(
        `header "${name}": does not match the body length (${expected} bytes)`,
      );
    }
    // Sent canonical (no leading zeros); the value is a plain number, so nothing is hidden.
    this.lines += `${name}: ${length}${CRLF}`;
  }
}

/** Validates a Host value; `what` names it in the error. */
function checkHost(value: string, what: string): void {
  if (value.length === 0) throw new InvalidArgumentError(`${what} is empty`);
  const bad = firstInvalid(value, HOST_CHAR);
  if (bad !== -1) throw new InvalidArgumentError(badCharMessage(what, value, bad, false));
}

/** The methods the Fetch standard sends upper-case whatever case they are given in (Fetch §2.2.1, "normalize a method"). */
const STANDARD_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/**
 * The method as it is sent: DELETE, GET, HEAD, OPTIONS, POST and PUT in upper case whatever case
 * they were given in, as fetch() does; every other method as given (`patch` stays `patch`:
 * methods are case-sensitive, RFC 9110 §9.1). `undefined` is GET. Anything else is returned as
 * it is, for {@link serializeRequestHead} to refuse.
 */
export function standardMethod(method: string | undefined): string {
  if (method === undefined || method === 'GET') return 'GET';
  if (typeof method !== 'string' || method.length > 7) return method;
  const upper = method.toUpperCase();
  return upper !== method && STANDARD_METHODS.has(upper) ? upper : method;
}

function checkMethod(method: string, tunnel: boolean): void {
  if (typeof method !== 'string' || method.length === 0) {
    throw new InvalidArgumentError('the method must be a non-empty string');
  }
  const bad = firstInvalid(method, TCHAR);
  if (bad !== -1) {
    // RFC 9110 §9.1: method = token.
    throw new InvalidArgumentError(
      `the method is not a token: ${badCharMessage('it', method, bad, true)}`,
    );
  }
  if (tunnel) {
    if (method !== 'CONNECT') throw new InvalidArgumentError('a tunnel is opened with CONNECT');
    return;
  }
  // Compared case-insensitively although methods are case-sensitive: a lenient server or proxy
  // might still treat "connect" as CONNECT and open a tunnel we would not manage.
  if (method.length === 7 && method.toUpperCase() === 'CONNECT') {
    throw new InvalidArgumentError('CONNECT is not supported (it needs a tunnel)');
  }
}

/**
 * True for authority-form (RFC 9112 §3.2.3): `uri-host ":" port`, the host a reg-name or IPv4
 * address or an IPv6 literal in brackets, the port from 1 to 65535 (a tunnel needs a real one).
 */
function isAuthorityForm(target: string): boolean {
  const colon = target.lastIndexOf(':');
  if (colon <= 0) return false;
  const port = target.slice(colon + 1);
  if (port.length === 0 || port.length > 5 || firstInvalid(port, DIGITS) !== -1) return false;
  const number = Number(port);
  if (number < 1 || number > 65535) return false;
  const host = target.slice(0, colon);
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    return host.charCodeAt(host.length - 1) === 0x5d /* ] */ && isIP(host.slice(1, -1)) === 6;
  }
  return firstInvalid(host, REG_NAME_CHAR) === -1;
}

function startsWithScheme(path: string, scheme: string): boolean {
  return path.length > scheme.length && path.slice(0, scheme.length).toLowerCase() === scheme;
}

function checkPath(path: string, method: string): void {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidArgumentError('the request path must be a non-empty string');
  }
  const bad = firstInvalid(path, TARGET_CHAR);
  if (bad !== -1)
    throw new InvalidArgumentError(badCharMessage('the request path', path, bad, true));
  if (method === 'CONNECT') {
    // Only a tunnel gets here (checkMethod): it names the host and port to connect to.
    if (!isAuthorityForm(path)) {
      throw new InvalidArgumentError('CONNECT takes an authority-form target (host:port)');
    }
    return;
  }
  const first = path.charCodeAt(0);
  if (first === 0x2f /* / */) return; // origin-form, RFC 9112 §3.2.1
  if (first === 0x2a /* * */) {
    // asterisk-form, RFC 9112 §3.2.4: only "*", and only for OPTIONS.
    if (path.length !== 1) throw new InvalidArgumentError('the request path "*" must stand alone');
    if (method !== 'OPTIONS') {
      throw new InvalidArgumentError('the request path "*" is only allowed with OPTIONS');
    }
    return;
  }
  // absolute-form, RFC 9112 §3.2.2 (for proxies): an http(s) URI with a non-empty authority.
  const rest = startsWithScheme(path, 'http://') ? 7 : startsWithScheme(path, 'https://') ? 8 : -1;
  if (rest === -1 && isAuthorityForm(path)) {
    throw new InvalidArgumentError('an authority-form target (host:port) is only for CONNECT');
  }
  if (rest === -1 || path.charCodeAt(rest) === 0x2f) {
    throw new InvalidArgumentError(
      'the request path must start with "/", be "*", or be an absolute http(s) URL',
    );
  }
}

function checkFraming(framing: BodyFraming, method: string): void {
  switch (framing?.kind) {
    case 'none':
    case 'chunked':
    case 'stream':
      break;
    case 'length':
      if (!Number.isSafeInteger(framing.length) || framing.length < 0) {
        throw new InvalidArgumentError('the body length must be a non-negative safe integer');
      }
      break;
    default:
      throw new InvalidArgumentError(
        'the body framing must be "none", "length", "chunked" or "stream"',
      );
  }
  // RFC 9110 §9.3.8: a client MUST NOT send content in a TRACE request.
  if (method === 'TRACE' && framing.kind !== 'none') {
    throw new InvalidArgumentError('a TRACE request must not have a body');
  }
  // RFC 9110 §9.3.6: a CONNECT request has no content; what follows it is the tunnel's.
  if (method === 'CONNECT' && framing.kind !== 'none') {
    throw new InvalidArgumentError('a CONNECT request must not have a body');
  }
}

/** Methods defined with request content: they get `content-length: 0` when bodiless (RFC 9110 §8.6). */
function expectsBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

/**
 * Builds and validates an HTTP/1.1 request head. Pure: it neither mutates its input nor keeps state.
 *
 * - The request line is `${method} ${path} HTTP/1.1` (RFC 9112 §3); the method is sent as given.
 *   CONNECT is refused, in any case, unless `tunnel` is set: then the method must be `CONNECT`,
 *   the target authority-form (`host:port`, RFC 9112 §3.2.3) and the framing `none`. An
 *   authority-form target with any other method is refused.
 * - Host comes first (RFC 9110 §7.2): the user's Host header if given (exactly one), else
 *   `host: ${input.host}`. Both are checked against the RFC 3986 authority characters.
 * - Headers keep their input order and the case of their names; values are `String()`-converted,
 *   checked (no CTL but HTAB, no DEL, nothing above U+00FF) and trimmed of SP/HTAB.
 * - Framing: `content-length: N` for `length` (and `content-length: 0` for a bodiless POST, PUT or
 *   PATCH), `transfer-encoding: chunked` for `chunked`. A user Content-Length must match (`0` for
 *   `none`) and is refused with `chunked`; a user Transfer-Encoding must be `chunked` with chunked
 *   framing. Duplicate Host, Content-Length or Transfer-Encoding are refused. `stream` is chunked
 *   unless the user gives a Content-Length, which is then sent and reported as `declaredLength`
 *   (never both).
 * - `Upgrade`, `Keep-Alive`, `Connection: upgrade`, and `Expect` other than `100-continue` (with a
 *   body) are refused. `Connection: close` is sent as given and clears `keepAlive`; nothing adds
 *   `Connection: keep-alive` (the HTTP/1.1 default).
 *
 * @throws {InvalidArgumentError} when any part is invalid; the message never repeats a header
 *   value or the path.
 * @example
 * const { head } = serializeRequestHead({
 *   method: 'POST', path: '/items', host: 'api.example.com',
 *   headers: { 'content-type': 'application/json' },
 *   framing: { kind: 'length', length: 2 },
 * });
 * // "POST /items HTTP/1.1\r\nhost: api.example.com\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"
 */
export function serializeRequestHead(input: RequestHeadInput): SerializedHead {
  const { method, path, host, headers, framing } = input;
  checkMethod(method, input.tunnel === true);
  checkPath(path, method);
  checkFraming(framing, method);
  if (typeof host !== 'string') throw new InvalidArgumentError('the host must be a string');
  checkHost(host, 'the host');

  const builder = new HeadBuilder(framing);
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null) {
      throw new InvalidArgumentError('headers must be an object or an iterable of [name, value]');
    }
    if (typeof (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
      let index = 0;
      for (const entry of headers as Iterable<unknown>) {
        if (typeof entry !== 'object' || entry === null) {
          throw new InvalidArgumentError(`header #${index} is not a [name, value] pair`);
        }
        const pair = entry as ArrayLike<unknown>;
        builder.addField(pair[0], pair[1], index);
        index++;
      }
    } else {
      // Own enumerable keys only: inherited (for example prototype-polluted) properties are ignored.
      const record = headers as Record<string, unknown>;
      const names = Object.keys(record);
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        builder.addField(name, record[name], i);
      }
    }
  }

  if (builder.expectContinue && builder.declaredLength === 0) {
    // As for an empty body of bytes: no content, nothing to hold back.
    throw new InvalidArgumentError('expect: 100-continue needs a request body');
  }
  let framingLine = '';
  if (framing.kind === 'length') {
    if (!builder.hasContentLength) framingLine = `content-length: ${framing.length}${CRLF}`;
  } else if (framing.kind === 'chunked' || framing.kind === 'stream') {
    if (!builder.hasTransferEncoding && builder.declaredLength === undefined) {
      framingLine = `transfer-encoding: chunked${CRLF}`;
    }
  } else if (!builder.hasContentLength && expectsBody(method)) {
    framingLine = `content-length: 0${CRLF}`;
  }

  const hostLine = builder.hasHost ? builder.hostLine : `host: ${host}${CRLF}`;
  return {
    head: `${method} ${path} HTTP/1.1${CRLF}${hostLine}${builder.lines}${framingLine}${CRLF}`,
    keepAlive: builder.keepAlive,
    idempotencyKey: builder.idempotencyKey,
    expectContinue: builder.expectContinue,
    declaredLength: builder.declaredLength,
  };
}
