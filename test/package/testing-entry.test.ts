/**
 * `httpool/testing` as a consumer gets it: resolved through package.json `exports` from the
 * build, by ES modules and CommonJS alike, sharing its classes with `httpool`; and importing
 * `httpool` alone loads none of it (watched by a module loader hook in a child process).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const root = process.cwd();
let dir = '';

const ESM = `
import assert from 'node:assert/strict';
import { Agent, HttpoolError } from 'httpool';
import { FakeClock, FaultServer, MockAgent, MockNotMatchedError } from 'httpool/testing';

const agent = new MockAgent({ clock: new FakeClock() });
agent.intercept('http://api.test', { path: '/hi' }).reply(200, 'hello');
const res = await agent.request('http://api.test/hi');
const error = await agent.request('http://api.test/nope').catch((e) => e);
await agent.close();
const server = await FaultServer.start({ schedule: ['connection-close'] });
const { ConnectionPool } = await import('httpool');
const pool = new ConnectionPool(server.origin);
const closed = await pool.request({ path: '/' });
await closed.dump();
await pool.close();
await server.close();
console.log(JSON.stringify({
  status: res.status,
  text: await res.text(),
  agent: agent instanceof Agent,
  typed: error instanceof MockNotMatchedError && error instanceof HttpoolError,
  fate: server.requests[0].fate,
}));
`;

const CJS = `'use strict';
const { Agent } = require('httpool');
const { MockAgent, FakeClock } = require('httpool/testing');
console.log(new MockAgent() instanceof Agent, typeof FakeClock);
`;

/** Records the URL of every module loaded, then imports `httpool` and prints what came. */
const WATCH = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
const loaded = [];
const hooks = \`
let port;
export function initialize(data) { port = data.port; }
export async function load(url, context, next) { port.postMessage(url); return next(url, context); }
\`;
register('data:text/javascript,' + encodeURIComponent(hooks), {
  data: { port: port2 },
  transferList: [port2],
});
const done = new Promise((resolve) => {
  port1.on('message', (url) => {
    loaded.push(url);
    if (url.includes('sentinel')) resolve();
  });
});
await import(process.argv[2]);
// Messages come in order: once the sentinel's is in, every earlier load has been reported.
await import('data:text/javascript,export const sentinel = 1;');
await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('no sentinel')), 10000))]);
port1.close();
console.log(JSON.stringify(loaded.filter((url) => url.startsWith('file:'))));
`;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'httpool-testing-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'httpool'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'esm.mjs'), ESM);
  writeFileSync(join(dir, 'cjs.cjs'), CJS);
  writeFileSync(join(dir, 'watch.mjs'), WATCH);
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

const run = async (...args: string[]) =>
  (await promisify(execFile)(process.execPath, args, { cwd: dir, timeout: 30_000 })).stdout;

test('import from httpool/testing: the mock, the fake clock and the fault server, sharing classes with httpool', async () => {
  const out = JSON.parse(await run(join(dir, 'esm.mjs'))) as Record<string, unknown>;
  assert.deepEqual(out, {
    status: 200,
    text: 'hello',
    agent: true,
    typed: true,
    fate: 'connection-close',
  });
});

test('require("httpool/testing") from CommonJS', async () => {
  assert.equal(await run(join(dir, 'cjs.cjs')), 'true function\n');
});

test('importing httpool loads no module of httpool/testing; importing httpool/testing does', async () => {
  const main = JSON.parse(await run(join(dir, 'watch.mjs'), 'httpool')) as string[];
  assert.ok(
    main.some((url) => url.endsWith('/dist/index.js')) &&
      main.some((url) => url.endsWith('/dist/client/agent.js')),
    `the watch saw too little: ${main.join(', ')}`,
  );
  assert.deepEqual(
    main.filter((url) => url.includes('/dist/testing/')),
    [],
  );
  // The watch sees the test kit when it is loaded: it would see it if the entry pulled it in.
  const kit = JSON.parse(await run(join(dir, 'watch.mjs'), 'httpool/testing')) as string[];
  assert.ok(
    kit.some((url) => url.endsWith('/dist/testing/mock-agent.js')),
    kit.join(', '),
  );
});
