/**
 * Real servers closing kept-alive connections on their own schedule: nginx (Debian's
 * package) and node:http. Load is timed around each server's keep-alive timeout, where the
 * close races the next request; no GET may fail.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConnectionPool } from '../../src/index.js';
import { prng } from '../helpers/random.js';
import { sleep } from '../helpers/servers.js';

/**
 * Runs `total` GETs from `workers` loops, each pausing a random time around `edgeMs`
 * between requests so that reuse lands right where the server closes idle connections.
 */
async function loadAtTheEdge(
  pool: ConnectionPool,
  options: { total: number; workers: number; edgeMs: number; path: string; seed: number },
): Promise<{ ok: number; failures: string[] }> {
  const random = prng(options.seed);
  let issued = 0;
  let ok = 0;
  const failures: string[] = [];
  const deadline = Date.now() + 30_000;
  await Promise.all(
    Array.from({ length: options.workers }, async () => {
      while (issued < options.total && Date.now() < deadline) {
        issued++;
        try {
          const res = await pool.request({ path: options.path });
          const text = await res.text();
          if (res.status === 200 && text.startsWith('ok')) ok++;
          else failures.push(`status ${res.status}`);
        } catch (error) {
          failures.push(String((error as { code?: string }).code ?? error));
        }
        // Between 0.8x and 1.2x the server's keep-alive timeout.
        await sleep(options.edgeMs * (0.8 + 0.4 * random()));
      }
    }),
  );
  return { ok, failures };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await sleep(20);
  }
}

function findNginx(): string | undefined {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
}

const nginx = findNginx();
if (nginx === undefined && process.env['CI'] === undefined) {
  console.log(
    'NOTICE: nginx is not installed: the nginx keep-alive tests are skipped (apt-get install nginx-light)',
  );
}

describe('real servers closing idle connections', () => {
  test('nginx with a short keepalive_timeout and keepalive_requests: zero failed GETs', {
    // Under CI nginx must be there (.ci/run installs it); locally its absence is a notice.
    skip: nginx === undefined && process.env['CI'] === undefined,
  }, async () => {
    assert.ok(nginx !== undefined, 'nginx is required under CI');
    const dir = mkdtempSync(join(tmpdir(), 'httpool-nginx-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 100ms;
  keepalive_requests 7;
  server {
    listen 127.0.0.1:${port};
    location / { return 200 "ok from nginx\\n"; }
  }
}
`,
    );
    let server: ChildProcess | undefined;
    try {
      server = spawn(nginx!, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
      await waitForPort(port, 5000);
      const pool = new ConnectionPool(`http://127.0.0.1:${port}`, { maxSize: 4 });
      const result = await loadAtTheEdge(pool, {
        total: 240,
        workers: 8,
        edgeMs: 100,
        path: '/',
        seed: 7,
      });
      const stats = pool.stats();
      console.log(
        `nginx edge load: ${result.ok} ok, ${result.failures.length} failed, ` +
          `${stats.created} connections, ${stats.replayed} replayed`,
      );
      assert.deepEqual(result.failures, []);
      assert.equal(result.ok, 240);
      await pool.close();
    } finally {
      server?.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const variant of [
    // The server's Keep-Alive hint (timeout=0) tells the client not to reuse at all.
    { keepAliveTimeout: 100, threshold: undefined, total: 240, workers: 8 },
    // No safety margin: the client reuses right up to the server's 1 s, where the close races.
    { keepAliveTimeout: 1000, threshold: 0, total: 96, workers: 16 },
  ]) {
    test(`node:http with keepAliveTimeout ${variant.keepAliveTimeout} ms, threshold ${variant.threshold ?? 'default'}: zero failed GETs`, async () => {
      const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-length': 8 });
        res.end('ok node\n');
      });
      server.keepAliveTimeout = variant.keepAliveTimeout;
      server.headersTimeout = 5000;
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        const pool = new ConnectionPool(`http://127.0.0.1:${port}`, {
          maxSize: 4,
          ...(variant.threshold === undefined
            ? {}
            : { keepAliveTimeoutThreshold: variant.threshold }),
        });
        const result = await loadAtTheEdge(pool, {
          total: variant.total,
          workers: variant.workers,
          edgeMs: variant.keepAliveTimeout,
          path: '/',
          seed: 11,
        });
        const stats = pool.stats();
        console.log(
          `node:http edge load (keepAliveTimeout ${variant.keepAliveTimeout}): ${result.ok} ok, ` +
            `${result.failures.length} failed, ${stats.created} connections, ${stats.replayed} replayed`,
        );
        assert.deepEqual(result.failures, []);
        assert.equal(result.ok, variant.total);
        await pool.close();
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });
  }
});
