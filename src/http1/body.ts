import { BodyUsedError } from '../errors.js';

/**
 * @internal What a response body needs from whoever feeds it (the connection): flow control, and a way
 * to say the reader has given up.
 */
export interface BodySource {
  /** Stop reading from the socket: the reader is behind. */
  pause(): void;
  /** Start reading again. */
  resume(): void;
  /** The reader will read no more: finish the exchange without it (drain or destroy). */
  cancel(): void;
  /** The body was garbage-collected unread; {@link cancel} follows at once. */
  abandoned(): void;
}

/** Flow control after the message ended: the connection may be serving another exchange. */
const DETACHED: BodySource = { pause() {}, resume() {}, cancel() {}, abandoned() {} };

/**
 * Bodies dropped unread while their bytes were still coming: nobody can read them any more,
 * so they are given up, which frees the connection (a large body would otherwise hold it,
 * paused, for as long as the server keeps it open).
 */
const dropped = new FinalizationRegistry<WeakRef<BodyQueue>>((queue) => queue.deref()?.abandon());

/** Bytes queued before the socket is paused; a reader that keeps up never reaches it. */
const HIGH_WATER_MARK = 64 * 1024;

type Waiter = {
  resolve: (result: IteratorResult<Uint8Array>) => void;
  reject: (error: Error) => void;
};

/**
 * @internal The bytes of one response body and their readers: the connection pushes into it
 * ({@link push}, {@link end}, {@link fail}); a {@link ResponseBody} reads. The connection holds
 * this, never the ResponseBody, so a body its caller dropped can be garbage-collected.
 */
export class BodyQueue {
  /**
   * The ResponseBody a reader started on: from then on whoever feeds this queue keeps it (and
   * what hangs on it, such as a lease) reachable, even if the caller holds only a pending read.
   */
  reader: ResponseBody | undefined;
  #source: BodySource;
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #paused = false;
  #waiter: Waiter | undefined;
  #ended = false;
  #error: Error | undefined;
  #used = false;
  #dumping = false;
  /** Callbacks of dump() calls waiting for the exchange to end; made only when one waits. */
  #onSettled: Array<() => void> | undefined;
  #trailers: readonly string[] = [];
  /** Registered with the finalizer that gives up a body dropped unread. */
  #watched = false;

  /**
   * Every chunk is a copy nobody else holds: one that fills its ArrayBuffer is handed over by
   * arrayBuffer() without another copy.
   */
  readonly #privateChunks: boolean;

  /**
   * @param source the connection feeding this body
   * @param privateChunks true when each pushed chunk is a copy that nothing else holds
   */
  constructor(source: BodySource, privateChunks = false) {
    this.#source = source;
    this.#privateChunks = privateChunks;
  }

  /** True once a reader has started consuming the body. */
  get bodyUsed(): boolean {
    return this.#used;
  }

  /** True once the last byte arrived and the message ended cleanly. */
  get complete(): boolean {
    return this.#ended && this.#error === undefined;
  }

  /** Trailer fields (flat name/value pairs) of a chunked response, once it has ended. */
  get trailers(): readonly string[] {
    return this.#trailers;
  }

  // --- producer side (the connection) ---

  /** Queues a chunk for the reader. Called by the connection. */
  push(chunk: Uint8Array): void {
    if (this.#ended || this.#error !== undefined || this.#dumping) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value: chunk });
      return;
    }
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.byteLength;
    if (!this.#paused && this.#queuedBytes >= HIGH_WATER_MARK) {
      this.#paused = true;
      this.#source.pause();
    }
  }

