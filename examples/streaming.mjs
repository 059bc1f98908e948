// Streaming both ways over one ConnectionPool, in constant memory: an upload generated on the
// fly (sent chunked), and a download written to a file as it arrives. Backpressure holds on
// both sides: the upload is read only as fast as the socket takes it, and a slow disk pauses
// the socket instead of piling the download up in memory.
//
//   node examples/streaming.mjs <base-url> [size-in-MiB] [output-file]
//   node examples/streaming.mjs http://127.0.0.1:8080/ 16    (with examples/server.mjs running)
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConnectionPool } from 'httpool';

const base = new URL(process.argv[2] ?? 'http://127.0.0.1:8080/');
const size = Number(process.argv[3] ?? 8) * 1024 * 1024;
const scratch = process.argv[4] === undefined ? mkdtempSync(join(tmpdir(), 'httpool-')) : undefined;
const output = process.argv[4] ?? join(scratch, 'download.bin');

const pool = new ConnectionPool(base.origin, { maxSize: 2, bodyTimeout: 10_000 });

/** Yields `total` bytes of pseudo-random data in 64 KiB chunks, hashing what it yields. */
async function* generated(total, hash) {
  let state = 12345;
  for (let sent = 0; sent < total; ) {
    const chunk = new Uint8Array(Math.min(65_536, total - sent));
    for (let i = 0; i < chunk.length; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      chunk[i] = state >>> 24;
    }
    hash.update(chunk);
    sent += chunk.length;
    yield chunk;
  }
}

/** Passes bytes through while counting and hashing them. */
function meter(hash, counter) {
  return new Transform({
    transform(chunk, _encoding, done) {
      hash.update(chunk);
      counter.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

try {
  // Upload: an async iterable body has no known length, so it goes out chunked.
  const sentHash = createHash('sha256');
  const up = await pool.request({
    method: 'POST',
    path: '/upload',
    headers: { 'content-type': 'application/octet-stream' },
    body: generated(size, sentHash),
  });
  const receipt = await up.json();
  const sent = sentHash.digest('hex');
  console.log(
    `uploaded ${receipt.bytes} bytes (chunked: ${receipt.chunked}); ` +
      `server's sha256 ${receipt.sha256 === sent ? 'matches' : 'DIFFERS'}`,
  );

  // Download: the body is an async iterable of chunks; pipeline() writes each one and waits
  // for the file to take it before the next is read, so the socket pauses when the disk lags.
  const down = await pool.request({ path: `/download?size=${size}` });
  if (down.status !== 200) throw new Error(`download answered ${down.status}`);
  const gotHash = createHash('sha256');
  const counter = { bytes: 0 };
  await pipeline(down.body, meter(gotHash, counter), createWriteStream(output));
  const expected = down.headers.get('x-sha256');
  const ok = gotHash.digest('hex') === expected && statSync(output).size === size;
  console.log(
    `downloaded ${counter.bytes} bytes to ${scratch === undefined ? output : 'a temporary file'}; ` +
      `sha256 ${ok ? 'matches' : 'DIFFERS'}`,
  );
  // The saved file, read back piece by piece, is what the server sent.
  const fileHash = createHash('sha256');
  for await (const chunk of createReadStream(output)) fileHash.update(chunk);
  const saved = fileHash.digest('hex');
  console.log(`file on disk ${saved === expected ? 'matches' : 'DIFFERS'}`);
  const { created, requests } = pool.stats();
  console.log(`${requests} requests over ${created} connection${created === 1 ? '' : 's'}`);
  process.exitCode = receipt.sha256 === sent && ok && saved === expected ? 0 : 1;
} finally {
  await pool.close();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
}
