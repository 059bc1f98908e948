import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidStateError } from '../../src/errors.js';
import { BodyQueue } from '../../src/http/body.js';
import { BodyStore } from '../../src/http/body-store.js';

/** A read buffer of the kind the parser gives views of: shared, overwritten by the next read. */
const readBuffer = Buffer.alloc(64 * 1024);

/** `length` bytes of value `fill`, as a view of the shared read buffer (as the parser gives). */
function transient(length: number, fill: number): Uint8Array {
  const view = readBuffer.subarray(0, length);
  view.fill(fill);
  return view;
}

/** Every byte of `piece`'s whole ArrayBuffer is a body byte (`fill`) or zero. */
function assertOwnMemory(piece: Uint8Array, fill: number): void {
  const whole = new Uint8Array(piece.buffer);
  assert.ok(
    whole.every((byte) => byte === fill || byte === 0),
    'the memory holds only this body',
  );
  assert.ok(
    piece.every((byte) => byte === fill),
    'the piece is the body',
  );
}

/** Moves `buffer` away, as postMessage() with a transfer list does: it is left detached. */
function transfer(buffer: ArrayBufferLike): void {
  structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
  assert.equal(buffer.byteLength, 0);
}

type Step = { op: 'append' | 'copyOut'; length: number } | { op: 'shift' };

describe('BodyStore', () => {
  it('gives back every byte in order, in memory of its own, whatever the chunk sizes', () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({
        op: fc.constant('append' as const),
        length: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 20_000 })),
      }),
      fc.record({ op: fc.constant('copyOut' as const), length: fc.integer({ min: 1, max: 9000 }) }),
      fc.record({ op: fc.constant('shift' as const) }),
    );
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: -1 }),
        fc.array(step, { maxLength: 60 }),
        (expected, steps) => {
          const store = new BodyStore(expected);
          // Bytes numbered 1..250 in the order they went in, so order and loss both show.
          let next = 0;
          let taken = 0;
          const label = () => (next++ % 250) + 1;
          const check = (piece: Uint8Array) => {
            for (const byte of piece) assert.equal(byte, (taken++ % 250) + 1);
            const whole = new Uint8Array(piece.buffer);
            // Zeros, or bytes this store was given; never what the read buffer held after.
            assert.ok(whole.every((byte) => byte <= 250));
          };
          for (const s of steps) {
            if (s.op === 'shift') {
              const piece = store.shift();
              if (piece !== undefined) check(piece);
              continue;
            }
            const bytes = readBuffer.subarray(0, s.length);
            for (let i = 0; i < s.length; i++) bytes[i] = label();
            if (s.op === 'append' || store.pieceCount > 0) store.append(bytes);
            else check(store.copyOut(bytes));
            // The read buffer is overwritten at once, as the next socket read would.
            bytes.fill(0xff);
          }
          const rest = store.takeAll();
          check(rest);
          assert.equal(taken, next);
          assert.equal(store.queuedBytes, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  for (const [size, count] of [
    [1, 1_000_000],
    [3000, 300],
  ] as const) {
    it(`packs ${count} chunks of ${size} bytes into a few pieces, near the bytes in memory`, () => {
      const store = new BodyStore(-1);
      for (let i = 0; i < count; i++) store.append(transient(size, 7));
      const bytes = size * count;
      assert.equal(store.queuedBytes, bytes);
      // One piece per slab: the first chunk's, four growing ones, then one per 16 KiB.
      assert.ok(store.pieceCount <= 6 + bytes / 16_384, `${store.pieceCount} pieces`);
      const buffers = new Set<ArrayBufferLike>();
      let length = 0;
      for (let piece = store.shift(); piece !== undefined; piece = store.shift()) {
        assertOwnMemory(piece, 7);
        buffers.add(piece.buffer);
        length += piece.byteLength;
      }
      assert.equal(length, bytes);
      // Slabs are filled to their ends: only the last one has room left.
      const memory = [...buffers].reduce((sum, buffer) => sum + buffer.byteLength, 0);
      assert.ok(memory <= bytes + 16 * 1024, `${memory} bytes of memory for ${bytes}`);
    });
  }

  it('puts a body of known small length into one buffer of exactly that length', () => {
    const whole = new BodyStore(13);
    whole.append(transient(13, 5));
    assert.equal(whole.pieceCount, 1);
    const piece = whole.takeAll();
    assert.equal(piece.buffer.byteLength, 13);
    assertOwnMemory(piece, 5);

    // In parts, as reads split it: still one piece, one buffer, once it is all there.
    const parts = new BodyStore(16 * 1024);
    for (const length of [100, 9000, 7284]) parts.append(transient(length, 6));
    assert.equal(parts.pieceCount, 1);
    const joined = parts.takeAll();
    assert.equal(joined.byteLength, 16 * 1024);
    assert.equal(joined.buffer.byteLength, 16 * 1024);
    assertOwnMemory(joined, 6);
  });

  it('joins many pieces into one exact buffer', () => {
    const store = new BodyStore(-1);
    for (const length of [3, 5000, 1, 1, 700, 20_000, 2]) store.append(transient(length, 9));
    const joined = store.takeAll();
    assert.equal(joined.byteLength, 25_707);
    assert.equal(joined.buffer.byteLength, 25_707);
    assertOwnMemory(joined, 9);
    assert.equal(store.pieceCount, 0);
  });

  it('fails, rather than lose bytes, when a chunk sharing their memory was transferred', () => {
    const store = new BodyStore(-1);
    store.append(transient(1, 1)); // the first chunk: a buffer of its own
    store.append(transient(10, 2));
    store.shift();
    const handed = store.shift()!; // a view of the slab, which goes on filling
    store.append(transient(10, 3));
    transfer(handed.buffer);
    assert.throws(
      () => store.shift(),
      (error) => error instanceof InvalidStateError && error.code === 'ERR_INVALID_STATE',
    );

    // Nothing queued in the transferred memory: nothing lost, the next bytes go elsewhere.
    const clean = new BodyStore(-1);
    clean.append(transient(1, 1));
    clean.shift();
    const first = clean.copyOut(transient(10, 2));
    transfer(first.buffer);
    clean.append(transient(10, 3));
    const after = clean.takeAll();
    assertOwnMemory(after, 3);
    assert.equal(after.byteLength, 10);
  });

  it('a body whose queued bytes were transferred away fails its reader and gives up the rest', async () => {
    const calls: string[] = [];
    const queue = new BodyQueue({
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
      cancel: () => calls.push('cancel'),
      abandoned: () => calls.push('abandoned'),
    });
    const reader = queue[Symbol.asyncIterator]();
    queue.push(transient(1, 1));
    queue.push(transient(10, 2));
    await reader.next();
    const handed = (await reader.next()).value as Uint8Array;
    queue.push(transient(10, 3)); // queued in the memory `handed` shares
    transfer(handed.buffer);
    await assert.rejects(reader.next(), InvalidStateError);
    assert.deepEqual(calls, ['cancel']);
    assert.equal(queue.complete, false);
    await assert.rejects(reader.next(), InvalidStateError);
  });
});
