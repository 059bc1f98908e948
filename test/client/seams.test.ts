/**
 * The seams between client modules, checked over the import graph: fetch() reaches the Agent
 * only through the interface it declares, so fetch.ts imports nothing that imports agent.ts
 * (type-only imports count), and the pool registry knows no pool but by its interface.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(process.cwd(), 'src');

/** The `src/`-relative files `file` imports (or re-exports from), type-only imports included. */
function importsOf(file: string): string[] {
  const path = resolve(root, file);
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)].map((match) =>
    relative(root, resolve(dirname(path), match[1]!).replace(/\.js$/, '.ts')),
  );
}

/** Every file `file` reaches through imports, each with the chain that first led to it. */
function reach(file: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[file, []]]);
  const queue = [file];
  while (queue.length > 0) {
    const from = queue.shift()!;
    for (const to of importsOf(from)) {
      if (seen.has(to)) continue;
      seen.set(to, [...seen.get(from)!, from]);
      queue.push(to);
    }
  }
  return seen;
}

const chain = (reached: Map<string, string[]>, file: string) =>
  [...(reached.get(file) ?? []), file].join(' > ');

test('fetch.ts reaches neither agent.ts nor connection-pool.ts, directly or through another module', () => {
  const reached = reach('client/fetch.ts');
  assert.ok(reached.has('client/redirect.ts'), 'the scan found none of fetch.ts imports');
  for (const file of ['client/agent.ts', 'client/connection-pool.ts']) {
    assert.ok(!reached.has(file), chain(reached, file));
  }
});

test('the registry imports no pool and no agent', () => {
  const reached = [...reach('client/registry.ts').keys()];
  assert.deepEqual(reached.sort(), ['client/registry.ts', 'clock.ts']);
});
