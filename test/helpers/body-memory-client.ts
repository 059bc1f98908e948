/**
 * A client process for the body memory tests (run with --expose-gc): reads bodies of one-byte
 * chunks from the origin given and prints one JSON line of live memory figures (heap used plus
 * ArrayBuffers, after full collections), in bytes.
 *
 * Usage: node --expose-gc body-memory-client.js '{"origin":"http://...","mode":"text","chunks":N}'
 *
 * - `text` / `bytes`: one body of `chunks` one-byte chunks read whole; `peak` is the most memory
 *   seen by collections run every 20 ms while it is read, `final` the memory with the result
 *   held;
 * - `unread`: `responses` bodies of `chunks` one-byte chunks each, left unread once they have
 *   fully arrived; `final` is the memory they hold. They are then read, to check their bytes.
 */
import { ConnectionPool } from '../../src/index.js';

const {
  origin,
  mode,
  chunks,
  responses = 1,
} = JSON.parse(process.argv[2] ?? '{}') as {
  origin: string;
  mode: 'text' | 'bytes' | 'unread';
  chunks: number;
  responses?: number;
};
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

/**
 * Live memory: what is left after full collections. The memory of collected ArrayBuffers is
 * counted until it is swept, after the collection: the second one comes a turn later.
 */
async function live(): Promise<number> {
  gc!();
  await new Promise((resolve) => setImmediate(resolve));
  gc!();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

async function readWhole(pool: ConnectionPool, count: number): Promise<number> {
  const res = await pool.request({ path: `/ones?n=${count}` });
  if (mode === 'bytes') return (await res.bytes()).byteLength;
  return (await res.text()).length;
}

const pool = new ConnectionPool(origin, { maxSize: 1 });
try {
  // The code paths are compiled and the connection is open before the baseline is taken.
  await readWhole(pool, 20_000);
  const baseline = await live();
  if (mode === 'unread') {
    const held = [];
    for (let i = 0; i < responses; i++) {
      const res = await pool.request({ path: `/ones?n=${chunks}` });
      // Bounded: the whole body is on its way, each wait is one turn of the event loop.
      for (let turns = 0; !res.body.complete; turns++) {
        if (turns > 1_000_000) throw new Error('the body never arrived');
        await new Promise((resolve) => setImmediate(resolve));
      }
      held.push(res);
    }
    const final = await live();
    let bodyBytes = 0;
    for (const res of held) {
      const text = await res.text();
      if (text !== 'x'.repeat(chunks)) throw new Error('a body came back wrong');
      bodyBytes += text.length;
    }
    console.log(JSON.stringify({ baseline, final, bodyBytes }));
  } else {
    let peak = baseline;
    let samples = 0;
    let sampling = false;
    const sampler = setInterval(() => {
      if (sampling) return;
      sampling = true;
      void live().then((bytes) => {
        peak = Math.max(peak, bytes);
        samples++;
        sampling = false;
      });
    }, 20);
    let result: string | Uint8Array;
    const res = await pool.request({ path: `/ones?n=${chunks}` });
    try {
      result = mode === 'bytes' ? await res.bytes() : await res.text();
    } finally {
      clearInterval(sampler);
    }
    const final = await live();
    const expected = mode === 'bytes' ? 0x78 : 'x';
    for (const unit of [result[0], result[result.length - 1]]) {
      if (unit !== expected) throw new Error('the body came back wrong');
    }
    console.log(JSON.stringify({ baseline, peak, final, samples, bodyBytes: result.length }));
  }
} finally {
  await pool.destroy();
}
