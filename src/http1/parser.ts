/**
 * An incremental, strict HTTP/1.1 response parser (RFC 9112).
 *
 * It takes bytes split anywhere, validates every byte as it arrives (so a bad byte is reported at
 * once, not when its line ends) and pushes events: interim heads, the final head, body views and
 * completion. It never copies body bytes, and buffers only the unfinished part of one head or
 * trailer line, which the limits bound.
 *
 * Strictness, for a client that must never guess at framing (request smuggling / response
 * splitting): only CRLF line endings, no obs-fold, no whitespace before a header colon,
 * `Transfer-Encoding` together with `Content-Length` is an error, a second `Content-Length` is an
 * error, and only `HTTP/1.0` and `HTTP/1.1` status lines are accepted.
 */

import { InvalidStateError, ResponseError, ResponseLimitError } from '../errors.js';
import { type ParserLimits, resolveParserLimits } from './limits.js';

/** A parsed status line and header section. */
export interface ResponseHead {
  /** The major HTTP version (always 1). */
  versionMajor: number;
  /** The minor HTTP version (0 or 1). */
  versionMinor: number;
  /** The three-digit status code, 100 to 999. */
  status: number;
  /** The reason phrase exactly as sent (Latin-1 decoded, not trimmed), `''` when absent. */
  statusText: string;
  /** Flat `[name, value, name, value, ...]`: names as received, values with surrounding OWS removed. */
  rawHeaders: string[];
  /**
   * Whether the connection may carry another exchange after this response: HTTP/1.1 unless a
   * `Connection` (or legacy `Proxy-Connection`) header lists `close`; HTTP/1.0 only with
   * `Connection: keep-alive`. Always false when the body is delimited by the connection closing.
   */
  keepAlive: boolean;
  /** The `Content-Length` value, or `null` when the header is absent. */
  contentLength: number | null;
  /**
   * True when the final transfer coding is `chunked`, as declared by the headers (also on responses
   * that carry no body: HEAD, 1xx, 204, 304).
   */
  chunked: boolean;
  /**
   * True for `101 Switching Protocols` (and a 2xx answer to CONNECT): the parser stops right after
   * the head and every later byte belongs to another protocol.
   */
  upgrade: boolean;
}

/** Callbacks through which {@link ResponseParser} reports a response. */
export interface ParserEvents {
  /** Each interim 1xx head (other than 101) before the final response. */
  onInformational?(head: ResponseHead): void;
  /** The final response head. */
  onHead(head: ResponseHead): void;
  /** Body bytes, as views of the input passed to `execute()` (not copies; consume or copy them now). */
  onData(chunk: Uint8Array): void;
  /** The response is complete; `trailers` is a flat pair list (`[]` when none). */
  onComplete(trailers: string[]): void;
}

// Top-level states.
const IDLE = 0; // nothing expected
const HEAD = 1; // status line and headers (sub-state in #hs)
const BODY_LENGTH = 2; // Content-Length body
const BODY_EOF = 3; // body delimited by the connection closing
const CHUNK_LINE = 4; // chunk-size line (sub-state in #cs)
const CHUNK_DATA = 5;
const CHUNK_DATA_CR = 6;
const CHUNK_DATA_LF = 7;
const TRAILERS = 8; // trailer section (shares the header line machine)
const CLOSED = 9; // the last response ended the connection (Connection: close, or EOF body)
const UPGRADED = 10; // 101 / CONNECT tunnel: the bytes are not HTTP any more
const DEAD = 11; // an error was thrown

// Head sub-states.
const H_START = 0; // before the status line: skip empty lines
const H_START_LF = 1;
const H_PROTOCOL = 2; // matching "HTTP/"
const H_MAJOR = 3;
const H_DOT = 4;
const H_MINOR = 5;
const H_VERSION_SP = 6;
const H_STATUS = 7; // three digits
const H_STATUS_END = 8; // SP or CR
const H_REASON = 9;
const H_STATUS_LF = 10;
const H_LINE_START = 11; // start of a field line, or the empty line
const H_NAME = 12;
const H_OWS = 13; // after the colon
const H_VALUE = 14;
const H_LINE_LF = 15;
const H_END_LF = 16;

// Chunk-size line sub-states (RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF).
const C_SIZE_START = 0;
const C_SIZE = 1;
const C_SIZE_WS = 2; // BWS after the size: only before ";"
const C_EXT_NAME_START = 3;
const C_EXT_NAME = 4;
const C_EXT_AFTER_NAME = 5; // BWS after a name: "=" or ";"
const C_EXT_VALUE_START = 6;
const C_EXT_VALUE = 7;
const C_EXT_QUOTED = 8;
const C_EXT_QUOTED_ESCAPE = 9;
const C_EXT_AFTER_VALUE = 10; // after a quoted value: ";", BWS or CR
const C_EXT_VALUE_WS = 11; // BWS after a value: only before ";"
const C_LF = 12;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const DQUOTE = 0x22;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const PROTOCOL = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** tchar (RFC 9110 §5.6.2). */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

