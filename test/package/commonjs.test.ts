/**
 * CommonJS consumers: the package is ES modules only, which `require()` loads on the Node
 * versions package.json `engines` admits (require(esm) is on by default from 20.19 and 22.12;
 * 20.18 fails with ERR_REQUIRE_ESM). Run in a child process, as a CommonJS program would be,
 * with the package installed under its name.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const root = process.cwd();
let dir = '';

/** A CommonJS program: require() the package, make a pool, send a request to its own server. */
const PROGRAM = `'use strict';
const { createServer } = require('node:http');
const httpool = require('httpool');
const { ConnectionPool, HttpoolError } = httpool;

const server = createServer((req, res) => res.end('hello from ' + req.url));
server.listen(0, '127.0.0.1', async () => {
  const pool = new ConnectionPool('http://127.0.0.1:' + server.address().port, { maxSize: 1 });
  try {
    const res = await pool.request({ path: '/cjs' });
    console.log(res.status, await res.text());
    // The same module instance as import() gives: one set of classes, not a copy.
    const esm = await import('httpool');
    console.log('same classes:', esm.ConnectionPool === ConnectionPool, esm.HttpoolError === HttpoolError);
  } finally {
    await pool.close();
    server.close();
  }
});
`;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'httpool-cjs-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'httpool'), 'dir');
  writeFileSync(join(dir, 'main.cjs'), PROGRAM);
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('require("httpool") from CommonJS loads the package and its classes work', async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(dir, 'main.cjs')], {
    cwd: dir,
    timeout: 30_000,
  });
  assert.equal(stdout, '200 hello from /cjs\nsame classes: true true\n');
  // No ExperimentalWarning or other noise for the CommonJS user.
  assert.equal(stderr, '');
});

test('engines admits no Node release on which require() of the package fails', () => {
  const { engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    engines: { node: string };
  };
  // require(esm) without a flag: 20.19+ on the 20 line, 22.12+ on 22, every later major.
  const match = /^>=(\d+)\.(\d+)(?:\.(\d+))?$/.exec(engines.node);
  assert.ok(match !== null, `engines.node is ${engines.node}, expected >=MAJOR.MINOR`);
  const [major, minor] = [Number(match[1]), Number(match[2])];
  assert.ok(
    major > 20 || (major === 20 && minor >= 19),
    `engines.node ${engines.node} admits 20.18`,
  );
  // And the Node running this test is one the package claims: the child above ran on it.
  const [runMajor, runMinor] = process.versions.node.split('.').map(Number) as [number, number];
  assert.ok(runMajor > major || (runMajor === major && runMinor >= minor));
});
