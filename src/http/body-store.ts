/**
 * Where the bytes of one response body live. Every chunk handed out is a view of memory that
 * holds this body's bytes and zeros, never another response's bytes (as Node's Buffer pool or a
 * read buffer would), so code that reaches `chunk.buffer` sees nothing it did not ask for. And
 * bytes are packed: a million one-byte chunks take a few views over a few slabs, not a million
 * objects.
 */

import { InvalidStateError } from '../errors.js';

/** Chunks at least this long get an ArrayBuffer of their own, handed over by arrayBuffer() as it is. */
const OWN_BUFFER_MIN = 4096;
/** A body of known length up to this goes into one ArrayBuffer of exactly that length. */
const WHOLE_BUFFER_MAX = 64 * 1024;
/** The first slab for small chunks; each next one is twice as large, up to {@link MAX_SLAB}. */
const FIRST_SLAB = 1024;
const MAX_SLAB = 16 * 1024;

/**
 * How the next chunk that does not fit the current slab is placed:
 * - `whole`: the body's length is known and small: one buffer of exactly that length takes it all;
 * - `first`: nothing stored yet, length unknown or large: the first chunk gets an exact buffer
 *   (a small body that comes in one chunk costs one allocation, as with a known length);
 * - `slabs`: small chunks are packed into slabs, large ones get buffers of their own.
 */
type Placement = 'whole' | 'first' | 'slabs';

/**
 * @internal The body bytes of one response: a FIFO of chunks, copied in from the transient
 * views the parser gives, packed so consecutive small chunks share one view.
 */
export class BodyStore {
  /** Pieces cut and queued, oldest first from {@link #head}. */
  #pieces: Buffer[] = [];
  #head = 0;
  /**
   * The slab being filled. Its bytes in [#cutAt, #filled) are queued after the pieces but not yet
   * cut into one: consecutive small chunks grow this run, not the piece count.
   */
  #slab: Buffer | undefined;
  #filled = 0;
  #cutAt = 0;
  #nextSlab = FIRST_SLAB;
  #placement: Placement;
  /**
   * A small body's first chunk kept in Node's shared Buffer pool, which costs far less than an
   * ArrayBuffer of its own: text() and json() read it in place, and it is never handed out as
   * it is ({@link shift} and {@link takeAll} hand out a copy of its own).
   */
  #pooled: Buffer | undefined;
  readonly #wholeLength: number;
  /** Bytes queued (not yet taken). */
  queuedBytes = 0;

  /** @param expectedLength the body's length when the head declares one, else -1 */
  constructor(expectedLength: number) {
    this.#wholeLength = expectedLength;
    this.#placement = expectedLength > 0 && expectedLength <= WHOLE_BUFFER_MAX ? 'whole' : 'first';
  }

  /** Pieces queued: each cut piece, and the run still growing in the slab. */
  get pieceCount(): number {
    return this.#pieces.length - this.#head + (this.#filled > this.#cutAt ? 1 : 0);
  }

  /** Queues a copy of `bytes` (which may be overwritten once the call returns). */
  append(bytes: Uint8Array): void {
    let length = bytes.byteLength;
    if (length === 0) return;
    this.queuedBytes += length;
    const slab = this.#slab;
    if (slab !== undefined) {
      const room = slab.byteLength - this.#filled;
      if (room >= length) {
        slab.set(bytes, this.#filled);
        this.#filled += length;
        return;
      }
      this.#checkAttached(slab);
      if (room > 0 && length < OWN_BUFFER_MIN) {
        // The slab is filled to its end and the next one takes the rest: slabs carry no gaps.
        slab.set(bytes.subarray(0, room), this.#filled);
        this.#filled += room;
        bytes = bytes.subarray(room);
        length -= room;
      }
    }
    this.#cutRun();
    const own = this.#makeRoom(length, false);
    if (own !== undefined) {
      own.set(bytes);
      this.#pieces.push(own);
    } else {
      this.#slab!.set(bytes);
      this.#filled = length;
    }
  }

  /**
   * A copy of `bytes` to hand out at once, queued nowhere. Only while nothing is queued (the
   * reader is waiting), so the order of bytes is kept.
   */
  copyOut(bytes: Uint8Array): Buffer {
    const length = bytes.byteLength;
    let slab = this.#slab;
    if (slab === undefined || slab.byteLength - this.#filled < length) {
      if (slab !== undefined) this.#checkAttached(slab);
      const own = this.#makeRoom(length, true);
      if (own !== undefined) {
        own.set(bytes);
        return own;
      }
      slab = this.#slab!;
    }
    const start = this.#filled;
    slab.set(bytes, start);
    this.#filled = this.#cutAt = start + length;
    return view(slab, start, length);
  }

  /** The oldest queued piece, to hand out, or undefined when nothing is queued. */
  shift(): Buffer | undefined {
    const piece = this.#next();
    return piece !== undefined && piece === this.#pooled ? this.#unpool(piece) : piece;
  }

  /** A copy of the pooled piece in memory of its own. */
  #unpool(piece: Buffer): Buffer {
    this.#pooled = undefined;
    const copy = Buffer.allocUnsafeSlow(piece.byteLength);
    copy.set(piece);
    return copy;
  }

  /** The oldest queued piece as it is stored, or undefined when nothing is queued. */
  #next(): Buffer | undefined {
    let piece: Buffer | undefined;
    if (this.#head < this.#pieces.length) {
      piece = this.#pieces[this.#head]!;
      // Queued pieces are never empty: this one's memory was transferred away.
      if (piece.byteLength === 0) throw lost();
      this.#pieces[this.#head++] = EMPTY;
      if (this.#head === this.#pieces.length) {
        this.#pieces = [];
        this.#head = 0;
      }
    } else if (this.#filled > this.#cutAt) {
      piece = this.#cut();
    } else return undefined;
    this.queuedBytes -= piece.byteLength;
    return piece;
  }