  /** The message ended cleanly. Called by the connection. */
  end(trailers: readonly string[] = []): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#ended = true;
    this.#trailers = trailers;
    this.#unwatch();
    const waiter = this.#waiter;
    if (waiter !== undefined && this.#queueHead === this.#queue.length) {
      this.#waiter = undefined;
      waiter.resolve({ done: true, value: undefined });
    }
    this.#settle();
  }

  /**
   * The message is over and every byte is queued: from now on the reader's pace is no
   * concern of the connection's, which may already carry the next exchange.
   */
  detach(): void {
    this.#source = DETACHED;
    this.#paused = false;
  }

  /** The message failed (truncated, reset, timed out). Called by the connection. */
  fail(error: Error): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = error;
    this.#unwatch();
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.reject(error);
    }
    this.#settle();
  }

  #settle(): void {
    const callbacks = this.#onSettled;
    if (callbacks === undefined) return;
    this.#onSettled = undefined;
    for (const callback of callbacks) callback();
  }

  // --- consumer side ---

  /** The next queued chunk, if any, resuming the socket once the queue has room again. */
  #dequeue(): Uint8Array | undefined {
    if (this.#queueHead === this.#queue.length) return undefined;
    const chunk = this.#queue[this.#queueHead]!;
    this.#queue[this.#queueHead++] = EMPTY;
    this.#queuedBytes -= chunk.byteLength;
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    }
    if (this.#paused && this.#queuedBytes < HIGH_WATER_MARK / 2) {
      this.#paused = false;
      this.#source.resume();
    }
    return chunk;
  }

  #take(): Promise<IteratorResult<Uint8Array>> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#dumping) return Promise.reject(givenUp());
    const chunk = this.#dequeue();
    if (chunk !== undefined) return Promise.resolve({ done: false, value: chunk });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    if (this.#waiter !== undefined) {
      return Promise.reject(new BodyUsedError('concurrent reads of one response body'));
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  #claim(): void {
    if (this.#used) throw new BodyUsedError();
    this.#used = true;
  }

  /** Streams the body. Breaking out of the loop early gives the rest up (see {@link dump}). */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.#claim();
    return {
      next: () => this.#take(),
      return: () => {
        if (!this.#ended && this.#error === undefined) this.#cancel();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  #cancel(): void {
    this.#dumping = true;
    // A reader still waiting must not see the end of a drained body as a short success.
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.reject(givenUp());
    }
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    if (this.#paused) {
      this.#paused = false;
      this.#source.resume();
    }
    this.#source.cancel();
  }

  /** Reads the whole body into one buffer. */
  bytes(): Promise<Uint8Array> {
    const whole = this.takeWhole();
    if (whole !== undefined) return Promise.resolve(whole);
    if (this.#used) return Promise.reject(new BodyUsedError());
    this.#used = true;
    return this.#collect([], 0);
  }

  /**
   * @internal Claims the body and takes it at once when it is unread, has ended cleanly and
   * sits in the queue as one chunk (a small response that arrived with its head); else
   * undefined, and nothing is claimed or taken. Spares one-shot readers a promise and a wait.
   */
  takeWhole(): Uint8Array | undefined {
    if (
      this.#used ||
      !this.#ended ||
      this.#error !== undefined ||
      this.#dumping ||
      this.#queue.length - this.#queueHead !== 1
    ) {
      return undefined;
    }
    this.#used = true;
    return this.#dequeue();
  }

  /**
   * Gathers chunks: whatever is queued is taken at once, and only an empty queue waits. A
   * small body that arrived with its head costs no wait at all.
   */
  #collect(chunks: Uint8Array[], length: number): Promise<Uint8Array> {
    for (;;) {
      if (this.#error !== undefined) return Promise.reject(this.#error);
      if (this.#dumping) return Promise.reject(givenUp());
      const chunk = this.#dequeue();
      if (chunk === undefined) break;
      chunks.push(chunk);
      length += chunk.byteLength;
    }
    if (this.#ended) {
      return Promise.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
    }
    return new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    }).then((result) => {
      if (result.done) return this.#collect(chunks, length);
      chunks.push(result.value);
      return this.#collect(chunks, length + result.value.byteLength);
    });
  }

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    const whole = this.takeWhole();
    if (whole !== undefined) return Promise.resolve(utf8(whole));
    return this.bytes().then(utf8);
  }

  /** Reads the whole body and parses it as JSON. */
  json(): Promise<unknown> {
    const whole = this.takeWhole();
    if (whole !== undefined) {
      try {
        return Promise.resolve(JSON.parse(utf8(whole)));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.text().then((text) => JSON.parse(text));
  }

  /** Reads the whole body into a fresh ArrayBuffer. */
  arrayBuffer(): Promise<ArrayBuffer> {
    const whole = this.takeWhole();
    if (whole !== undefined) {
      return Promise.resolve(this.#privateChunks ? ownBuffer(whole) : copyToArrayBuffer(whole));
    }
    // Private chunks, and chunks joined into a new buffer, are as good as a copy.
    return this.bytes().then(this.#privateChunks ? ownBuffer : copyToArrayBuffer);
  }

  /**
   * Throws the body away. The connection drains what is left (up to a bound) so it can be
   * reused, or closes it. Resolves once the exchange is over either way; never rejects.
   */
  dump(): Promise<void> {
    if (!this.#used) this.#used = true;
    if (this.#ended || this.#error !== undefined) return Promise.resolve();
    const settled = new Promise<void>((resolve) => {
      this.#onSettled ??= [];
      this.#onSettled.push(resolve);
    });
    if (!this.#dumping) this.#cancel();
    return settled;
  }

  /** Gives up a body that no reader ever claimed once `body`, its only way in, is garbage. */
  watch(body: ResponseBody): void {
    // The queue is held weakly: a reader's body is kept by its queue (`reader`), and a strong
    // hold here would keep that body, and all it reaches, alive for good.
    dropped.register(body, new WeakRef(this), this);
    this.#watched = true;
  }

  /** The message is over one way or the other: nothing left to give up. */
  #unwatch(): void {
    if (!this.#watched) return;
    this.#watched = false;
    dropped.unregister(this);
  }

  /** `watch()`'s body was collected: unless a reader claimed it, the rest is thrown away. */
  abandon(): void {
    if (this.#used || this.#ended || this.#error !== undefined) return;
    this.#used = true;
    this.#source.abandoned();
    this.#cancel();
  }
}

/**
 * A response body: an async iterable of byte chunks with backpressure (a slow reader pauses
 * the socket), plus the usual one-shot readers. A body can be consumed once.
 *
 * Read it to the end or {@link dump} it: until then its connection is busy. A body dropped
 * unread while still arriving is given up once garbage-collected (with an `HTTPOOL_LEAK`
 * warning from the pool), but collection may come late, so do not count on it.
 */
export class ResponseBody implements AsyncIterable<Uint8Array> {
  readonly #queue: BodyQueue;

  /** @internal made by the connection for each response */
  constructor(queue: BodyQueue) {
    this.#queue = queue;
  }

  /** True once a reader has started consuming the body. */
  get bodyUsed(): boolean {
    return this.#queue.bodyUsed;
  }

  /** True once the last byte arrived and the message ended cleanly. */
  get complete(): boolean {
    return this.#queue.complete;
  }

  /** Trailer fields (flat name/value pairs) of a chunked response, once it has ended. */
  get trailers(): readonly string[] {
    return this.#queue.trailers;
  }

  /**
   * @internal Claims the body and takes it at once when it is unread and has fully arrived
   * as one chunk; else undefined, and nothing is claimed.
   */
  takeWhole(): Uint8Array | undefined {
    return this.#read().takeWhole();
  }

  /** Streams the body. Breaking out of the loop early gives the rest up (see {@link dump}). */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#read()[Symbol.asyncIterator]();
  }

  /** Reads the whole body into one buffer. */
  bytes(): Promise<Uint8Array> {
    return this.#read().bytes();
  }

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    return this.#read().text();
  }

  /** Reads the whole body and parses it as JSON. */
  json(): Promise<unknown> {
    return this.#read().json();
  }

  /** Reads the whole body into a fresh ArrayBuffer. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#read().arrayBuffer();
  }

  /**
   * Throws the body away. The connection drains what is left (up to a bound) so it can be
   * reused, or closes it. Resolves once the exchange is over either way; never rejects.
   */
  dump(): Promise<void> {
    return this.#read().dump();
  }

  /** A reader starts: the queue keeps this object reachable while the connection feeds it. */
  #read(): BodyQueue {
    this.#queue.reader = this;
    return this.#queue;
  }
}

const EMPTY = new Uint8Array(0);

function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** One copy into an ArrayBuffer of its own. */
function copyToArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  // Faster than ArrayBuffer.prototype.slice, which looks up a species constructor.
  return new Uint8Array(bytes).buffer;
}

/** `bytes`' own ArrayBuffer when they fill it, else a copy. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : copyToArrayBuffer(bytes);
}

function givenUp(): BodyUsedError {
  return new BodyUsedError('the response body was given up (dump() or release) while being read');
}
