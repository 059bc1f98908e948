import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ResponseError, ResponseLimitError } from '../../src/errors.js';
import type { ParserLimits } from '../../src/http1/limits.js';
import { ResponseParser } from '../../src/http1/parser.js';

interface Model {
  minor: 0 | 1;
  status: number;
  reason: string;
  headers: [string, string][];
  padding: string[];
  framing: 'length' | 'chunked';
  chunkSizes: number[];
  extensions: string[];
  trailers: [string, string][];
  body: Uint8Array;
  method: 'GET' | 'HEAD';
}

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const framingNames = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'proxy-connection',
]);

const token = fc
  .array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 12 })
  .map((a) => a.join(''));
const fieldName = token.filter((n) => !framingNames.has(n.toLowerCase()));
/** A field value without leading/trailing whitespace (obs-text included). */
const fieldValue = fc
  .array(
    fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f),
    { maxLength: 20 },
  )
  .map((a) => String.fromCharCode(...a).trim());
const ows = fc.constantFrom('', ' ', '\t', ' \t ');

const model: fc.Arbitrary<Model> = fc
  .record({
    minor: fc.constantFrom<0 | 1>(0, 1),
    status: fc.oneof(fc.integer({ min: 200, max: 599 }), fc.constantFrom(200, 204, 304)),
    reason: fc.string({ maxLength: 12 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x')),
    headers: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 8 }),
    padding: fc.array(ows, { minLength: 16, maxLength: 16 }),
    chunked: fc.boolean(),
    body: fc.uint8Array({ maxLength: 300 }),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
    extensions: fc.array(fc.constantFrom('', ';a', ';a=b', ' ; x="q \\" ;"', ';k=v;w'), {
      minLength: 8,
      maxLength: 8,
    }),
    trailers: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 3 }),
    method: fc.constantFrom<'GET' | 'HEAD'>('GET', 'GET', 'HEAD'),
  })
  .map((r) => {
    // Chunked framing needs HTTP/1.1 (RFC 9112 §6.1).
    const framing = r.chunked && r.minor === 1 ? 'chunked' : 'length';
    const points = [...new Set(r.cuts.map((c) => c % (r.body.length + 1)))].sort((a, b) => a - b);
    const chunkSizes: number[] = [];
    let at = 0;
    for (const p of [...points, r.body.length]) {
      if (p > at) chunkSizes.push(p - at);
      at = p;
    }
    return {
      minor: r.minor,
      status: r.status,
      reason: r.reason,
      headers: r.headers,
      padding: r.padding,
      framing,
      chunkSizes,
      extensions: r.extensions,
      trailers: r.trailers,
      body: r.body,
      method: r.method,
    } satisfies Model;
  });

function serialize(m: Model): Buffer {
  const parts: Buffer[] = [];
  const text = (s: string) => parts.push(Buffer.from(s, 'latin1'));
  text(`HTTP/1.${m.minor} ${m.status} ${m.reason}\r\n`);
  m.headers.forEach(([n, v], k) => {
    text(`${n}:${m.padding[k % 16]}${v}${m.padding[(k + 5) % 16]}\r\n`);
  });
  if (m.minor === 0) text('Connection: keep-alive\r\n');
  if (m.framing === 'length') text(`Content-Length: ${m.body.length}\r\n\r\n`);
  else text('Transfer-Encoding: chunked\r\n\r\n');
  const hasBody = m.method !== 'HEAD' && m.status !== 204 && m.status !== 304;
  if (!hasBody) return Buffer.concat(parts);
  if (m.framing === 'length') {
    parts.push(Buffer.from(m.body));
    return Buffer.concat(parts);
  }
  let at = 0;
  m.chunkSizes.forEach((size, k) => {
    text(`${size.toString(16)}${m.extensions[k % 8]}\r\n`);
    parts.push(Buffer.from(m.body.subarray(at, at + size)));
    text('\r\n');
    at += size;
  });
  text(`0${m.extensions[7]}\r\n`);
  for (const [n, v] of m.trailers) text(`${n}: ${v}\r\n`);
  text('\r\n');
  return Buffer.concat(parts);
}

interface Events {
  heads: unknown[];
  body: Buffer;
  trailers: string[] | null;
  consumed: number;
  error: unknown;
  maxBuffered: number;
}

/**
 * Feeds `input` in pieces cut at `cuts`; after each complete keep-alive response, arms the parser
 * again for whatever follows. Every execute() must make progress, so this always terminates.
 */