  /**
   * Everything queued as one Buffer, and the queue emptied: the one piece as it is, else an exact
   * copy, made while letting go of each piece so that at most the body's bytes twice are held.
   *
   * @param toRead the caller only reads the result (to decode it, or copy it), never hands it
   *   out: the result may then sit in Node's shared pool (a pooled piece, or a small join)
   */
  takeAll(toRead = false): Buffer {
    if (this.pieceCount <= 1) return (toRead ? this.#next() : this.shift()) ?? EMPTY;
    const joined = toRead
      ? Buffer.allocUnsafe(this.queuedBytes)
      : Buffer.allocUnsafeSlow(this.queuedBytes);
    let offset = 0;
    for (let piece = this.#next(); piece !== undefined; piece = this.#next()) {
      joined.set(piece, offset);
      offset += piece.byteLength;
    }
    // Nothing more goes into this store's slab: drop it too.
    this.clear();
    return joined;
  }

  /** Drops every byte. */
  clear(): void {
    this.#pieces = [];
    this.#head = 0;
    this.#slab = undefined;
    this.#pooled = undefined;
    this.#filled = this.#cutAt = 0;
    this.queuedBytes = 0;
  }

  /**
   * Room for a chunk of `length` bytes that does not fit the current slab: a buffer of exactly
   * that length for it alone (the caller fills it), or undefined once a new slab with room for it
   * is current. Any run in the old slab must have been cut.
   *
   * @param handedOut the chunk is handed out at once, so it may not go into the shared pool
   */
  #makeRoom(length: number, handedOut: boolean): Buffer | undefined {
    const placement = this.#placement;
    this.#placement = 'slabs';
    let size: number;
    if (placement === 'whole' && length <= this.#wholeLength) {
      if (length === this.#wholeLength) return this.#exact(length, handedOut);
      size = this.#wholeLength;
    } else if (placement === 'first' || length >= OWN_BUFFER_MIN) {
      return this.#exact(length, handedOut);
    } else {
      size = Math.max(length, this.#nextSlab);
      this.#nextSlab = Math.min(this.#nextSlab * 2, MAX_SLAB);
    }
    // Zeroed: until the body fills it, the rest of a slab must not show stale memory.
    this.#slab = Buffer.alloc(size);
    this.#filled = this.#cutAt = 0;
    return undefined;
  }

  /** A buffer of exactly `length` bytes for one chunk: pooled when small and kept in the queue. */
  #exact(length: number, handedOut: boolean): Buffer {
    if (handedOut || length >= OWN_BUFFER_MIN) return Buffer.allocUnsafeSlow(length);
    const piece = Buffer.allocUnsafe(length);
    this.#pooled = piece;
    return piece;
  }

  /**
   * A slab shares its ArrayBuffer with chunks already handed out, whose holder may transfer it
   * (postMessage, structuredClone), which leaves the slab empty: it is dropped, and bytes still
   * queued in it are lost, which fails the body rather than hand over less than arrived.
   */
  #checkAttached(slab: Buffer): void {
    if (slab.byteLength > 0) return;
    if (this.#filled > this.#cutAt) throw lost();
    this.#slab = undefined;
    this.#filled = this.#cutAt = 0;
  }

  /** Moves the growing run, if any, to the pieces. */
  #cutRun(): void {
    if (this.#filled > this.#cutAt) this.#pieces.push(this.#cut());
  }

  #cut(): Buffer {
    const slab = this.#slab!;
    this.#checkAttached(slab);
    const start = this.#cutAt;
    const length = this.#filled - start;
    this.#cutAt = this.#filled;
    return start === 0 && length === slab.byteLength ? slab : view(slab, start, length);
  }
}

const EMPTY = Buffer.alloc(0);

function lost(): InvalidStateError {
  return new InvalidStateError(
    'body bytes still queued were lost: the ArrayBuffer of a chunk read earlier was transferred, and they shared it',
  );
}

/** A Buffer over `length` bytes of `slab` from `start`. */
function view(slab: Buffer, start: number, length: number): Buffer {
  return Buffer.from(slab.buffer, slab.byteOffset + start, length);
}
