/**
 * The command-line program, driven as a real process (`node dist/cli/main.js ...`) against
 * loopback servers started here: JSON output checked against what the servers saw, exit
 * statuses, usage errors, stdin input, saved file names, bench counts and the demo.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from '../../src/cli/bench.js';
import type { DemoResult } from '../../src/cli/demo.js';
import type { FetchSummary } from '../../src/cli/fetch.js';
import { startHttpServer, startRawServer, type TestServer } from '../helpers/servers.js';
import { makeCertificates, startTlsServer } from '../helpers/tls.js';

// build/test/cli/cli.test.js -> dist/cli/main.js
const MAIN = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../../../package.json', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr as the bytes written, for checks on what reaches a terminal. */
  bytes: Buffer;
}

/**
 * Runs the CLI with `args`, optionally writing `stdin`, killed after `timeoutMs`. `interrupt`
 * is polled every 20 ms; the first time it holds, the process gets a SIGINT (Ctrl-C).
 */
function cli(
  args: string[],
  options: {
    stdin?: string;
    timeoutMs?: number;
    interrupt?: () => boolean;
    pipeToTrue?: boolean;
  } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    // With `pipeToTrue`, stdout is a shell pipe into `true`, which exits at once without
    // reading (as `| head` does once it has its lines): the CLI's writes meet a closed pipe.
    const child = options.pipeToTrue
      ? spawn(
          'bash',
          ['-c', `"$0" "$@" | true; exit "\${PIPESTATUS[0]}"`, process.execPath, MAIN, ...args],
          {
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        )
      : spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const { interrupt } = options;
    const poll =
      interrupt === undefined
        ? undefined
        : setInterval(() => {
            if (!interrupt()) return;
            clearInterval(poll);
            child.kill('SIGINT');
          }, 20);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err.push(d);
      stderr += d.toString('latin1');
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`httpool ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, options.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      const [stdoutBytes, stderrBytes] = [Buffer.concat(out), Buffer.concat(err)];
      resolve({
        code,
        stdout: stdoutBytes.toString('utf8'),
        stderr: stderrBytes.toString('utf8'),
        bytes: Buffer.concat([stdoutBytes, stderrBytes]),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}

/**
 * Fails when what the CLI wrote holds a character a terminal would act on: a C0 control other
 * than the newline (ESC, CR, tab included), DEL, a C1 control (U+0080-U+009F, written as UTF-8)
 * or bytes that are not UTF-8 at all (an 8-bit terminal takes a raw 0x9B as CSI).
 */
function assertNoRawControls(run: Run, what: string): void {
  const text = run.bytes.toString('utf8');
  assert.ok(!text.includes('\ufffd'), `${what}: not UTF-8: ${JSON.stringify(text)}`);
  const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.exec(text);
  assert.equal(
    raw,
    null,
    `${what}: raw control ${JSON.stringify(raw?.[0])} in ${JSON.stringify(text)}`,
  );
}

function json<T>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}): ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

/**
 * Body of `/size/N` is N bytes; `/status/N` answers status N; `/slow` never answers;
 * `/redirect/REST` answers 302 to `/REST`.
 */
function handler(
  req: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
) {
  const url = req.url ?? '/';
  if (url.startsWith('/redirect/')) {
    res.writeHead(302, { location: url.slice('/redirect'.length), 'content-length': 0 });
    res.end();
    return;
  }
  const size = /^\/size\/(\d+)/.exec(url);
  const status = /^\/status\/(\d+)/.exec(url);
  if (url.startsWith('/slow')) return; // never answers
  const code = status === null ? 200 : Number(status[1]);
  const body = size === null ? `body of ${url}` : 'x'.repeat(Number(size[1]));
  res.writeHead(code, { 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

describe('httpool CLI', () => {
  const servers: TestServer[] = [];
  let a: TestServer;
  let b: TestServer;
  let dir: string;
  const fresh = async () => {
    const server = await startHttpServer(handler);
    servers.push(server);
    return server;
  };
  before(async () => {
    a = await fresh();
    b = await fresh();
    dir = await mkdtemp(join(tmpdir(), 'httpool-cli-'));
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  test('--help, COMMAND --help and --version', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: httpool COMMAND/);
    for (const command of ['fetch', 'bench', 'demo']) {
      const run = await cli([command, '--help']);
      assert.equal(run.code, 0, command);
      assert.match(run.stdout, new RegExp(`Usage: httpool ${command}`));
    }
    const fetchHelp = await cli(['fetch', '--help']);
    assert.match(fetchHelp.stdout, /HTTP_<status>/, 'documents what counts as failed');
    const version = await cli(['--version']);
    const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version: string };
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), pkg.version);
  });

  test('usage errors: one line on stderr, exit 2, nothing reaches the server', async () => {
    const server = await fresh();
    const url = `${server.origin}/size/10`;
    const cases: string[][] = [
      ['fetch', '--bogus', url],
      ['fetch', '--concurrency', 'abc', url],
      ['fetch', '--concurrency', '0', url],
      ['fetch', '--timeout', '1.5x', url],
      ['fetch', url, 'http://[not a url'],
      ['fetch', url, 'ftp://127.0.0.1/x'],
      ['fetch', '--input', join(dir, 'does-not-exist.txt')],
      ['fetch'],
      ['fetch', url, '--json=yes'],
      ['bench'],
      ['bench', url, url],
      ['bench', url, '--requests', 'many'],
      ['bench', url, '--duration', '100000'],
      ['bench', url, '--header', 'no colon here'],
      ['bench', url, '--method', 'GE T'],
      ['bench', url, '-A', 'a\u0007b'],
      ['fetch', url, '-X', 'GE T'],
      ['fetch', url, '--method', ''],
      ['fetch', url, '-H', 'no colon here'],
      ['fetch', url, '-H', 'Bad Name: x'],
      ['fetch', url, '-H', 'X-A: one\rtwo'],
      ['fetch', url, '--user-agent', 'a\nb'],
      ['fetch', url, '--concurrency', '-1'],
      ['fetch', url, '-t', '-5'],
      ['bench', url, '--body', `@${join(dir, 'missing-body')}`],
      ['demo', '--pages', '-3'],
      ['frobnicate'],
      ['--nope'],
    ];
    for (const args of cases) {
      const run = await cli(args);
      assert.equal(run.code, 2, `${args.join(' ')}: exit ${run.code}, stderr ${run.stderr}`);
      assert.equal(run.stdout, '', args.join(' '));
      const lines = run.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(lines[0]!, /^httpool: /);
    }
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.equal(server.requests, 0);
    assert.equal(server.connections, 0);
  });

  test('fetch --json: counts, bytes and connections match what the servers saw', async () => {
    const before = { a: a.requests, ac: a.connections, b: b.requests, bc: b.connections };
    const urls: string[] = [];
    let bytes = 0;
    for (let i = 0; i < 40; i++) {
      const size = 100 + i * 37;
      urls.push(`${(i % 2 === 0 ? a : b).origin}/size/${size}?i=${i}`);
      bytes += size;
    }
    const run = await cli([
      'fetch',
      '--json',
      '--concurrency',
      '8',
      '--max-per-origin',
      '2',
      ...urls,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const out = json<FetchSummary>(run);
    assert.equal(out.requests, 40);
    assert.equal(out.succeeded, 40);
    assert.equal(out.failed, 0);
    assert.equal(out.bytes, bytes);
    assert.deepEqual(out.errors, {});
    assert.equal(typeof out.durationMs, 'number');
    for (const [server, key] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const o = out.perOrigin[server.origin];
      assert.ok(o, `perOrigin has ${server.origin}`);
      assert.equal(o.requests, 20);
      assert.equal(o.succeeded, 20);
      assert.equal(o.requests, server.requests - before[key]);
      assert.equal(o.connectionsOpened, server.connections - before[`${key}c`]);
      assert.ok(o.connectionsOpened >= 1 && o.connectionsOpened <= 2, `${o.connectionsOpened}`);
      assert.ok(o.reuseRatio >= 0.85, `reuse ${o.reuseRatio}`);
      assert.ok(o.latency.p99 >= o.latency.p50);
    }
    assert.equal(out.connectionsOpened, a.connections - before.ac + (b.connections - before.bc));
  });

  test('fetch: failures are counted by code and never stop the others; exit 1', async () => {
    const closed = await fresh();
    const refused = `${closed.origin}/x`;
    await closed.close();
    const urls = [
      `${a.origin}/status/404`,
      `${a.origin}/status/500`,
      `${a.origin}/slow`,
      refused,
      ...Array.from({ length: 6 }, (_, i) => `${a.origin}/ok/${i}`),
    ];
    const run = await cli(['fetch', '--json', '--timeout', '300', ...urls]);
    assert.equal(run.code, 1, run.stderr);
    const out = json<FetchSummary>(run);
    assert.equal(out.requests, 10);
    assert.equal(out.succeeded, 6);
    assert.equal(out.failed, 4);
    assert.deepEqual(Object.fromEntries(Object.entries(out.errors).sort()), {
      ERR_SOCKET: 1,
      ERR_TIMEOUT: 1,
      HTTP_404: 1,
      HTTP_500: 1,
    });
    const codes = (out.failures as { url: string; code: string }[]).map(
      (f) => `${f.code} ${f.url}`,
    );
    assert.ok(codes.includes(`ERR_SOCKET ${refused}`), codes.join(', '));
    assert.ok(codes.includes(`ERR_TIMEOUT ${a.origin}/slow`), codes.join(', '));
    // Each failure is reported on stderr too.
    assert.match(run.stderr, /HTTP_404 .*\/status\/404/);
  });

  test("fetch: ERR_TIMEOUT is the library's RequestTimeoutError, naming where the time ran out", async () => {
    const half = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
    });
    servers.push(half);
    const run = await cli([
      'fetch',
      '--json',
      '--timeout',
      '300',
      `${a.origin}/slow`,
      `${half.origin}/`,
    ]);
    assert.equal(run.code, 1, run.stderr);
    const out = json<FetchSummary>(run);
    assert.deepEqual(out.errors, { ERR_TIMEOUT: 2 });
    const messages = Object.fromEntries(
      (out.failures as { url: string; message: string }[]).map((f) => [f.url, f.message]),
    );
    assert.match(messages[`${a.origin}/slow`]!, /within 300 ms \(waiting for the response head\)/);
    assert.match(messages[`${half.origin}/`]!, /within 300 ms \(receiving the response body\)/);
  });

  test('fetch --retry retries a 503 and then succeeds', async () => {
    let calls = 0;
    const flaky = await startHttpServer((_req, res) => {
      calls++;
      const status = calls === 1 ? 503 : 200;
      res.writeHead(status, { 'content-length': 2 });
      res.end('ok');
    });
    servers.push(flaky);
    const run = await cli(['fetch', '--json', '--retry', '2', `${flaky.origin}/r`]);
    assert.equal(run.code, 0, run.stderr);
    const out = json<FetchSummary>(run);
    assert.equal(out.succeeded, 1);
    assert.equal(flaky.requests, 2);
    assert.equal(out.perOrigin[flaky.origin]?.requestsSent, 2);
  });

  test('fetch --follow follows redirects; without it a 3xx counts as it is', async () => {
    const server = await fresh();
    const url = `${server.origin}/redirect/redirect/size/7`;
    const plain = json<FetchSummary>(await cli(['fetch', url, '--json']));
    assert.equal(plain.succeeded, 1);
    assert.equal(plain.bytes, 0);
    const run = await cli(['fetch', url, '--follow', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const followed = json<FetchSummary>(run);
    assert.equal(followed.succeeded, 1);
    assert.equal(followed.bytes, 7);
    assert.equal(server.requests, 1 + 3);
    const loop = await cli(['fetch', `${server.origin}/redirect${'/redirect'.repeat(25)}/x`, '-L']);
    assert.equal(loop.code, 1);
    assert.match(loop.stdout, /ERR_REDIRECT 1/);
  });

  test("a reader that closes stdout early (| head) is no crash: no stack, the run's status", async () => {
    // demo prints a line, then works for a while: the error of that first write arrives.
    for (const [args, status] of [
      [['demo', '--pages', '20'], 0],
      [['fetch', `${a.origin}/size/3`], 0],
      [['fetch', `${a.origin}/status/404`, '--json'], 1],
    ] as const) {
      const run = await cli([...args], { pipeToTrue: true });
      assert.doesNotMatch(run.stderr, /EPIPE|Error/, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.code, status, `${args.join(' ')}: ${run.stderr}`);
    }
  });

  test('fetch --input - reads URLs from stdin (blank lines and comments skipped)', async () => {
    const server = await fresh();
    const stdin = `# a list\n${server.origin}/size/5\n\n  ${server.origin}/size/7  \r\n${server.origin}/size/11\n`;
    const run = await cli(['fetch', '--input', '-', '--json'], { stdin });
    assert.equal(run.code, 0, run.stderr);
    const out = json<FetchSummary>(run);
    assert.equal(out.requests, 3);
    assert.equal(out.bytes, 23);
    assert.equal(server.requests, 3);
  });

  test('fetch without --json prints a table per origin', async () => {
    const run = await cli(['fetch', `${a.origin}/size/3`, `${b.origin}/status/404`]);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /origin\s+requests\s+ok\s+failed\s+bytes\s+conns\s+reuse\s+p50\s+p99\s+req\/s/,
    );
    assert.ok(run.stdout.includes(a.origin) && run.stdout.includes(b.origin));
    assert.match(run.stdout, /errors: HTTP_404 1/);
  });

  test('fetch --output writes bodies under safe, unique names inside DIR', async () => {
    const out = join(dir, 'saved');
    const server = await fresh();
    const o = server.origin;
    const urls = [
      `${o}/a/../../../etc/passwd`,
      `${o}/%2e%2e/%2e%2e/x?q=1&next=../../y`,
      `${o}/dir/page.html?x=1`,
      `${o}/dir/page.html?x=2`,
      `${o}/dir/page.html?x=1`, // the same URL twice: two files, no clash
      `${o}/weird/na me%00<>|:*"?.txt`,
      `${o}/${'long'.repeat(100)}`,
      `${o}/`,
      `${o}/status/404`, // not saved
    ];
    const run = await cli(['fetch', '--json', '--output', out, ...urls]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(json<FetchSummary>(run).saved, 8);
    const names = await readdir(out);
    assert.equal(names.length, 8, names.join(', '));
    assert.equal(new Set(names).size, 8);
    for (const name of names) {
      assert.match(name, /^[A-Za-z0-9][A-Za-z0-9._-]*$/, name);
      assert.ok(!name.includes('..'), name);
      assert.ok(name.length <= 120, name);
    }
    // Nothing was written outside DIR.
    assert.deepEqual((await readdir(dir)).sort(), ['saved']);
    const html = names.filter((n) => n.includes('dir_page') && n.endsWith('.html'));
    assert.equal(html.length, 3, names.join(', '));
    const contents = await Promise.all(html.map((n) => readFile(join(out, n), 'utf8')));
    assert.deepEqual(contents.sort(), [
      'body of /dir/page.html?x=1',
      'body of /dir/page.html?x=1',
      'body of /dir/page.html?x=2',
    ]);
  });

  test('fetch escapes controls from a server: reason phrases (Latin-1 and UTF-8 C1), ESC', async () => {
    const server = await startRawServer((socket, head) => {
      const path = head.split(' ')[1] ?? '/';
      // 0x9B alone is U+009B read as Latin-1; C2 9B is U+009B in UTF-8 (read as "Â" + U+009B).
      const reason = {
        '/latin1': Buffer.from([0x4e, 0x6f, 0x9b, 0x32, 0x4a, 0x20, 0x5c, 0x78, 0x31, 0x62]),
        '/utf8': Buffer.from('Gone \u009b31m', 'utf8'),
        '/esc': Buffer.from('Bad \x1b[2J', 'latin1'),
        '/tab': Buffer.from('Tab\there', 'latin1'),
      }[path];
      if (reason === undefined) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        return;
      }
      socket.write(
        Buffer.concat([
          Buffer.from('HTTP/1.1 404 ', 'latin1'),
          reason,
          Buffer.from('\r\ncontent-length: 0\r\n\r\n', 'latin1'),
        ]),
      );
    });
    servers.push(server);
    const urls = ['/latin1', '/utf8', '/esc', '/tab', '/ok'].map((p) => `${server.origin}${p}`);
    const run = await cli(['fetch', ...urls]);
    assert.equal(run.code, 1, run.stderr);
    assertNoRawControls(run, 'fetch');
    // The escapes are visible and unambiguous: a literal backslash from the server is doubled.
    assert.ok(run.stderr.includes('(404 No\\u009b2J \\\\x1b)'), run.stderr);
    assert.ok(run.stderr.includes('(404 Gone \u00c2\\u009b31m)'), run.stderr);
    assert.ok(run.stderr.includes('(404 Tab\\there)'), run.stderr);
    assert.match(run.stderr, /ERR_INVALID_RESPONSE .*\/esc/, 'ESC is refused by the parser');
    // --json stays exact: the reason phrase as the server sent it (JSON escapes C0 itself).
    const out = json<FetchSummary>(await cli(['fetch', '--json', ...urls]));
    const messages = out.failures.map((f) => f.message);
    assert.ok(messages.includes('404 No\u009b2J \\x1b'), JSON.stringify(messages));
    assert.ok(messages.includes('404 Gone \u00c2\u009b31m'), JSON.stringify(messages));
  });

  test('fetch escapes controls in redirect targets and --input lines', async () => {
    const server = await startRawServer((socket, head) => {
      const path = head.split(' ')[1] ?? '/';
      const location = {
        '/to-c1-path': Buffer.from('/a\u009bb\\c', 'latin1'),
        '/to-c1-host': Buffer.from('http://a\u009bb.test/', 'latin1'),
        '/to-esc': Buffer.from('/a\x1b[31mb', 'latin1'),
      }[path];
      if (location === undefined) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        return;
      }
      socket.write(
        Buffer.concat([
          Buffer.from('HTTP/1.1 302 Found\r\nlocation: ', 'latin1'),
          location,
          Buffer.from('\r\ncontent-length: 0\r\n\r\n', 'latin1'),
        ]),
      );
    });
    servers.push(server);
    const redirects = ['/to-c1-path', '/to-c1-host', '/to-esc'].map((p) => `${server.origin}${p}`);
    for (const follow of [[], ['--follow']]) {
      const run = await cli(['fetch', ...follow, ...redirects]);
      assertNoRawControls(run, `fetch ${follow.join(' ')}`);
    }
    // An input line with ESC and U+009B (as UTF-8) is reported, escaped, with its line number.
    const input = join(dir, 'controls.txt');
    await writeFile(input, `${server.origin}/ok\nnot\x1b[2J a \u009b[31m url\\x1b\n`);
    const run = await cli(['fetch', '--input', input]);
    assertNoRawControls(run, 'fetch --input');
    assert.ok(
      run.stderr.includes(
        'line 2: not a valid URL: "not\\x1b[2J a \\u009b[31m url\\\\x1b" (skipped)',
      ),
      run.stderr,
    );
  });

  test('fetch --input: a bad line is reported with its number and skipped; the rest is fetched; exit 1', async () => {
    const server = await fresh();
    const input = join(dir, 'bad-line.txt');
    await writeFile(
      input,
      [
        '# urls',
        `${server.origin}/size/5`,
        'not a url at all',
        `${server.origin}/size/7`,
        'ftp://127.0.0.1/x',
        `${server.origin}/size/11`,
        '',
      ].join('\n'),
    );
    const run = await cli(['fetch', '--input', input, '--json']);
    assert.equal(run.code, 1, run.stderr);
    const out = json<FetchSummary>(run);
    assert.equal(out.requests, 3);
    assert.equal(out.succeeded, 3);
    assert.equal(out.failed, 0);
    assert.equal(out.bytes, 23);
    assert.equal(server.requests, 3);
    assert.deepEqual(
      out.inputErrors.map((e) => [e.line, e.text]),
      [
        [3, 'not a url at all'],
        [5, 'ftp://127.0.0.1/x'],
      ],
    );
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 2, run.stderr);
    assert.match(
      lines[0]!,
      /^httpool: .*bad-line\.txt line 3: not a valid URL: "not a url at all" \(skipped\)$/,
    );
    assert.match(lines[1]!, /line 5: only http: and https: URLs are supported/);
    const text = await cli(['fetch', '--input', input]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /3 URLs in .*: 3 ok, 0 failed; 2 input lines skipped/);
    // Only bad lines: nothing to send, a usage error.
    await writeFile(join(dir, 'all-bad.txt'), 'nope\n');
    const none = await cli(['fetch', '--input', join(dir, 'all-bad.txt')]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no valid URL: 1 input line skipped/);
  });

  test('fetch -X, -H, -A reach the server; the default User-Agent is httpool/<version>', async () => {
    const seen: { method: string; headers: import('node:http').IncomingHttpHeaders }[] = [];
    const server = await startHttpServer((req, res) => {
      seen.push({ method: req.method ?? '', headers: req.headers });
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    });
    servers.push(server);
    const url = `${server.origin}/h`;
    const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version: string };

    assert.equal((await cli(['fetch', url])).code, 0);
    assert.equal(seen.at(-1)?.method, 'GET');
    assert.equal(seen.at(-1)?.headers['user-agent'], `httpool/${pkg.version}`);

    const run = await cli([
      'fetch',
      url,
      '-X',
      'PUT',
      '-H',
      'X-One: 1',
      '--header',
      'X-Two:  two words ',
      '-H',
      'X-Utf8: café',
      '-A',
      'my-crawler/2.0',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const last = seen.at(-1)!;
    assert.equal(last.method, 'PUT');
    assert.equal(last.headers['x-one'], '1');
    assert.equal(last.headers['x-two'], 'two words');
    // node:http reads header bytes as Latin-1: the value went out as UTF-8 bytes.
    assert.equal(Buffer.from(String(last.headers['x-utf8']), 'latin1').toString('utf8'), 'café');
    assert.equal(last.headers['user-agent'], 'my-crawler/2.0');

    await cli(['fetch', url, '-A', 'ignored', '-H', 'user-agent: from-header']);
    assert.equal(seen.at(-1)?.headers['user-agent'], 'from-header');
    await cli(['fetch', url, '-A', '']);
    assert.equal(seen.at(-1)?.headers['user-agent'], undefined, "-A '' sends none");
    assert.equal(seen.length, 4);
  });

  test('fetch -k reaches a server whose certificate is not trusted; without it, ERR_SOCKET', async () => {
    const tls = await startTlsServer(makeCertificates());
    try {
      const url = `https://127.0.0.1:${tls.port}/secure`;
      const strict = json<FetchSummary>(await cli(['fetch', url, '--json']));
      assert.deepEqual(strict.errors, { ERR_SOCKET: 1 });
      assert.equal(tls.requests, 0);
      const run = await cli(['fetch', url, '-k', '--json']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(json<FetchSummary>(run).bytes, '/secure'.length);
      assert.equal(tls.requests, 1);
      assert.equal(run.stderr, '');
      assert.equal((await cli(['fetch', url, '--insecure', '--json'])).code, 0);
      assert.equal(tls.requests, 2);
    } finally {
      await tls.close();
    }
  });

  test('fetch --output: a URL without an extension gets one from its Content-Type', async () => {
    const types: Record<string, string> = {
      '/api/users': 'application/json; charset=utf-8',
      '/page': 'Text/HTML',
      '/': 'text/html',
      '/logo': 'image/png',
      '/odd': 'application/x-unknown',
      '/notes.txt': 'application/json', // the URL's own extension wins
      '/none': '',
    };
    const server = await startHttpServer((req, res) => {
      const type = types[req.url ?? ''];
      res.writeHead(
        200,
        type ? { 'content-type': type, 'content-length': 1 } : { 'content-length': 1 },
      );
      res.end('x');
    });
    servers.push(server);
    const out = join(dir, 'typed');
    const run = await cli([
      'fetch',
      '--output',
      out,
      ...Object.keys(types).map((p) => `${server.origin}${p}`),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const names = (await readdir(out)).sort();
    const ext = (part: string) =>
      names
        .find((n) => n.startsWith(`127.0.0.1_${server.port}${part}-`))
        ?.replace(/^[^.]*(\.[^-]*)?-[0-9a-f]{10}/, '');
    assert.equal(names.length, 7, names.join(', '));
    assert.equal(ext('_api_users'), '.json');
    assert.equal(ext('_page'), '.html');
    assert.equal(ext(''), '.html');
    assert.equal(ext('_logo'), '.png');
    assert.equal(ext('_odd'), '');
    assert.equal(ext('_notes'), '.txt');
    assert.equal(ext('_none'), '');
  });

  test('counts are singular for one: "1 URL", "1 request", "1 connection"', async () => {
    const fetched = await cli(['fetch', `${a.origin}/size/1`]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.match(fetched.stdout, /\n1 URL in /);
    const two = await cli(['fetch', `${a.origin}/size/1`, `${a.origin}/size/2`]);
    assert.match(two.stdout, /\n2 URLs in /);
    const bench = await cli(['bench', `${a.origin}/size/1`, '-n', '1', '-c', '1']);
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout, /: 1 connection, 1 in flight/);
    assert.match(bench.stdout, /\n1 request in /);
    const demo = await cli(['demo', '--pages', '1', '--concurrency', '1', '--max-per-origin', '1']);
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(
      demo.stdout,
      /\(1 page and its images\)\nat .*, 1 request in flight, at most 1 connection\./,
    );
  });

  test('a negative number gets a plain message saying the range', async () => {
    const url = `${a.origin}/size/1`;
    for (const [args, message] of [
      [
        ['fetch', url, '--concurrency', '-1'],
        '--concurrency must be an integer from 1 to 10000, got "-1"',
      ],
      [['fetch', url, '-c', '-1'], '--concurrency must be an integer from 1 to 10000, got "-1"'],
      [['fetch', url, '--retry', '-2'], '--retry must be an integer from 0 to 10, got "-2"'],
      [
        ['bench', url, '-d', '-0.5'],
        '--duration must be a number greater than 0 and at most 600, got "-0.5"',
      ],
      [['demo', '--pages', '-3'], '--pages must be an integer'],
    ] as const) {
      const run = await cli([...args]);
      assert.equal(run.code, 2, args.join(' '));
      assert.ok(run.stderr.startsWith(`httpool: ${message}`), `${args.join(' ')}: ${run.stderr}`);
    }
  });

  test('bench --requests 500 --json: counts match the server', async () => {
    const server = await fresh();
    const run = await cli([
      'bench',
      `${server.origin}/size/64`,
      '--requests',
      '500',
      '--connections',
      '4',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const out = json<BenchResult>(run);
    assert.equal(out.requests, 500);
    assert.equal(server.requests, 500);
    assert.equal(out.bytes, 500 * 64);
    assert.equal(out.connectionsOpened, server.connections);
    assert.ok(server.connections >= 1 && server.connections <= 4, `${server.connections}`);
    assert.deepEqual(out.errors, {});
    assert.ok((out.requestsPerSecond ?? 0) > 0);
    const l = out.latency;
    for (const k of ['p50', 'p90', 'p99', 'max'] as const) assert.equal(typeof l[k], 'number', k);
    assert.ok(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    assert.equal(run.stderr, '', 'no progress line when stderr is not a terminal');
  });

  test('bench sends the method, headers and body given; errors by status; exit 1', async () => {
    const seen: string[] = [];
    const server = await startHttpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        body += d;
      });
      req.on('end', () => {
        seen.push(`${req.method} ${req.headers['x-test']} ${req.headers['user-agent']} ${body}`);
        res.writeHead(seen.length % 2 === 0 ? 500 : 200, { 'content-length': 0 });
        res.end();
      });
    });
    servers.push(server);
    await writeFile(join(dir, 'body.json'), '{"a":1}');
    const run = await cli([
      'bench',
      `${server.origin}/post`,
      '-n',
      '20',
      '-c',
      '2',
      '--method',
      'POST',
      '--header',
      'X-Test: yes',
      '--body',
      `@${join(dir, 'body.json')}`,
      '--json',
    ]);
    assert.equal(run.code, 1, run.stderr);
    const out = json<BenchResult>(run);
    assert.equal(out.requests, 20);
    assert.deepEqual(out.errors, { HTTP_500: 10 });
    assert.equal(out.failed, 10);
    const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version: string };
    assert.deepEqual(new Set(seen), new Set([`POST yes httpool/${pkg.version} {"a":1}`]));
    assert.equal(seen.length, 20);
  });

  test('bench -A sets the User-Agent; -k reaches a server whose certificate is not trusted', async () => {
    const agents: (string | undefined)[] = [];
    const server = await startHttpServer((req, res) => {
      agents.push(req.headers['user-agent']);
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    });
    servers.push(server);
    assert.equal((await cli(['bench', server.origin, '-n', '3', '-A', 'load/1'])).code, 0);
    assert.equal((await cli(['bench', server.origin, '-n', '2', '-A', ''])).code, 0);
    assert.deepEqual(agents, ['load/1', 'load/1', 'load/1', undefined, undefined]);
    const tls = await startTlsServer(makeCertificates());
    try {
      const url = `https://127.0.0.1:${tls.port}/b`;
      const strict = json<BenchResult>(await cli(['bench', url, '-n', '2', '-c', '1', '--json']));
      assert.deepEqual(strict.errors, { ERR_SOCKET: 2 });
      const run = await cli(['bench', url, '-n', '4', '-c', '1', '-k', '--json']);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(json<BenchResult>(run).statusCodes, { 200: 4 });
      assert.equal(tls.requests, 4);
    } finally {
      await tls.close();
    }
  });

  test('bench against a port where nothing listens: errors by code, no request rate, exit 1', async () => {
    const closed = await fresh();
    const url = `${closed.origin}/x`;
    await closed.close();
    const run = await cli(['bench', url, '-n', '20', '-c', '2', '--json']);
    assert.equal(run.code, 1, run.stderr);
    const out = json<BenchResult>(run);
    assert.equal(out.requests, 20);
    assert.equal(out.failed, 20);
    assert.deepEqual(out.errors, { ERR_SOCKET: 20 });
    assert.equal(out.requestsPerSecond, null);
    assert.match(out.firstError ?? '', /ECONNREFUSED/);
    const text = await cli(['bench', url, '-n', '20', '-c', '2']);
    assert.equal(text.code, 1);
    assert.doesNotMatch(text.stdout, /[\d.]+ req\/s/);
    assert.match(text.stdout, /20 requests in .*: none succeeded, no request rate/);
    assert.match(text.stdout, /errors: ERR_SOCKET 20/);
    assert.match(text.stdout, /first error: .*ECONNREFUSED/);
  });

  test('bench --duration stops in time and counts what the server saw', async () => {
    const server = await fresh();
    const started = Date.now();
    const run = await cli([
      'bench',
      `${server.origin}/d`,
      '--duration',
      '0.4',
      '-c',
      '2',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const out = json<BenchResult>(run);
    assert.ok(out.requests > 0);
    assert.equal(out.requests, server.requests);
    assert.ok(out.durationMs < 2000, `${out.durationMs}`);
    assert.ok(Date.now() - started < 5000);
  });

  test('Ctrl-C stops bench early: the figures so far, in-flight requests left out, exit 130', async () => {
    const server = await fresh();
    const run = await cli(
      ['bench', `${server.origin}/d`, '--duration', '30', '-c', '4', '--json'],
      { interrupt: () => server.requests >= 200 },
    );
    assert.equal(run.code, 130, run.stderr);
    const out = json<BenchResult>(run);
    assert.equal(out.interrupted, true);
    assert.equal(out.failed, 0, JSON.stringify(out.errors));
    assert.ok(out.requests >= 200 - 4, `${out.requests} requests`);
    // Abandoned requests are not counted: at most the 4 in flight went unreported.
    assert.ok(server.requests - out.requests <= 4, `${server.requests} vs ${out.requests}`);
    assert.ok(out.durationMs < 10_000);
    assert.match(run.stderr, /interrupted/);
  });

  test('Ctrl-C stops fetch: finished URLs reported, hung ones abandoned, exit 130', async () => {
    const server = await fresh();
    const urls = [
      ...Array.from({ length: 5 }, (_, i) => `${server.origin}/fast/${i}`),
      ...Array.from({ length: 10 }, (_, i) => `${server.origin}/slow/${i}`),
    ];
    const text = await cli(['fetch', ...urls, '-c', '2'], {
      interrupt: () => server.requests >= 7, // the 5 fast ones, and two that never answer
    });
    assert.equal(text.code, 130, text.stderr);
    assert.match(text.stdout, /5 URLs in .*: 5 ok, 0 failed; interrupted \(Ctrl-C\) after 5 of 15/);
    const again = await fresh();
    const run = await cli(
      ['fetch', ...urls.map((u) => u.replace(server.origin, again.origin)), '-c', '2', '--json'],
      { interrupt: () => again.requests >= 7 },
    );
    assert.equal(run.code, 130, run.stderr);
    const out = json<FetchSummary>(run);
    assert.equal(out.interrupted, true);
    assert.equal(out.requests, 5);
    assert.equal(out.succeeded, 5);
    assert.deepEqual(out.failures, []);
  });

  test('demo: the pooled crawl opens far fewer connections than the other', async () => {
    const run = await cli(['demo', '--pages', '80', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const out = json<DemoResult>(run);
    const [pooled, unpooled] = out.runs;
    assert.equal(pooled.requests, out.resources);
    assert.equal(unpooled.requests, out.resources);
    assert.equal(pooled.succeeded, pooled.requests);
    assert.ok(pooled.connectionsOpened <= 6, `${pooled.connectionsOpened}`);
    assert.equal(pooled.serverConnections, pooled.connectionsOpened);
    assert.equal(unpooled.connectionsOpened, unpooled.requests);
    assert.equal(unpooled.serverRequests, unpooled.requests);

    const text = await cli(['demo']); // what npm start runs
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /pooled\s+451\s+451\s+\d+ \(server saw \d+\)/);
    assert.match(text.stdout, /no reuse\s+451\s+451\s+451 \(server saw 451\)/);
  });
});
