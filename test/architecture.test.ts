/**
 * The layering of src/ as DESIGN.md draws it, checked over the import graph: data flows
 * caller -> client -> pool / http1 -> socket, and no module reaches sideways.
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

test('the layers of src/ import only downwards', () => {
  const edges = importGraph();
  assert.ok(edges.length > 30, `found only ${edges.length} imports: the scan is broken`);
  const allowed: Record<string, (to: string) => boolean> = {
    // The generic pool knows nothing of HTTP or sockets.
    pool: (to) => layer(to) === 'pool' || to === 'errors.ts',
    // One HTTP/1.1 connection knows nothing of pools.
    http1: (to) => layer(to) === 'http1' || to === 'errors.ts',
    // Where the two meet; never the CLI.
    client: (to) => ['client', 'pool', 'http1', 'errors.ts'].includes(layer(to)),
    // Programs use the public API only.
    cli: (to) => layer(to) === 'cli' || to === 'index.ts',
  };
  const wrong = edges.filter(({ from, to }) => {
    const rule = allowed[layer(from)];
    return rule !== undefined && !rule(to);
  });
  assert.deepEqual(wrong, []);
});

test('the import scan sees a forbidden edge when there is one', () => {
  // A guard on the guard: the pattern must catch the import forms the sources use.
  const sample = "import { x } from '../client/agent.js';\nexport { y } from './z.js';";
  const found = [...sample.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)].map(
    (m) => m[1],
  );
  assert.deepEqual(found, ['../client/agent.js', './z.js']);
});
