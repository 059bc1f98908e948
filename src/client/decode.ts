/**
 * Content decoding (RFC 9110 §8.4) for `fetch()` and for `request({ decompress: true })`: one
 * implementation of gzip, deflate (zlib-wrapped or raw), br and, where this Node has it, zstd,
 * with the decoded bytes bounded by `maxResponseSize`.
 *
 * The decoded body is a {@link ResponseBody} of its own, fed by node:zlib streams that are fed
 * by the original body, so backpressure reaches the socket: a reader that stops pauses the
 * decoder, which stops reading the original body, which pauses the connection.
 */

import { pipeline, Transform, type TransformCallback } from 'node:stream';
import * as zlibModule from 'node:zlib';
import {
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
  type ZlibOptions,
  constants as zlib,
} from 'node:zlib';
import { locateError, ResponseError, ResponseLimitError } from '../errors.js';
import { BodyQueue, type BodySource, ResponseBody } from '../http/body.js';
import type { HttpResponse } from '../http/response.js';

/** Content codings decoded at most: a longer chain is refused (a cheap way to make a body bomb). */
const MAX_CODINGS = 5;

/** zstd decoding, on the Node versions that have it (22.15+, 23.8+). */
const createZstdDecompress = (zlibModule as unknown as { createZstdDecompress?: () => Transform })
  .createZstdDecompress;

/**
 * The Accept-Encoding value sent when decoding is on and the caller set none: brotli only over
 * TLS, as browsers and Node's fetch do (some cleartext middleboxes mangle it). zstd is decoded
 * when it comes but not asked for, as in Node's fetch.
 */
export function acceptEncoding(protocol: string): string {
  return protocol === 'https:' ? 'gzip, deflate, br' : 'gzip, deflate';
}

/** Like browsers, accept a stream cut short at a flush point rather than failing the body. */
const LENIENT: ZlibOptions = { flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH };

/**
 * The decoders for a Content-Encoding value, in the order they must run (the codings were
 * applied in the order listed, so are undone in reverse); undefined when there is nothing to
 * undo (no coding, `identity`) or a coding is unknown, in which case the body is left as it is,
 * as Node's fetch does.
 *
 * @throws ResponseError for more than {@link MAX_CODINGS} codings
 */
function decodersFor(value: string): Transform[] | undefined {
  const codings = value
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return undefined;
  if (codings.length > MAX_CODINGS) {
    throw new ResponseError(`too many content codings (${codings.length}, at most ${MAX_CODINGS})`);
  }
  const decoders: Transform[] = [];
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    if (coding === 'gzip' || coding === 'x-gzip') decoders.push(createGunzip(LENIENT));
    else if (coding === 'deflate') decoders.push(new DeflateDecoder());
    else if (coding === 'br') {
      decoders.push(
        createBrotliDecompress({
          flush: zlib.BROTLI_OPERATION_FLUSH,
          finishFlush: zlib.BROTLI_OPERATION_FLUSH,
        }),
      );
    } else if (coding === 'zstd' && createZstdDecompress !== undefined) {
      decoders.push(createZstdDecompress());
    } else {
      for (const decoder of decoders) decoder.destroy();
      return undefined;
    }
  }
  return decoders;
}

/** Statuses whose responses never have a body, whatever their headers say. */
function hasNoBody(status: number, method: string): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || status < 200;
}

/**
 * Decoded bodies by the original body they read: the connection keeps an original body that is
 * being read reachable, and through this the decoded one, as for a plain body.
 */
const decodedOf = new WeakMap<ResponseBody, Decoding>();

/**
 * `response` with its body decoded as its Content-Encoding says, or `response` itself when
 * there is nothing to decode (no coding, `identity`, an unknown coding, a bodiless response).
 * The decoded response's headers no longer carry Content-Encoding and Content-Length, which
 * described the bytes on the wire (fetch() takes its headers from the original response).
 * Its body fails with ResponseError when the bytes do not decode, and with ResponseLimitError
 * past `maxDecoded` bytes.
 *
 * @throws ResponseError for a chain of more than five codings (the body is dumped first)
 */
export function decodeResponse(
  response: HttpResponse,
  method: string,
  maxDecoded: number,
): HttpResponse {
  const value = response.headers.get('content-encoding');
  if (value === null || hasNoBody(response.status, method)) return response;
  // Errors of the decoding say which request they failed, as the connection's do.
  const url = response.url;
  const locate = (error: Error) => locateError(error, new URL(url).origin, method, url);
  let decoders: Transform[] | undefined;
  try {
    decoders = decodersFor(value);
  } catch (error) {
    void response.dump();
    throw locate(error as Error);
  }
  if (decoders === undefined) return response;
  const body = Decoding.start(response.body, decoders, value, maxDecoded, locate);
  const raw = response.headers.raw;
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'content-encoding' || name === 'content-length') continue;
    kept.push(raw[i]!, raw[i + 1]!);
  }
  return response.withBody(kept, body);
}

/** Where a decoding is: running, over (ended or failed), or given up by its reader. */
type DecodingPhase = 'running' | 'ended' | 'failed' | 'cancelled';

/**
 * Pumps an original body through the decoders into the queue of a new {@link ResponseBody}.
 * It is the new body's {@link BodySource}: the new body's reader pauses and resumes the
 * decoder's output, and giving the new body up gives the original up (dumped, so its
 * connection drains or closes as for any dump).
 */