/** HTAB / SP / VCHAR / obs-text: field-value bytes (RFC 9110 §5.5) and reason-phrase bytes (RFC 9112 §4). */
const TEXT = new Uint8Array(256);
TEXT[HTAB] = 1;
for (let c = 0x20; c < 0x100; c++) if (c !== 0x7f) TEXT[c] = 1;

/** qdtext (RFC 9110 §5.6.4): TEXT without DQUOTE and backslash. */
const QDTEXT = TEXT.slice();
QDTEXT[DQUOTE] = 0;
QDTEXT[BACKSLASH] = 0;

/** Hex digit values, -1 for anything else. */
const HEX = new Int8Array(256).fill(-1);
for (let d = 0; d < 10; d++) HEX[0x30 + d] = d;
for (let d = 0; d < 6; d++) {
  HEX[0x41 + d] = 10 + d;
  HEX[0x61 + d] = 10 + d;
}

/** Node's Buffer has a fast, unchecked Latin-1 decoder that the typings do not declare. */
interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
}

function asBuffer(data: Uint8Array): Latin1Buffer {
  return (
    Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  ) as Latin1Buffer;
}

/**
 * True when the token `name` equals `lower` (lower-case letters and `-`) ignoring case, without
 * making a lower-cased copy. Only valid for tokens: `| 0x20` maps no other tchar onto a letter or `-`.
 */
