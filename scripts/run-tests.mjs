// Runs every compiled test file under build/test with node's own test runner.
// Node 20's `--test` takes no globs, so the files are listed here.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(path));
    else if (entry.name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

// Filters are paths under the repository (`test/client`, `test/http1/parser`), matched as
// prefixes of the compiled file's path that end at a `/` or `.` (so `test/cli` is not
// `test/client`).
const filters = process.argv.slice(2).map((part) => join('build', part.replace(/\/+$/, '')));
const matches = (file) =>
  filters.some((prefix) => file.startsWith(prefix) && '/.'.includes(file[prefix.length] ?? '/'));
const files = findTests('build/test')
  .filter((f) => filters.length === 0 || matches(f))
  .sort();
if (files.length === 0) {
  console.error('no test files found under build/test');
  process.exit(1);
}
// A failing test can leave a server open behind it, which keeps its file running: the
// timeout (per test, and per file) cancels it, so nothing hangs CI. (--test-force-exit is
// not used: under load it can end the run before every file has reported.)
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-timeout=300000', ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
