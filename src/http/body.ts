import { BodyUsedError } from '../errors.js';
import { BodyStore } from './body-store.js';

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

/** A whole-body read (bytes(), text(), ...) waiting for the end: bytes are gathered, not handed over. */
type Collector = {
  resolve: (bytes: Buffer) => void;
  reject: (error: Error) => void;
  /** The bytes are read (decoded, copied), not handed out: see BodyStore.takeAll. */
  toRead: boolean;
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
  /** The bytes not yet read, in memory of this body's own. */
  readonly #store: BodyStore;
  #paused = false;
  /** A chunk read waiting for bytes. */
  #waiter: Waiter | undefined;
  /** A whole-body read waiting for the end. */
  #collector: Collector | undefined;
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
   * @param source the connection feeding this body
   * @param expectedLength the body's length when the head declares one (a small body then
   *   takes one buffer of exactly its size), else -1
   */
  constructor(source: BodySource, expectedLength = -1) {
    this.#source = source;
    this.#store = new BodyStore(expectedLength);
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

  /**
   * Queues a copy of `chunk` for the reader; `chunk` itself may be overwritten once this
   * returns. Called by the connection.
   */
  push(chunk: Uint8Array): void {
    if (this.#ended || this.#error !== undefined || this.#dumping || chunk.byteLength === 0) {
      return;
    }
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value: this.#store.copyOut(chunk) });
      return;
    }
    this.#store.append(chunk);
    // A whole-body read takes everything: no backpressure.
    if (
      !this.#paused &&
      this.#collector === undefined &&
      this.#store.queuedBytes >= HIGH_WATER_MARK
    ) {
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
    if (waiter !== undefined) {
      // A waiting reader means nothing was queued.
      this.#waiter = undefined;
      waiter.resolve({ done: true, value: undefined });
    }
    const collector = this.#collector;
    if (collector !== undefined) {
      this.#collector = undefined;
      collector.resolve(this.#store.takeAll(collector.toRead));
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
    this.#drop(error);
    this.#settle();
  }

  /** The body has failed with `error`: no bytes kept, no read left waiting. */
  #drop(error: Error): void {
    this.#error = error;
    this.#unwatch();
    this.#store.clear();
    this.#rejectReaders(error);
  }

  /** Fails whichever read is waiting. */
  #rejectReaders(error: Error): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.reject(error);
    }
    const collector = this.#collector;
    if (collector !== undefined) {
      this.#collector = undefined;
      collector.reject(error);
    }
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
    const chunk = this.#store.shift();
    if (chunk === undefined) return undefined;
    if (this.#paused && this.#store.queuedBytes < HIGH_WATER_MARK / 2) {
      this.#paused = false;
      this.#source.resume();
    }
    return chunk;
  }

  #take(): Promise<IteratorResult<Uint8Array>> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#dumping) return Promise.reject(givenUp());
    let chunk: Uint8Array | undefined;
    try {
      chunk = this.#dequeue();
    } catch (error) {
      this.#lose(error as Error);
      return Promise.reject(error);
    }
    if (chunk !== undefined) return Promise.resolve({ done: false, value: chunk });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    if (this.#waiter !== undefined) {
      return Promise.reject(new BodyUsedError('concurrent reads of one response body'));
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /**
   * Queued bytes were lost (their memory was transferred away by the holder of a chunk that
   * shared it): the body fails, and the connection throws the rest away.
   */
  #lose(error: Error): void {
    this.#drop(error);
    if (!this.#ended) this.#source.cancel();
    this.#settle();
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
    if (this.#waiter !== undefined || this.#collector !== undefined) this.#rejectReaders(givenUp());
    this.#store.clear();
    if (this.#paused) {
      this.#paused = false;
      this.#source.resume();
    }
    this.#source.cancel();
  }

  /** Reads the whole body into one buffer. */
  bytes(): Promise<Uint8Array> {
    return this.#whole(false);
  }

  /**
   * @internal Claims the body and takes it at once when it is unread, has ended cleanly and
   * sits in the queue as one piece (a small response that arrived with its head); else
   * undefined, and nothing is claimed or taken. Spares one-shot readers a promise and a wait.
   */
  takeWhole(): Uint8Array | undefined {
    return this.#takeWhole(false);
  }

  /** {@link takeWhole}; `toRead` as for BodyStore.takeAll (the bytes are read, not handed out). */
  #takeWhole(toRead: boolean): Buffer | undefined {
    if (
      this.#used ||
      !this.#ended ||
      this.#error !== undefined ||
      this.#dumping ||
      this.#store.pieceCount !== 1
    ) {
      return undefined;
    }
    this.#used = true;
    return this.#store.takeAll(toRead);
  }

  /** The whole body as one buffer; `toRead` as for BodyStore.takeAll. */
  #whole(toRead: boolean): Promise<Buffer> {
    const whole = this.#takeWhole(toRead);
    if (whole !== undefined) return Promise.resolve(whole);
    if (this.#used) return Promise.reject(new BodyUsedError());
    this.#used = true;
    return this.#collect(toRead);
  }

  /**
   * The whole body as one buffer, once it has ended. Bytes arriving meanwhile are packed into
   * the store, not handed over one by one: at the end the store is joined (or its one piece
   * taken as it is), so memory stays near the body's size however the server chunked it.
   */
  #collect(toRead: boolean): Promise<Buffer> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#dumping) return Promise.reject(givenUp());
    if (this.#ended) return Promise.resolve(this.#store.takeAll(toRead));
    if (this.#paused) {
      // Everything is wanted now: the socket reads on.
      this.#paused = false;
      this.#source.resume();
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.#collector = { resolve, reject, toRead };
    });
  }

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    const whole = this.#takeWhole(true);
    if (whole !== undefined) return Promise.resolve(utf8(whole));
    return this.#whole(true).then(utf8);
  }

  /** Reads the whole body and parses it as JSON; `T` is what the caller expects, unchecked. */
  json<T = unknown>(): Promise<T> {
    const whole = this.#takeWhole(true);
    if (whole !== undefined) {
      try {
        return Promise.resolve(JSON.parse(utf8(whole)) as T);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#whole(true).then((bytes) => JSON.parse(utf8(bytes)) as T);
  }

  /** Reads the whole body into a fresh ArrayBuffer. */
  arrayBuffer(): Promise<ArrayBuffer> {
    // The store's memory is the body's own: a piece that fills its buffer is as good as a copy.
    const whole = this.#takeWhole(true);
    if (whole !== undefined) return Promise.resolve(ownBuffer(whole));
    return this.#whole(true).then(ownBuffer);
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

  /**
   * Reads the whole body and parses it as JSON. `T` only names what the caller expects
   * (`body.json<User>()`); nothing checks that the value has that shape.
   */
  json<T = unknown>(): Promise<T> {
    return this.#read().json<T>();
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

function utf8(bytes: Buffer): string {
  // Not through `.buffer`: a small Buffer's bytes may live on the V8 heap until it is asked for.
  return bytes.toString('utf8');
}

/** One copy into an ArrayBuffer of its own. */
function copyToArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  // Faster than ArrayBuffer.prototype.slice, which looks up a species constructor.
  return new Uint8Array(bytes).buffer;
}

/** `bytes`' own ArrayBuffer when they fill it (it holds nothing else), else a copy. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : copyToArrayBuffer(bytes);
}

function givenUp(): BodyUsedError {
  return new BodyUsedError('the response body was given up (dump() or release) while being read');
}
