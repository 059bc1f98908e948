/**
 * A CONTINUATION flood (RFC 9113 §6.10 has no bound; nghttp2 >= 1.61 sets one) gives a typed
 * error, bounded in time and memory. In a child process: on Node 20, node:http2's binding can
 * abort the process (`current_nghttp2_memory_ == 0` in ~Http2Session) when the session the
 * flood ended is garbage-collected, a Node bug outside httpool that Node 24 does not have. An
 * attempt that died that way before it could report is run again (at most three times); the
 * assertions are on what the client itself did.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./continuation-flood-child.js', import.meta.url));

interface FloodResult {
  typed: boolean;
  kind: string;
  ms: number;
  heapGrowth: number;
  leased: number;
  streams: number;
}

test('a CONTINUATION flood: a typed error, bounded in time and memory, nothing left leased', () => {
  let result: FloodResult | undefined;
  const crashes: string[] = [];
  for (let attempt = 0; attempt < 3 && result === undefined; attempt++) {
    const run = spawnSync(process.execPath, [child], { encoding: 'utf8', timeout: 30_000 });
    const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
    if (line !== undefined) result = JSON.parse(line) as FloodResult;
    else if (/current_nghttp2_memory_/.test(run.stderr)) crashes.push(`attempt ${attempt + 1}`);
    else assert.fail(`the child failed (status ${run.status}): ${run.stderr.slice(0, 2000)}`);
  }
  assert.ok(result !== undefined, `node:http2 aborted on every attempt: ${crashes.join(', ')}`);
  assert.ok(result.typed, result.kind);
  assert.ok(['SocketError', 'ResponseLimitError'].includes(result.kind), result.kind);
  assert.ok(result.ms < 10_000, `${result.ms} ms`);
  // Generous: only a block buffered in full (20,000 frames of fields) would approach this.
  assert.ok(result.heapGrowth < 64 * 1024 * 1024, `${result.heapGrowth} bytes`);
  assert.equal(result.leased, 0);
  assert.equal(result.streams, 0);
});
