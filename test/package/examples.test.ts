/**
 * The programs in examples/ run as a user runs them: `node examples/server.mjs` in a child
 * process, then each example in a child of its own against it, importing the package by its
 * name (Node resolves a package's own name through package.json `exports` from inside it).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const root = process.cwd();
let server: ChildProcess | undefined;
let base = '';

before(async () => {
  server = spawn(process.execPath, [join(root, 'examples', 'server.mjs'), '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  server.stdout!.setEncoding('utf8');
  const listening = new Promise<string>((resolve, reject) => {
    server!.stdout!.on('data', (text: string) => {
      output += text;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match !== null) resolve(match[1]!);
    });
    server!.once('exit', (code) => reject(new Error(`example server exited (${code})`)));
  });
  const timeout = AbortSignal.timeout(20_000);
  base = await Promise.race([
    listening,
    once(timeout, 'abort').then(() => {
      throw new Error(`example server did not start: ${output}`);
    }),
  ]);
});

after(async () => {
  if (server === undefined || server.exitCode !== null) return;
  const exited = once(server, 'exit');
  server.kill('SIGTERM');
  await exited;
});

/** Runs `node examples/<name> <base-url> ...args`; rejects unless it exits with 0. */
async function runExample(name: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(root, 'examples', name), base, ...args],
    { cwd: root, timeout: 60_000 },
  );
  return stdout;
}

test('the crawler visits every page of the site over at most two connections', async () => {
  const out = await runExample('crawler.mjs', '200');
  assert.match(out, /^302 \/ -> \/pages\/0$/m);
  const summary = /^crawled (\d+) pages, 0 failed; (\d+) requests over (\d+) connections$/m.exec(
    out,
  );
  assert.ok(summary !== null, out);
  const [pages, requests, connections] = summary.slice(1).map(Number) as [number, number, number];
  // 30 pages, each also reached with a ?from= query; the redirect from / is one more request.
  assert.equal(pages, 60);
  assert.equal(requests, pages + 1);
  // perOrigin: { maxSize: 2 } for the crawled site.
  assert.ok(connections >= 1 && connections <= 2, `${connections} connections`);
  // Links were resolved against the page they came from, so nothing was missed or broken.
  assert.doesNotMatch(out, /^(404|failed) /m);
});

test('the crawler stops at its page budget', async () => {
  const out = await runExample('crawler.mjs', '10');
  assert.match(out, /^crawled 9 pages, 0 failed; 10 requests over [12] connections$/m);
});

test('the service client creates, reads, retries and tells failures apart by code', async () => {
  const out = await runExample('service-client.mjs');
  assert.deepEqual(out.trim().split('\n'), [
    'created item 1: first',
    'got item 1: first',
    'listed 2 items',
    'flaky endpoint: ok=true after retries',
    'missing item: API said 404: no such item',
    'slow endpoint: timed out while waiting for the answer',
  ]);
});

test('the streaming example uploads chunked and downloads to a file, bytes intact', async () => {
  const out = await runExample('streaming.mjs', '4');
  assert.deepEqual(out.trim().split('\n'), [
    "uploaded 4194304 bytes (chunked: true); server's sha256 matches",
    'downloaded 4194304 bytes to a temporary file; sha256 matches',
    'file on disk matches',
    '2 requests over 1 connection',
  ]);
});
