/**
 * Process lifetime over HTTP/2, seen the only way it shows: scripts run as child processes
 * that import the built library (dist/) and talk h2 to a node:http2 server in yet another
 * process (the fault server). A script that closes what it made exits at once; one that
 * forgets to close its pools and agents still exits by itself once its work is done (idle
 * sessions and the pools' timers are unref'd), as the README's "Process lifetime" promises for
 * HTTP/1.1; and work in progress on an h2 session (a request waiting for its answer, a body
 * still arriving, a lease never released) keeps the script alive.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  assertSettled,
  describeExit,
  SETTLE_PRELUDE,
  scriptRunner,
} from '../helpers/child-scripts.js';
import { type H2FaultServer, startH2FaultServer } from '../helpers/h2-fault-server.js';
import { sleep } from '../helpers/servers.js';

/** dist/index.js of this checkout, found from here whether this runs from test/ or build/test/. */
function distEntry(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json above this test');
    dir = parent;
  }
  return join(dir, 'dist', 'index.js');
}

const DIST = distEntry();

/** Every child script starts with the library, the settle prelude, and `id()`. */
const PRELUDE = `
import { Agent, ConnectionPool, fetch, getDefaultAgent, request, setDefaultAgent } from ${JSON.stringify(pathToFileURL(DIST).href)};
${SETTLE_PRELUDE}
const id = (name) => ({ headers: { 'x-request-id': name } });
`;

const run = scriptRunner('h2-process', PRELUDE, 15_000);

/**
 * h2 requests three ways: pools (h2c with prior knowledge, TLS with 'auto'), an Agent
 * (request() and fetch()), and the top-level request() and fetch() with a default agent set to
 * http2 'auto'. With `params.close` everything is closed at the end; without, nothing is. At
 * exit the script prints how many idle connections each pool still had.
 */
const THREE_WAYS = `
const tls = { ca: params.ca };
const options = { idleTimeout: num(params.idleTimeout) };
const h2c = new ConnectionPool(params.h2cOrigin, { ...options, http2: 'prior-knowledge' });
const several = await Promise.all([1, 2, 3].map((i) => h2c.request({ path: '/p' + i, ...id('h2c-' + i) })));
for (const res of several) console.log('pool h2c', res.httpVersion, await res.text());
const secure = new ConnectionPool(params.tlsOrigin, { ...options, http2: 'auto', tls });
const viaTls = await secure.request({ path: '/s', ...id('tls') });
console.log('pool tls', viaTls.httpVersion, await viaTls.text());
const agent = new Agent({ ...options, http2: 'auto', tls });
const viaAgent = await agent.request(params.tlsOrigin + '/a', id('agent'));
console.log('agent', viaAgent.httpVersion, await viaAgent.text());
const fetched = await agent.fetch(params.tlsOrigin + '/f', id('agent-fetch'));
console.log('agent fetch', fetched.status, await fetched.text());
setDefaultAgent(new Agent({ ...options, http2: 'auto', tls }));
const top = await request(params.tlsOrigin + '/t', id('top'));
console.log('top request', top.httpVersion, await top.text());
const topFetched = await fetch(params.tlsOrigin + '/tf', id('top-fetch'));
console.log('top fetch', topFetched.status, await topFetched.text());
const pools = () => ({
  h2c: h2c.stats(),
  secure: secure.stats(),
  agent: agent.stats()[params.tlsOrigin],
  top: getDefaultAgent().stats()[params.tlsOrigin],
});
process.on('exit', () => {
  const idle = Object.entries(pools()).map(([name, s]) => name + '=' + (s === undefined ? 'gone' : s.idle));
  console.log('at exit idle', idle.join(' '));
});
if (params.close) {
  await Promise.all([h2c.close(), secure.close(), agent.close(), getDefaultAgent().close()]);
  console.log('closed');
}
console.log('done');
settled();
`;

/** What {@link THREE_WAYS} prints on success, whatever it then does. */
const ANSWERS = [
  'pool h2c 2.0 ok h2c-1',
  'pool h2c 2.0 ok h2c-3',
  'pool tls 2.0 ok tls',
  'agent 2.0 ok agent',
  'agent fetch 200 ok agent-fetch',
  'top request 2.0 ok top',
  'top fetch 200 ok top-fetch',
];