class Decoding implements BodySource {
  /**
   * Starts decoding `raw` and returns the decoded body. The decoding never holds that body: the
   * connection reaches the decoding (through `raw`), and a body it reached could never be
   * collected, so one dropped unread would hold its connection for good.
   */
  static start(
    raw: ResponseBody,
    decoders: Transform[],
    coding: string,
    maxDecoded: number,
    locate: (error: Error) => Error,
  ): ResponseBody {
    const decoding = new Decoding(raw, decoders, coding, maxDecoded, locate);
    const body = new ResponseBody(decoding.#queue);
    decoding.#queue.watch(body);
    void decoding.#pump();
    return body;
  }

  readonly #queue: BodyQueue;
  readonly #raw: ResponseBody;
  readonly #entry: Transform;
  readonly #output: Transform;
  readonly #decoders: Transform[];
  readonly #coding: string;
  readonly #maxDecoded: number;
  readonly #locate: (error: Error) => Error;
  #decoded = 0;
  #phase: DecodingPhase = 'running';

  private constructor(
    raw: ResponseBody,
    decoders: Transform[],
    coding: string,
    maxDecoded: number,
    locate: (error: Error) => Error,
  ) {
    this.#locate = locate;
    this.#raw = raw;
    this.#decoders = decoders;
    this.#coding = coding;
    this.#maxDecoded = maxDecoded;
    this.#queue = new BodyQueue(this);
    decodedOf.set(raw, this);
    this.#entry = decoders[0]!;
    const onError = (error: Error | null | undefined) => {
      if (error) this.#fail(this.#decodeError(error));
    };
    if (decoders.length === 1) {
      this.#output = this.#entry;
      this.#output.on('error', onError);
    } else {
      this.#output = pipeline(decoders, onError) as unknown as Transform;
    }
    this.#output.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#output.on('end', () => {
      if (this.#phase !== 'running') return;
      this.#phase = 'ended';
      this.#queue.end(this.#raw.trailers);
    });
  }

  #onData(chunk: Buffer): void {
    if (this.#phase !== 'running') return;
    this.#decoded += chunk.byteLength;
    if (this.#decoded > this.#maxDecoded) {
      this.#fail(this.#locate(new ResponseLimitError('maxResponseSize', this.#maxDecoded)));
      return;
    }
    this.#queue.push(chunk);
  }

  /** Feeds the original body to the decoders, waiting whenever they are full. */
  async #pump(): Promise<void> {
    const entry = this.#entry;
    const iterator = this.#raw[Symbol.asyncIterator]();
    try {
      for (;;) {
        const result = await iterator.next();
        if (this.#phase !== 'running') return;
        if (result.done === true) break;
        if (!entry.write(result.value)) await drained(entry);
        if (this.#phase !== 'running') return;
      }
      entry.end();
    } catch (error) {
      // The original body failed (cut short, timed out): the decoded one fails the same way.
      this.#fail(error as Error, false);
    }
  }

  /** A decoder's error as the reader sees it: a malformed response (unless it is ours already). */
  #decodeError(error: Error): Error {
    if (error instanceof ResponseError || error instanceof ResponseLimitError) return error;
    return this.#locate(
      new ResponseError(`the body does not decode as "${this.#coding}": ${error.message}`, {
        cause: error,
      }),
    );
  }

  /** Fails the decoded body; the original is dumped unless it is what failed. */
  #fail(error: Error, dumpRaw = true): void {
    if (this.#phase !== 'running') return;
    this.#phase = 'failed';
    this.#stopDecoders();
    this.#queue.fail(error);
    if (dumpRaw) void this.#raw.dump();
  }

  #stopDecoders(): void {
    for (const decoder of this.#decoders) decoder.destroy();
  }

  pause(): void {
    this.#output.pause();
  }

  resume(): void {
    this.#output.resume();
  }

  /** The reader gave the decoded body up: the original is dumped, and the decoded one ends with it. */
  cancel(): void {
    if (this.#phase !== 'running') return;
    this.#phase = 'cancelled';
    this.#stopDecoders();
    void this.#raw.dump().then(() => this.#queue.end());
  }

  abandoned(): void {
    // Nothing to report beyond what cancel() does: the original body is dumped.
  }
}

/** Resolves once `stream` can take more, or is gone. */
function drained(stream: Transform): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/**
 * `Content-Encoding: deflate` is meant to be zlib-wrapped (RFC 9110 §8.4.1.2), but servers
 * send raw deflate too. The first byte tells: a zlib header's low nibble is 8 (the CM field).
 */
class DeflateDecoder extends Transform {
  #inner: Transform | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let inner = this.#inner;
    if (inner === undefined) {
      if (chunk.byteLength === 0) {
        callback();
        return;
      }
      inner = (chunk[0]! & 0x0f) === 0x08 ? createInflate(LENIENT) : createInflateRaw(LENIENT);
      inner.on('data', (data: Buffer) => {
        if (!this.push(data)) inner!.pause();
      });
      inner.on('error', (error) => this.destroy(error));
      this.#inner = inner;
    }
    inner.write(chunk, callback);
  }

  override _read(size: number): void {
    this.#inner?.resume();
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    const inner = this.#inner;
    if (inner === undefined) {
      callback();
      return;
    }
    inner.once('end', () => callback());
    inner.end();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.#inner?.destroy();
    callback(error);
  }
}
