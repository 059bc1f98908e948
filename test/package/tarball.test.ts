/**
 * What `npm publish` would upload, from `npm pack --dry-run` (offline; lifecycle scripts
 * skipped so nothing is rebuilt under the other test files), and how the README reads on the
 * package page, where only absolute links work.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';

const root = process.cwd();
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, Record<string, string>>;
  repository: { url: string };
  homepage: string;
  bugs: { url: string };
  keywords: string[];
};

let files: string[] = [];

before(async () => {
  const { stdout } = await promisify(execFile)(
    'npm',
    ['pack', '--dry-run', '--json', '--ignore-scripts', '--offline'],
    { cwd: root, maxBuffer: 16 * 1024 * 1024 },
  );
  const [report] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
  files = report!.files.map((file) => file.path);
});

test('the tarball has the build, the README, the licence and the manifest', () => {
  for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']) {
    assert.ok(files.includes(file), `${file} is missing from ${files.join(', ')}`);
  }
  const pointed = [
    manifest.main,
    manifest.types,
    ...Object.values(manifest.bin),
    ...Object.values(manifest.exports).flatMap((conditions) => Object.values(conditions)),
  ].map((path) => posix.normalize(path));
  const missing = pointed.filter((path) => !files.includes(path));
  assert.deepEqual(missing, [], 'package.json points at files the tarball lacks');
});

test('the tarball has no tests, sources, benchmark or compiled tests', () => {
  const stray = files.filter(
    (file) =>
      !file.startsWith('dist/') &&
      !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(file),
  );
  assert.deepEqual(stray, []);
  // The command line's declarations are of no use to anyone importing the package.
  assert.deepEqual(
    files.filter((file) => file.startsWith('dist/cli/') && file.endsWith('.d.ts')),
    [],
  );
});

test('no shipped file points at a source map or a source the tarball lacks', () => {
  const shipped = new Set(files);
  const dangling: string[] = [];
  for (const file of files) {
    if (!/\.(js|d\.ts)$/.test(file)) continue;
    const text = readFileSync(join(root, file), 'utf8');
    const comment = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text);
    if (comment === null) continue;
    const map = posix.join(posix.dirname(file), comment[1]!);
    if (!shipped.has(map)) dangling.push(`${file} -> ${map}`);
  }
  for (const map of files.filter((file) => file.endsWith('.map'))) {
    const { sources = [] } = JSON.parse(readFileSync(join(root, map), 'utf8')) as {
      sources?: string[];
    };
    for (const source of sources) {
      const target = posix.join(posix.dirname(map), source);
      if (!shipped.has(target)) dangling.push(`${map} -> ${target}`);
    }
  }
  assert.deepEqual(dangling, []);
});

test('package.json names the repository, home page, issue tracker and keywords', () => {
  const repository = manifest.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
  assert.match(repository, /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
  assert.ok(manifest.homepage.startsWith(repository), manifest.homepage);
  assert.equal(manifest.bugs.url, `${repository}/issues`);
  assert.ok(manifest.keywords.length >= 5 && manifest.keywords.includes('http'));
});

test('every link in the README works from the package page', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const repository = manifest.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
  const slug = new URL(repository).pathname; // /owner/name
  const links = [...readme.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((match) => match[1]!);
  assert.ok(links.length >= 3, `found only ${links.length} links: the scan is broken`);
  const wrong: string[] = [];
  for (const link of links) {
    if (link.startsWith('#')) continue;
    if (!/^https?:\/\//.test(link)) {
      wrong.push(`${link}: relative links break on the package page`);
      continue;
    }
    // A link into this repository must name a file of its main branch that exists.
    const url = new URL(link);
    if (!url.pathname.startsWith(`${slug}/`)) continue;
    if (url.hostname !== 'github.com' && url.hostname !== 'raw.githubusercontent.com') continue;
    const file = /^\/[^/]+\/[^/]+\/(?:blob\/|tree\/)?main\/(.+)$/.exec(url.pathname)?.[1];
    if (url.pathname.endsWith('/issues')) continue;
    if (file === undefined) wrong.push(`${link}: not a file on the main branch`);
    else if (!existsSync(join(root, decodeURIComponent(file)))) wrong.push(`${link}: no ${file}`);
  }
  assert.deepEqual(wrong, []);
});