function parse(
  input: Uint8Array,
  cuts: number[],
  method: string,
  limits?: Partial<ParserLimits>,
): Events {
  const heads: unknown[] = [];
  const body: Buffer[] = [];
  let trailers: string[] | null = null;
  let keepAlive = false;
  let upgraded = false;
  const parser = new ResponseParser(
    {
      onInformational: (head) => heads.push({ interim: head }),
      onHead(head) {
        heads.push(head);
        keepAlive = head.keepAlive;
        upgraded = head.upgrade;
      },
      onData: (chunk) => body.push(Buffer.from(chunk)),
      onComplete(t) {
        trailers = t;
      },
    },
    limits,
  );
  parser.expect(method);
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  let consumed = 0;
  let error: unknown = null;
  let maxBuffered = 0;
  let at = 0;
  try {
    outer: for (const end of [...points, input.length]) {
      let piece = input.subarray(at, end);
      at = end;
      while (piece.length > 0) {
        if (!parser.busy) {
          if (upgraded || !keepAlive) break outer;
          parser.expect(method);
        }
        const used = parser.execute(piece);
        assert.ok(used > 0 && used <= piece.length, 'execute made progress');
        maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
        consumed += used;
        piece = piece.subarray(used);
      }
    }
  } catch (e) {
    error = e;
  }
  return { heads, body: Buffer.concat(body), trailers, consumed, error, maxBuffered };
}

describe('ResponseParser properties', () => {
  it('valid responses parse to the model, whatever the split', () => {
    fc.assert(
      fc.property(model, fc.array(fc.nat(), { maxLength: 8 }), (m, cuts) => {
        const input = serialize(m);
        const whole = parse(input, [], m.method);
        assert.equal(whole.error, null, String(whole.error));
        const split = parse(input, cuts, m.method);
        assert.deepEqual({ ...split, maxBuffered: 0 }, { ...whole, maxBuffered: 0 });

        const hasBody = m.method !== 'HEAD' && m.status !== 204 && m.status !== 304;
        assert.equal(whole.consumed, input.length);
        assert.equal(whole.heads.length, 1);
        const head = whole.heads[0] as { status: number; statusText: string; rawHeaders: string[] };
        assert.equal(head.status, m.status);
        assert.equal(head.statusText, m.reason);
        assert.deepEqual(head.rawHeaders.slice(0, m.headers.length * 2), m.headers.flat());
        assert.deepEqual(whole.body, hasBody ? Buffer.from(m.body) : Buffer.alloc(0));
        const trailers = hasBody && m.framing === 'chunked' ? m.trailers.flat() : [];
        assert.deepEqual(whole.trailers, trailers);
      }),
      { numRuns: 400 },
    );
  });

  const limits = fc.option(
    fc.record({
      maxHeaderSize: fc.integer({ min: 0, max: 300 }),
      maxHeaderCount: fc.integer({ min: 0, max: 5 }),
      maxStatusLineLength: fc.integer({ min: 0, max: 40 }),
      maxChunkSizeLineLength: fc.integer({ min: 0, max: 20 }),
      maxChunkExtensionSize: fc.integer({ min: 0, max: 10 }),
      maxInformationalResponses: fc.integer({ min: 0, max: 3 }),
      maxResponseSize: fc.integer({ min: 0, max: 200 }),
      maxTrailerSize: fc.integer({ min: 0, max: 100 }),
    }),
    { nil: undefined },
  );

  function checkRobust(
    input: Uint8Array,
    cuts: number[],
    method: string,
    l?: Partial<ParserLimits>,
  ) {
    const result = parse(input, cuts, method, l);
    if (result.error !== null) {
      assert.ok(
        result.error instanceof ResponseError || result.error instanceof ResponseLimitError,
        `unexpected ${String(result.error)}`,
      );
    }
    const bound = Math.max(l?.maxHeaderSize ?? 16384, l?.maxTrailerSize ?? 16384);
    assert.ok(result.maxBuffered <= bound, `buffered ${result.maxBuffered} > ${bound}`);
  }

  it('random bytes only ever give a parse or a ResponseError / ResponseLimitError', () => {
    const prefix = fc.constantFrom(
      '',
      'HTTP/1.1 200 OK\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      'HTTP/1.1 100 Continue\r\n\r\n',
    );
    const alphabet = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(...Buffer.from('\r\n\r\n :;="\\0aF\t')),
    );
    fc.assert(
      fc.property(
        prefix,
        fc.array(alphabet, { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom('GET', 'HEAD', 'CONNECT'),
        limits,
        (p, rest, cuts, method, l) => {
          const input = Buffer.concat([Buffer.from(p, 'latin1'), Buffer.from(rest)]);
          checkRobust(input, cuts, method, l);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('mutated valid responses only ever give a parse or a ResponseError / ResponseLimitError', () => {
    const mutation = fc.tuple(
      fc.constantFrom('replace', 'insert', 'delete'),
      fc.nat(),
      fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0d, 0x0a, 0x20, 0x3a, 0x3b)),
    );
    fc.assert(
      fc.property(
        model,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        limits,
        (m, mutations, cuts, l) => {
          const bytes = [...serialize(m)];
          for (const [kind, where, value] of mutations) {
            const k = where % (bytes.length + 1);
            if (kind === 'replace' && k < bytes.length) bytes[k] = value;
            else if (kind === 'insert') bytes.splice(k, 0, value);
            else bytes.splice(k, 1);
          }
          checkRobust(Buffer.from(bytes), cuts, m.method, l);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