function tokenIs(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let k = 0; k < n; k++) {
    if ((name.charCodeAt(k) | 0x20) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** Strings no longer than this are compared with an earlier one before a new one is made. */
const REUSE_MAX = 64;

/**
 * `buf[from, to)` as Latin-1 text: `previous` itself when it holds exactly these bytes (a server
 * repeats most of its field lines byte for byte from one response to the next), else a new string.
 */
function sliceOrReuse(
  buf: Latin1Buffer,
  from: number,
  to: number,
  previous: string | undefined,
): string {
  const n = to - from;
  if (previous !== undefined && previous.length === n && n <= REUSE_MAX) {
    let k = 0;
    while (k < n && buf[from + k] === previous.charCodeAt(k)) k++;
    if (k === n) return previous;
  }
  return buf.latin1Slice(from, to);
}

function isWhitespace(b: number): boolean {
  return b === SP || b === HTAB;
}

/** Decimal digits only; `-1` for anything else or a value past 2^53 - 1 (RFC 9110 §8.6). */
function parseContentLength(value: string): number {
  if (value.length === 0) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
    if (n > Number.MAX_SAFE_INTEGER) return -1;
  }
  return n;
}

/**
 * Calls `fn` with each non-empty, OWS-trimmed, lower-cased element of a comma-separated list
 * (RFC 9110 §5.6.1).
 */
function forEachListElement(value: string, fn: (element: string) => void): void {
  // Most fields hold one element (`keep-alive`, `chunked`): no split, no array.
  if (!value.includes(',')) {
    const element = value.trim().toLowerCase();
    if (element.length > 0) fn(element);
    return;
  }
  for (const part of value.split(',')) {
    const element = part.trim().toLowerCase();
    if (element.length > 0) fn(element);
  }
}

/**
 * Parses the HTTP/1.1 responses arriving on one connection, one at a time.
 *
 * Lifecycle: `expect(method)` arms it for the response to one request; `execute()` is fed bytes and
 * returns how many it consumed, stopping right after a complete response (or after a 101 head);
 * `finish()` reports the peer's EOF. After any error the parser is dead: every later call throws the
 * same error. Exceptions thrown by event callbacks propagate out of `execute()` and kill it too.
 *
 * @example
 * ```ts
 * const parser = new ResponseParser({ onHead, onData, onComplete });
 * parser.expect('GET');
 * const used = parser.execute(chunk); // bytes past `used` belong to whatever comes next
 * ```
 */
export class ResponseParser {
  readonly #events: ParserEvents;
  readonly #limits: ParserLimits;

  #state = IDLE;
  #error: unknown = null;
  #isHead = false;
  #isConnect = false;
  /** Set by #complete() / the upgrade path: execute() returns at once. */
  #stop = false;
  #messageBytes = 0;
  #informational = 0;

  // --- head / trailer line machine ---
  #hs = H_START;
  /** Bytes of the current head (or trailer section) so far, compared with its size limit. */
  #headBytes = 0;
  #fieldCount = 0;
  /** Index in the current input where the current line starts; negative when it began earlier. */
  #lineBase = 0;
  /** Holds the start of a line split across inputs. */
  #scratch: Buffer | null = null;
  #scratchLength = 0;
  /** Digits matched so far (protocol name, status code). */
  #matched = 0;
  #nameEnd = 0;
  #valueStart = 0;
  #valueEnd = 0;
  #versionMajor = 0;
  #versionMinor = 0;
  #status = 0;
  #statusText = '';
  #previousStatusText: string | undefined;
  #fields: string[] = [];
  /** The previous head's fields: their strings are reused where the same bytes come again. */
  #previousFields: string[] = [];
  #contentLength = -1;
  #transferEncoding = false;
  #chunked = false;
  #connectionClose = false;
  #connectionKeepAlive = false;

  // --- body ---
  #keepAlive = false;
  /** Bytes left in the Content-Length body or in the current chunk. */
  #remaining = 0;
  #bodyBytes = 0;
  #cs = C_SIZE_START;
  #chunkLineLength = 0;
  #extensionLength = 0;

  /**
   * @param events Where the response is reported.
   * @param limits Overrides for {@link defaultParserLimits}.
   * @throws InvalidArgumentError for a bad limit.
   */
  constructor(events: ParserEvents, limits?: Partial<ParserLimits>) {
    this.#events = events;
    this.#limits = resolveParserLimits(limits);
  }

  /**
   * Arms the parser for the response to a request with this method (`HEAD` means no body whatever
   * the headers say; a 2xx answer to `CONNECT` opens a tunnel). Call before each response.
   *
   * @throws InvalidStateError while a response is still in progress, or after the connection was
   *   closed or upgraded by the previous response; the stored error when the parser is dead.
   */
  expect(method: string): void {
    if (this.#state === DEAD) throw this.#error;
    if (this.#state === CLOSED) {
      throw new InvalidStateError('the previous response ended the connection');
    }
    if (this.#state === UPGRADED) throw new InvalidStateError('the connection was upgraded');
    if (this.#state !== IDLE) throw new InvalidStateError('a response is already in progress');
    this.#isHead = method === 'HEAD';
    this.#isConnect = method === 'CONNECT';
    this.#messageBytes = 0;
    this.#informational = 0;
    this.#bodyBytes = 0;
    this.#resetHead();
    this.#state = HEAD;
  }

  /** True from `expect()` until the response completes (or its 101 head arrives); stays true after an error. */
  get busy(): boolean {
    const s = this.#state;
    return s !== IDLE && s !== CLOSED && s !== UPGRADED;
  }

  /**
   * Bytes of the current response received so far, interim responses included (0 = the server has
   * not started answering). Reset by `expect()`.
   */
  get messageBytes(): number {
    return this.#messageBytes;
  }

  /** Bytes held back from earlier inputs: the unfinished part of one head or trailer line. */
  get bufferedBytes(): number {
    return this.#scratchLength;
  }

  /**
   * Feeds bytes. Returns how many were consumed: parsing stops right after a complete response (or
   * after a 101 head), leaving the rest to the caller.
   *
   * @throws ResponseError for malformed input, or bytes arriving when no response is expected.
   * @throws ResponseLimitError when a limit is exceeded.
   */
  execute(data: Uint8Array): number {
    if (this.#state === DEAD) throw this.#error;
    const length = data.length;
    if (length === 0) return 0;
    const busy = this.busy;
    try {
      const used = this.#run(asBuffer(data), length);
      this.#messageBytes += used;
      return used;
    } catch (error) {
      if (busy) this.#messageBytes += length;
      this.#state = DEAD;
      this.#error = error;
      throw error;
    }
  }

  /**
   * Reports that the peer closed the connection. Completes a body delimited by the close (calling
   * `onComplete`). Does nothing when no response is in progress or none of its bytes arrived yet.
   *
   * @throws ResponseError when a response was cut short (head, Content-Length or chunked body).
   */
  finish(): void {
    const state = this.#state;
    if (state === DEAD) throw this.#error;
    if (state === IDLE || state === CLOSED || state === UPGRADED) return;
    if (state === BODY_EOF) {
      this.#complete([]);
      this.#stop = false;
      return;
    }
    if (state === HEAD && this.#messageBytes === 0) return;
    const error = new ResponseError(
      state === HEAD
        ? 'connection closed before the response head was complete (truncated)'
        : 'connection closed before the response body was complete (truncated)',
    );
    this.#state = DEAD;
    this.#error = error;
    throw error;
  }

  #resetHead(): void {
    this.#hs = H_START;
    this.#headBytes = 0;
    this.#fieldCount = 0;
    this.#scratchLength = 0;
    this.#matched = 0;
    this.#fields = [];
    this.#contentLength = -1;
    this.#transferEncoding = false;
    this.#chunked = false;
    this.#connectionClose = false;
    this.#connectionKeepAlive = false;
    this.#statusText = '';
  }

  #run(buf: Latin1Buffer, length: number): number {
    let i = 0;
    this.#stop = false;
    this.#lineBase = -this.#scratchLength;
    while (i < length) {
      switch (this.#state) {
        case IDLE:
          throw new ResponseError('unsolicited data: bytes arrived while no response was expected');
        case CLOSED:
          throw new ResponseError('data after a response that ended the connection');
        case UPGRADED:
          throw new InvalidStateError('the connection was upgraded; its bytes are not HTTP');
        case HEAD:
        case TRAILERS:
          i = this.#parseLines(buf, i, length);
          break;
        case BODY_LENGTH: {
          const n = Math.min(this.#remaining, length - i);
          this.#remaining -= n;
          this.#bodyBytes += n;
          this.#events.onData(buf.subarray(i, i + n));
          i += n;
          if (this.#remaining === 0) this.#complete([]);
          break;
        }
        case BODY_EOF: {
          // Up to the limit, then fail: the bytes delivered do not depend on how input was split.
          const limit = this.#limits.maxResponseSize;
          const n = Math.min(length - i, limit - this.#bodyBytes);
          if (n > 0) {
            this.#bodyBytes += n;
            this.#events.onData(buf.subarray(i, i + n));
            i += n;
          }
          if (i < length) throw new ResponseLimitError('maxResponseSize', limit);
          break;
        }
        case CHUNK_LINE:
          i = this.#parseChunkLine(buf, i, length);
          break;
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, length - i);
          this.#remaining -= n;
          this.#bodyBytes += n;
          this.#events.onData(buf.subarray(i, i + n));
          i += n;
          if (this.#remaining === 0) this.#state = CHUNK_DATA_CR;
          break;
        }
        case CHUNK_DATA_CR:
          // RFC 9112 §7.1: chunk-data is followed by CRLF.
          if (buf[i] !== CR) throw new ResponseError('expected CRLF after chunk data');
          this.#state = CHUNK_DATA_LF;
          i++;
          break;
        case CHUNK_DATA_LF:
          if (buf[i] !== LF) throw new ResponseError('expected CRLF after chunk data');
          this.#state = CHUNK_LINE;
          this.#cs = C_SIZE_START;
          this.#chunkLineLength = 0;
          this.#remaining = 0;
          i++;
          break;
        default:
          throw new InvalidStateError('the parser is dead');
      }
      if (this.#stop) {
        this.#stop = false;
        return i;
      }
    }
    return i;
  }

  /** Ends the current response: the parser goes idle (or closed) before the callback runs. */
  #complete(trailers: string[]): void {
    this.#state = this.#keepAlive ? IDLE : CLOSED;
    this.#scratchLength = 0;
    this.#stop = true;
    this.#events.onComplete(trailers);
  }

  #fail(reason: string): never {
    throw new ResponseError(reason);
  }

  /** Appends `buf[start, end)` to the scratch line buffer. */
  #save(buf: Buffer, start: number, end: number): void {
    const need = this.#scratchLength + (end - start);
    let scratch = this.#scratch;
    if (scratch === null || scratch.length < need) {
      const grown = Buffer.allocUnsafe(
        Math.max(need, Math.min(2 * (scratch?.length ?? 128), 1 << 16)),
      );
      if (scratch !== null) scratch.copy(grown, 0, 0, this.#scratchLength);
      this.#scratch = scratch = grown;
    }
    buf.copy(scratch, this.#scratchLength, start, end);
    this.#scratchLength = need;
  }

  /**
   * The status line and field lines of a head (RFC 9112 §2.1, §4, §5), or of a trailer section
   * (§7.1.2). Every byte is checked as it arrives.
   */
  #parseLines(buf: Latin1Buffer, start: number, length: number): number {
    const trailers = this.#state === TRAILERS;
    const limitName = trailers ? 'maxTrailerSize' : 'maxHeaderSize';
    const limit = trailers ? this.#limits.maxTrailerSize : this.#limits.maxHeaderSize;
    const maxStatusLine = this.#limits.maxStatusLineLength;
    const allowance = limit - this.#headBytes;
    const end = length - start > allowance ? start + allowance : length;
    let hs = this.#hs;
    let i = start;
    while (i < end) {
      const b = buf[i]!;
      if (hs < H_LINE_START && hs > H_START_LF && i - this.#lineBase >= maxStatusLine) {
        throw new ResponseLimitError('maxStatusLineLength', maxStatusLine);
      }
      switch (hs) {
        case H_START:
          // Empty lines before the status line are skipped, as llhttp does (and RFC 9112 §2.2
          // asks of servers); only CRLF ones.
          if (b === CR) hs = H_START_LF;
          else if (b === PROTOCOL[0]) {
            this.#lineBase = i;
            this.#matched = 1;
            hs = H_PROTOCOL;
          } else this.#fail('expected an HTTP/1.x status line');
          i++;
          break;
        case H_START_LF:
          if (b !== LF) this.#fail('expected LF after CR');
          hs = H_START;
          i++;
          this.#lineBase = i;
          break;
        case H_PROTOCOL:
          // RFC 9112 §2.3: HTTP-name is "HTTP" (case-sensitive); no RTSP/ICE.
          if (b !== PROTOCOL[this.#matched])
            this.#fail('expected HTTP/ at the start of the status line');
          if (++this.#matched === PROTOCOL.length) hs = H_MAJOR;
          i++;
          break;
        case H_MAJOR:
          if (b < 0x30 || b > 0x39) this.#fail('invalid HTTP version');
          this.#versionMajor = b - 0x30;
          hs = H_DOT;
          i++;
          break;
        case H_DOT:
          if (b !== 0x2e) this.#fail('invalid HTTP version');
          hs = H_MINOR;
          i++;
          break;
        case H_MINOR:
          if (b < 0x30 || b > 0x39) this.#fail('invalid HTTP version');
          this.#versionMinor = b - 0x30;
          hs = H_VERSION_SP;
          i++;
          break;
        case H_VERSION_SP:
          // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
          if (b !== SP) this.#fail('expected a space after the HTTP version');
          if (this.#versionMajor !== 1 || this.#versionMinor > 1) {
            this.#fail('unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)');
          }
          this.#matched = 0;
          this.#status = 0;
          hs = H_STATUS;
          i++;
          break;
        case H_STATUS:
          if (b < 0x30 || b > 0x39) this.#fail('invalid status code');
          this.#status = this.#status * 10 + (b - 0x30);
          if (++this.#matched === 3) {
            if (this.#status < 100) this.#fail('invalid status code');
            hs = H_STATUS_END;
          }
          i++;
          break;
        case H_STATUS_END:
          // llhttp (strict) also accepts a status line that ends right after the code.
          if (b === SP) {
            this.#valueStart = i + 1 - this.#lineBase;
            hs = H_REASON;
          } else if (b === CR) {
            this.#valueStart = -1;
            hs = H_STATUS_LF;
          } else this.#fail('invalid status code');
          i++;
          break;
        case H_REASON: {
          const stop = Math.min(end, this.#lineBase + maxStatusLine);
          while (i < stop && TEXT[buf[i]!] === 1) i++;
          if (i === stop) {
            if (stop < end) throw new ResponseLimitError('maxStatusLineLength', maxStatusLine);
            break;
          }
          if (buf[i] !== CR) this.#fail('invalid character in the reason phrase');
          this.#valueEnd = i - this.#lineBase;
          hs = H_STATUS_LF;
          i++;
          break;
        }
        case H_STATUS_LF: {
          if (b !== LF) this.#fail('expected LF after CR');
          if (this.#valueStart >= 0 && this.#valueEnd > this.#valueStart) {
            let base = buf;
            let offset = this.#lineBase;
            if (offset < 0) {
              base = this.#lineFromScratch(buf, i);
              offset = 0;
            }
            this.#statusText = sliceOrReuse(
              base,
              offset + this.#valueStart,
              offset + this.#valueEnd,
              this.#previousStatusText,
            );
            this.#previousStatusText = this.#statusText;
          }
          i++;
          this.#lineBase = i;
          this.#scratchLength = 0;
          hs = H_LINE_START;
          break;
        }
        case H_LINE_START:
          if (b === CR) hs = H_END_LF;
          else if (TOKEN[b] === 1) {
            if (++this.#fieldCount > this.#limits.maxHeaderCount) {
              throw new ResponseLimitError('maxHeaderCount', this.#limits.maxHeaderCount);
            }
            hs = H_NAME;
          } else if (isWhitespace(b)) {
            // RFC 9112 §5.2: obs-fold is rejected; §2.2: whitespace before the first field line
            // must not be accepted as part of the head.
            this.#fail('whitespace at the start of a field line (obs-fold)');
          } else this.#fail('invalid character in a field name');
          i++;
          break;
        case H_NAME: {
          while (i < end && TOKEN[buf[i]!] === 1) i++;
          if (i === end) break;
          const c = buf[i]!;
          if (c !== COLON) {
            // RFC 9112 §5.1: no whitespace is allowed between the field name and colon.
            this.#fail(
              isWhitespace(c) ? 'whitespace before the colon' : 'invalid character in a field name',
            );
          }
          this.#nameEnd = i - this.#lineBase;
          this.#valueStart = -1;
          hs = H_OWS;
          i++;
          break;
        }
        case H_OWS:
          if (isWhitespace(b)) {
            i++;
            break;
          }
          if (b === CR) {
            hs = H_LINE_LF;
            i++;
            break;
          }
          if (TEXT[b] !== 1) this.#fail('invalid character in a field value');
          this.#valueStart = i - this.#lineBase;
          this.#valueEnd = this.#valueStart + 1;
          hs = H_VALUE;
          i++;
          break;
        case H_VALUE: {
          // field-value: no CTL other than HTAB, no DEL (RFC 9110 §5.5); trailing OWS is dropped.
          let last = -1;
          while (i < end) {
            const c = buf[i]!;
            if (c > SP && c !== 0x7f) last = i;
            else if (c !== SP && c !== HTAB) break;
            i++;
          }
          if (last >= 0) this.#valueEnd = last + 1 - this.#lineBase;
          if (i === end) break;
          if (buf[i] !== CR) this.#fail('invalid character in a field value');
          hs = H_LINE_LF;
          i++;
          break;
        }
        case H_LINE_LF: {
          if (b !== LF) this.#fail('expected LF after CR');
          let base = buf;
          let offset = this.#lineBase;
          if (offset < 0) {
            base = this.#lineFromScratch(buf, i);
            offset = 0;
          }
          const fields = this.#fields;
          const previous = this.#previousFields;
          const at = fields.length;
          const name = sliceOrReuse(base, offset, offset + this.#nameEnd, previous[at]);
          const value =
            this.#valueStart < 0
              ? ''
              : sliceOrReuse(
                  base,
                  offset + this.#valueStart,
                  offset + this.#valueEnd,
                  previous[at + 1],
                );
          fields.push(name, value);
          if (!trailers) this.#framingField(name, value);
          i++;
          this.#lineBase = i;
          this.#scratchLength = 0;
          hs = H_LINE_START;
          break;
        }
        case H_END_LF:
          if (b !== LF) this.#fail('expected LF after CR');
          i++;
          this.#hs = hs;
          this.#headBytes += i - start;
          this.#lineBase = i;
          this.#scratchLength = 0;
          if (trailers) this.#complete(this.#fields);
          else this.#headComplete();
          return i;
      }
    }
    this.#headBytes += i - start;
    if (i < length) throw new ResponseLimitError(limitName, limit);
    this.#hs = hs;
    // The input ended inside a line: keep that line's bytes for the next call.
    if (hs !== H_START && hs !== H_START_LF) {
      this.#save(buf, Math.max(this.#lineBase, 0), length);
    }
    return i;
  }

  /** A line that ends at `buf[lf]` but began in an earlier input: completed in the scratch buffer, where it starts at 0. */
  #lineFromScratch(buf: Latin1Buffer, lf: number): Latin1Buffer {
    this.#save(buf, 0, lf + 1);
    return this.#scratch as Latin1Buffer;
  }

  /** Notes `close` and `keep-alive` in a Connection field (RFC 9112 §9.3); bound once, not per field. */
  readonly #onConnectionToken = (token: string): void => {
    if (token === 'close') this.#connectionClose = true;
    else if (token === 'keep-alive') this.#connectionKeepAlive = true;
  };

  /** Records the fields that decide framing and persistence. */
  #framingField(name: string, value: string): void {
    // RFC 9110 §9.3.6: a client ignores Content-Length and Transfer-Encoding in a 2xx answer to
    // CONNECT; what follows the head is the tunnel's, however the proxy says it is framed.
    if (
      this.#isConnect &&
      this.#status >= 200 &&
      this.#status < 300 &&
      (tokenIs(name, 'content-length') || tokenIs(name, 'transfer-encoding'))
    ) {
      return;
    }
    switch (name.length) {
      case 10:
        if (tokenIs(name, 'connection')) {
          forEachListElement(value, this.#onConnectionToken);
        }
        break;
      case 14:
        if (tokenIs(name, 'content-length')) {
          // RFC 9112 §6.3 (5): an invalid Content-Length is unrecoverable. Like llhttp, a second
          // Content-Length field is rejected even when it repeats the value, and so is a list.
          if (this.#contentLength !== -1) this.#fail('duplicate Content-Length');
          const n = parseContentLength(value);
          if (n < 0) this.#fail('invalid Content-Length');
          this.#contentLength = n;
        }
        break;
      case 16:
        // Not standard, but llhttp and http-parser honour it; only the safe direction is kept.
        if (tokenIs(name, 'proxy-connection')) {
          forEachListElement(value, (token) => {
            if (token === 'close') this.#connectionClose = true;
          });
        }
        break;
      case 17:
        if (tokenIs(name, 'transfer-encoding')) {
          // RFC 9112 §6.1: the codings apply in order across all Transfer-Encoding lines; what
          // decides framing is whether the last one is chunked.
          let last = '';
          forEachListElement(value, (coding) => {
            last = coding;
          });
          if (last === '') this.#fail('empty Transfer-Encoding');
          this.#transferEncoding = true;
          this.#chunked = last === 'chunked';
        }
        break;
    }
  }

  /** Decides what follows a complete head (RFC 9112 §6.3) and reports it. */
  #headComplete(): void {
    this.#previousFields = this.#fields;
    const status = this.#status;
    const head: ResponseHead = {
      versionMajor: this.#versionMajor,
      versionMinor: this.#versionMinor,
      status,
      statusText: this.#statusText,
      rawHeaders: this.#fields,
      keepAlive: false,
      contentLength: this.#contentLength < 0 ? null : this.#contentLength,
      chunked: this.#chunked,
      upgrade: false,
    };
    if (this.#transferEncoding) {
      // RFC 9112 §6.3 (3): both present is a smuggling signal; a strict client rejects it.
      if (this.#contentLength >= 0) this.#fail('both Transfer-Encoding and Content-Length');
      // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
      if (this.#versionMinor === 0) this.#fail('Transfer-Encoding in an HTTP/1.0 response');
    }

    if (status < 200 && status !== 101) {
      // RFC 9110 §15.2: interim responses precede the final one; they have no body (RFC 9112 §6.3 (1)).
      if (++this.#informational > this.#limits.maxInformationalResponses) {
        throw new ResponseLimitError(
          'maxInformationalResponses',
          this.#limits.maxInformationalResponses,
        );
      }
      head.keepAlive = this.#versionMinor === 1 ? !this.#connectionClose : false;
      this.#resetHead();
      this.#events.onInformational?.(head);
      return;
    }

    let keepAlive =
      !this.#connectionClose && (this.#versionMinor === 1 || this.#connectionKeepAlive);
    const limit = this.#limits.maxResponseSize;
    if (status === 101 || (this.#isConnect && status < 300)) {
      // RFC 9112 §6.3 (1), (2): the connection changes protocol (or becomes a tunnel) after the head.
      head.upgrade = true;
      head.keepAlive = keepAlive;
      this.#state = UPGRADED;
      this.#stop = true;
      this.#events.onHead(head);
      return;
    }
    let next: number;
    if (this.#isHead || status === 204 || status === 304) {
      next = IDLE; // RFC 9112 §6.3 (1): ends at the empty line whatever the headers say.
    } else if (this.#transferEncoding) {
      // RFC 9112 §6.3 (4): chunked last => chunked; otherwise a response is read until close.
      next = this.#chunked ? CHUNK_LINE : BODY_EOF;
    } else if (this.#contentLength >= 0) {
      if (this.#contentLength > limit) throw new ResponseLimitError('maxResponseSize', limit);
      next = this.#contentLength === 0 ? IDLE : BODY_LENGTH; // RFC 9112 §6.3 (6)
    } else {
      next = BODY_EOF; // RFC 9112 §6.3 (8)
    }
    if (next === BODY_EOF) keepAlive = false;
    head.keepAlive = keepAlive;
    this.#keepAlive = keepAlive;
    this.#remaining = next === BODY_LENGTH ? this.#contentLength : 0;
    this.#cs = C_SIZE_START;
    this.#chunkLineLength = 0;
    this.#extensionLength = 0;
    this.#state = next === IDLE ? HEAD : next;
    this.#events.onHead(head);
    if (next === IDLE) this.#complete([]);
  }

  /** A chunk-size line: `chunk-size [ chunk-ext ] CRLF` (RFC 9112 §7.1, §7.1.1). */
  #parseChunkLine(buf: Latin1Buffer, start: number, length: number): number {
    const maxLine = this.#limits.maxChunkSizeLineLength;
    const maxExtension = this.#limits.maxChunkExtensionSize;
    let cs = this.#cs;
    let size = this.#remaining;
    let lineLength = this.#chunkLineLength;
    let extensionLength = this.#extensionLength;
    let i = start;
    for (; i < length; i++) {
      const b = buf[i]!;
      if (++lineLength > maxLine) {
        throw new ResponseLimitError('maxChunkSizeLineLength', maxLine);
      }
      if (cs >= C_EXT_NAME_START && cs <= C_EXT_VALUE_WS && b !== CR) {
        if (++extensionLength > maxExtension) {
          throw new ResponseLimitError('maxChunkExtensionSize', maxExtension);
        }
      }
      switch (cs) {
        case C_SIZE_START:
        case C_SIZE: {
          const d = HEX[b]!;
          if (d >= 0) {
            size = size * 16 + d;
            if (size > Number.MAX_SAFE_INTEGER) this.#fail('chunk size too large');
            cs = C_SIZE;
          } else if (cs === C_SIZE_START) {
            this.#fail('invalid chunk size');
          } else if (b === CR) cs = C_LF;
          else if (b === SEMICOLON) cs = this.#startExtension(++extensionLength, maxExtension);
          else if (isWhitespace(b)) cs = C_SIZE_WS;
          else this.#fail('invalid chunk size');
          break;
        }
        case C_SIZE_WS:
          // BWS is only allowed before a chunk extension (llhttp rejects "5 \r\n").
          if (b === SEMICOLON) cs = this.#startExtension(++extensionLength, maxExtension);
          else if (!isWhitespace(b)) this.#fail('invalid chunk size');
          break;
        case C_EXT_NAME_START:
          if (TOKEN[b] === 1) cs = C_EXT_NAME;
          else if (!isWhitespace(b)) this.#fail('invalid chunk extension');
          break;
        case C_EXT_NAME:
          if (TOKEN[b] === 1) break;
          if (b === CR) cs = C_LF;
          else if (b === SEMICOLON) cs = C_EXT_NAME_START;
          else if (b === EQUALS) cs = C_EXT_VALUE_START;
          else if (isWhitespace(b)) cs = C_EXT_AFTER_NAME;
          else this.#fail('invalid chunk extension');
          break;
        case C_EXT_AFTER_NAME:
          if (b === SEMICOLON) cs = C_EXT_NAME_START;
          else if (b === EQUALS) cs = C_EXT_VALUE_START;
          else if (!isWhitespace(b)) this.#fail('invalid chunk extension');
          break;
        case C_EXT_VALUE_START:
          if (TOKEN[b] === 1) cs = C_EXT_VALUE;
          else if (b === DQUOTE) cs = C_EXT_QUOTED;
          else if (!isWhitespace(b)) this.#fail('invalid chunk extension');
          break;
        case C_EXT_VALUE:
          if (TOKEN[b] === 1) break;
          if (b === CR) cs = C_LF;
          else if (b === SEMICOLON) cs = C_EXT_NAME_START;
          else if (isWhitespace(b)) cs = C_EXT_VALUE_WS;
          else this.#fail('invalid chunk extension');
          break;
        case C_EXT_QUOTED:
          if (b === DQUOTE) cs = C_EXT_AFTER_VALUE;
          else if (b === BACKSLASH) cs = C_EXT_QUOTED_ESCAPE;
          else if (QDTEXT[b] !== 1)
            this.#fail('invalid character in a chunk extension quoted value');
          break;
        case C_EXT_QUOTED_ESCAPE:
          if (TEXT[b] !== 1) this.#fail('invalid character in a chunk extension quoted value');
          cs = C_EXT_QUOTED;
          break;
        case C_EXT_AFTER_VALUE:
          if (b === CR) cs = C_LF;
          else if (b === SEMICOLON) cs = C_EXT_NAME_START;
          else if (isWhitespace(b)) cs = C_EXT_VALUE_WS;
          else this.#fail('invalid chunk extension');
          break;
        case C_EXT_VALUE_WS:
          if (b === SEMICOLON) cs = C_EXT_NAME_START;
          else if (!isWhitespace(b)) this.#fail('invalid chunk extension');
          break;
        case C_LF:
          if (b !== LF) this.#fail('expected LF after CR');
          this.#cs = C_SIZE_START;
          this.#chunkLineLength = 0;
          this.#extensionLength = 0;
          i++;
          if (size === 0) {
            // RFC 9112 §7.1.2: last-chunk, then the trailer section and the final CRLF.
            this.#state = TRAILERS;
            this.#resetTrailers(i);
          } else {
            if (this.#bodyBytes + size > this.#limits.maxResponseSize) {
              throw new ResponseLimitError('maxResponseSize', this.#limits.maxResponseSize);
            }
            this.#remaining = size;
            this.#state = CHUNK_DATA;
          }
          return i;
      }
    }
    this.#cs = cs;
    this.#remaining = size;
    this.#chunkLineLength = lineLength;
    this.#extensionLength = extensionLength;
    return i;
  }

  #startExtension(extensionLength: number, maxExtension: number): number {
    if (extensionLength > maxExtension) {
      throw new ResponseLimitError('maxChunkExtensionSize', maxExtension);
    }
    return C_EXT_NAME_START;
  }

  #resetTrailers(lineStart: number): void {
    this.#hs = H_LINE_START;
    this.#headBytes = 0;
    this.#fieldCount = 0;
    this.#scratchLength = 0;
    this.#fields = [];
    this.#lineBase = lineStart;
  }
}
