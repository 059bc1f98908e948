/**
 * The layering of src/, checked over the import graph: cli -> (package entry) -> client ->
 * pool | http1 | http2 -> http | net, with errors.ts and clock.ts at the root; data flows one way
 * and no room reaches sideways (http1 never sees pools or dialing, net never sees HTTP).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(process.cwd(), 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of every source file, as `src/`-relative paths. */
function importGraph(): Array<{ from: string; to: string }> {
  const edges: Array<{ from: string; to: string }> = [];
  for (const file of sources(root)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
      const target = resolve(dirname(file), match[1]!).replace(/\.js$/, '.ts');
      edges.push({ from: relative(root, file), to: relative(root, target) });
    }
  }
  return edges;
}

const layer = (path: string) => path.split('/')[0]!;

/**
 * The two leaves at the root of src/ that every room may use: errors, and the clock that
 * every timer below the client takes (so tests can drive time). Neither imports anything.
 */
const ROOT_LEAVES = ['errors.ts', 'clock.ts'];
const leaf = (to: string) => ROOT_LEAVES.includes(to);

/** What each room of src/ may import, besides itself. */
const allowed = {
  // The generic pool knows nothing of HTTP or sockets.
  pool: (to) => layer(to) === 'pool' || leaf(to),
  // What any protocol carries: request options, response, headers, bodies, semantics.
  http: (to) => layer(to) === 'http' || leaf(to),
  // HTTP/1.1 on one socket: no pools, no dialing, no policy.
  http1: (to) => ['http1', 'http'].includes(layer(to)) || leaf(to),
  // HTTP/2 on one session: no pools, no dialing, no policy, and nothing of HTTP/1.1.
  http2: (to) => ['http2', 'http'].includes(layer(to)) || leaf(to),
  // Opening sockets: no HTTP at all.
  net: (to) => layer(to) === 'net' || leaf(to),
  // Policy, where everything below meets; never the CLI.
  client: (to) =>
    ['client', 'pool', 'http', 'http1', 'http2', 'net'].includes(layer(to)) || leaf(to),
  // Programs use the public API only.
  cli: (to) => layer(to) === 'cli' || to === 'index.ts',
  // The test kit (httpool/testing) builds on the client and below; nothing builds on it.
  testing: (to) =>
    ['testing', 'client', 'pool', 'http', 'http1', 'http2', 'net'].includes(layer(to)) || leaf(to),
} satisfies Record<string, (to: string) => boolean>;

test('the layers of src/ import only downwards', () => {
  const edges = importGraph();
  assert.ok(edges.length > 30, `found only ${edges.length} imports: the scan is broken`);
  const wrong = edges.filter(({ from, to }) => {
    const rule = (allowed as Record<string, (to: string) => boolean>)[layer(from)];
    return rule !== undefined && !rule(to);
  });
  assert.deepEqual(wrong, []);
});

test('the rules refuse the edges the layout forbids', () => {
  assert.equal(allowed.http1('pool/resource-pool.ts'), false);
  assert.equal(allowed.http1('net/sockets.ts'), false);
  assert.equal(allowed.http('http1/parser.ts'), false);
  assert.equal(allowed.net('http/options.ts'), false);
  assert.equal(allowed.pool('http/body.ts'), false);
  assert.equal(allowed.client('cli/main.ts'), false);
  assert.equal(allowed.http2('http1/serializer.ts'), false);
  assert.equal(allowed.http1('http2/connection.ts'), false);
  assert.equal(allowed.http2('pool/resource-pool.ts'), false);
  assert.equal(allowed.client('net/sockets.ts'), true);
  assert.equal(allowed.client('testing/mock-agent.ts'), false);
  assert.equal(allowed.cli('testing/index.ts'), false);
  assert.equal(allowed.testing('client/agent.ts'), true);
  assert.equal(allowed.testing('index.ts'), false);
  assert.equal(allowed.testing('cli/main.ts'), false);
});

test('nothing outside src/testing imports it, so the package entry never loads it', () => {
  const edges = importGraph();
  const into = edges.filter(({ from, to }) => layer(to) === 'testing' && layer(from) !== 'testing');
  assert.deepEqual(into, []);
  // What the entry reaches, walked: no module of the test kit among it.
  const reached = new Set(['index.ts']);
  for (let grew = true; grew; ) {
    grew = false;
    for (const { from, to } of edges) {
      if (reached.has(from) && !reached.has(to)) {
        reached.add(to);
        grew = true;
      }
    }
  }
  assert.ok(reached.has('client/agent.ts') && reached.size > 20, 'the walk reached too little');
  assert.deepEqual(
    [...reached].filter((file) => layer(file) === 'testing'),
    [],
  );
  // A dynamic import would escape the walk: src/ has none.
  const dynamic = sources(root).filter((file) => /\bimport\s*\(/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(dynamic, []);
});

test('every source file lives in a room the layering knows', () => {
  const rooms = new Set(Object.keys(allowed));
  const stray = sources(root)
    .map((file) => relative(root, file))
    .filter((file) => !rooms.has(layer(file)) && ![...ROOT_LEAVES, 'index.ts'].includes(file));
  assert.deepEqual(stray, []);
});

test('the root leaves import nothing of the library', () => {
  const fromLeaves = importGraph().filter(({ from }) => ROOT_LEAVES.includes(from));
  assert.deepEqual(fromLeaves, []);
});

test('the import scan sees a forbidden edge when there is one', () => {
  // A guard on the guard: the pattern must catch the import forms the sources use.
  const sample = "import { x } from '../client/agent.js';\nexport { y } from './z.js';";
  const found = [...sample.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)].map(
    (m) => m[1],
  );
  assert.deepEqual(found, ['../client/agent.js', './z.js']);
});