describe('HTTP/2 and process lifetime', () => {
  let server: H2FaultServer;
  before(async () => {
    assert.ok(existsSync(DIST), `${DIST} is missing: npm run build first (npm test does)`);
    server = await startH2FaultServer();
  });
  after(() => server?.close());
  const params = (extra: Record<string, unknown> = {}) => ({
    h2cOrigin: server.h2cOrigin,
    tlsOrigin: server.tlsOrigin,
    ca: server.ca,
    ...extra,
  });

  test('a script that closes its pools and agents exits at once, with code 0', async () => {
    const sessionsBefore = (await server.stats()).sessions;
    const script = run(THREE_WAYS, params({ close: true, idleTimeout: 60_000 }));
    assertSettled(await script.exited, [...ANSWERS, 'closed', 'done']);
    // One session per pool: the h2c pool, the TLS pool, the agent's and the default agent's.
    assert.equal((await server.stats()).sessions - sessionsBefore, 4);
  });

  for (const idleTimeout of [undefined, 60_000, 'Infinity'] as const) {
    test(`a script that never closes anything still exits by itself (idleTimeout ${idleTimeout ?? 'default'})`, async () => {
      const script = run(THREE_WAYS, params({ close: false, idleTimeout }));
      const done = await script.line('done');
      const exit = await script.exited;
      // Every session was still open and idle at exit: the exit did not wait for them.
      assertSettled(exit, [...ANSWERS, 'done', 'at exit idle h2c=1 secure=1 agent=1 top=1']);
      assert.ok(!exit.stdout.includes('closed'));
      // Generous, and well below the idle timeout (4 s by default) the exit did not wait for.
      const waited = script.exitedAt() - done;
      assert.ok(waited < 2000, `exited ${waited.toFixed(0)} ms after its last request`);
    });
  }
});

describe('work in progress on an h2 session keeps the process alive', () => {
  let server: H2FaultServer;
  before(async () => {
    server = await startH2FaultServer();
  });
  after(() => server?.close());

  test('a request waiting for its answer, and a body still arriving, on a session that sat idle', async () => {
    // The session serves a request and goes idle (unref'd) first; then each answer takes a
    // while to come, and only the exchange in progress can keep the script alive.
    const script = run(
      `
const pool = new ConnectionPool(params.origin, { http2: 'prior-knowledge', idleTimeout: 60_000 });
await (await pool.request({ path: '/warm', ...id('warm') })).dump();
await new Promise((resolve) => setTimeout(resolve, 50));
const slow = await pool.request({ path: '/slow?delay=700', ...id('slow') });
console.log('slow', slow.httpVersion, await slow.text());
const drip = await pool.request({ path: '/drip?chunks=4&every=200', ...id('drip') });
console.log('drip', (await drip.text()).length, pool.stats().created);
settled();
`,
      { origin: server.h2cOrigin },
    );
    assertSettled(await script.exited, ['slow 2.0 ok slow', 'drip 4 1']);
  });

  test('an h2 stream lease that is never released keeps the script running', async () => {
    const script = run(
      `
const pool = new ConnectionPool(params.origin, { http2: 'prior-knowledge', idleTimeout: 60_000 });
await (await pool.request({ ...id('first') })).dump();
globalThis.lease = await pool.acquire();
console.log('leased', pool.stats().created, pool.stats().leased);
`,
      { origin: server.h2cOrigin },
    );
    await script.line('leased 1 1');
    await sleep(1500);
    assert.equal(script.child.exitCode, null, 'the child exited while holding a lease');
    script.kill();
    const exit = await script.exited;
    assert.equal(exit.killed, true, describeExit(exit));
  });

  test('a stream lease released after a while lets the script exit', async () => {
    const script = run(
      `
const pool = new ConnectionPool(params.origin, { http2: 'prior-knowledge', idleTimeout: 60_000 });
const lease = await pool.acquire();
const res = await lease.request({ ...id('leased') });
console.log('leased', res.httpVersion, await res.text());
setTimeout(() => { lease.release(); console.log('released'); settled(); }, 300);
`,
      { origin: server.h2cOrigin },
    );
    assertSettled(await script.exited, ['leased 2.0 ok leased', 'released']);
  });
});
