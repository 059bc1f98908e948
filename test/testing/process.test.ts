/**
 * MockAgent and process lifetime, in child processes that import the built `httpool/testing`:
 * a script that never closes its mock exits by itself once its answers came (in-memory
 * connections idle like real ones), and a request still waiting on the mock keeps it alive.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertSettled,
  describeExit,
  SETTLE_PRELUDE,
  scriptRunner,
} from '../helpers/child-scripts.js';

// build/test/testing/process.test.js -> dist/testing/index.js
const TESTING = new URL('../../../dist/testing/index.js', import.meta.url).href;

const run = scriptRunner(
  'testing-process',
  `
import { MockAgent } from ${JSON.stringify(TESTING)};
${SETTLE_PRELUDE}`,
  10_000,
);

test('a script that never closes its MockAgent exits by itself once answered', async () => {
  const script = run(
    `
const agent = new MockAgent({ idleTimeout: num(params.idleTimeout) });
agent.intercept('http://api.test', { path: '/a' }).reply(200, 'first');
agent.intercept('http://api.test', { path: '/b' }).reply(200, 'second');
const a = await (await agent.request('http://api.test/a')).text();
const b = await (await agent.request('http://api.test/b')).text();
console.log('answered', a, b, agent.connectionsOpened);
settled();
`,
    { idleTimeout: 'Infinity' },
  );
  assertSettled(await script.exited, ['answered first second 1']);
});

test('a request waiting on a stalled mock keeps the script alive until its timeout', async () => {
  const script = run(
    `
const agent = new MockAgent({ headersTimeout: 300 });
agent.intercept('http://api.test', { path: '/' }).fault('stall');
const started = performance.now();
agent.request('http://api.test/').then(
  () => console.log('answered?'),
  (error) => {
    console.log('rejected', error.code, performance.now() - started >= 250);
    settled();
  },
);
`,
    {},
  );
  const exit = await script.exited;
  assertSettled(exit, ['rejected ERR_HEADERS_TIMEOUT true']);
  assert.ok(!exit.stdout.includes('answered?'), describeExit(exit));
});
