import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { Agent, ConnectionPool, InvalidArgumentError, SocketError } from '../../src/index.js';
import { makeCertificates } from '../helpers/tls.js';

describe('connecting over a Unix domain socket (socketPath)', () => {
  let dir: string;
  let httpPath: string;
  let tlsPath: string;
  const hosts: string[] = [];
  const httpServer = createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    const body = `${req.method} ${req.url}`;
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  let connections = 0;
  httpServer.on('connection', () => connections++);
  const certs = makeCertificates();
  const tlsServer = createTlsServer({ key: certs.key, cert: certs.cert }, (socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecure'));
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'httpool-unix-'));
    httpPath = join(dir, 'http.sock');
    tlsPath = join(dir, 'tls.sock');
    await new Promise<void>((resolve) => httpServer.listen(httpPath, resolve));
    await new Promise<void>((resolve) => tlsServer.listen(tlsPath, resolve));
  });
  after(async () => {
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('requests go over the socket; the origin gives the Host header; connections are reused', async () => {
    const pool = new ConnectionPool('http://docker.local', { socketPath: httpPath });
    try {
      for (const path of ['/a', '/b', '/c']) {
        assert.equal(await (await pool.request({ path })).text(), `GET ${path}`);
      }
      assert.deepEqual(hosts.slice(-3), ['docker.local', 'docker.local', 'docker.local']);
      assert.equal(pool.stats().created, 1);
      assert.equal(connections, 1);
    } finally {
      await pool.close();
    }
  });

  test('https: over the socket verifies the certificate against the origin name', async () => {
    const trusted = new ConnectionPool('https://localhost', {
      socketPath: tlsPath,
      tls: { ca: certs.ca },
    });
    const untrusted = new ConnectionPool('https://localhost', { socketPath: tlsPath });
    const wrongName = new ConnectionPool('https://other.test', {
      socketPath: tlsPath,
      tls: { ca: certs.ca },
    });
    try {
      assert.equal(await (await trusted.request({})).text(), 'secure');
      const causeCode = (error: unknown) => (error as { cause?: { code?: string } }).cause?.code;
      await assert.rejects(untrusted.request({}), (error: unknown) => {
        assert.ok(error instanceof SocketError);
        assert.equal(causeCode(error), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
        return true;
      });
      await assert.rejects(wrongName.request({}), (error: unknown) => {
        assert.ok(error instanceof SocketError);
        assert.equal(causeCode(error), 'ERR_TLS_CERT_ALTNAME_INVALID');
        return true;
      });
    } finally {
      await Promise.all([trusted.close(), untrusted.close(), wrongName.close()]);
    }
  });

  test('an Agent sends every origin over the socket', async () => {
    await using agent = new Agent({ socketPath: httpPath });
    assert.equal(await (await agent.request('http://one.local/x')).text(), 'GET /x');
    assert.equal(await (await agent.request('http://two.local/y')).text(), 'GET /y');
    assert.deepEqual(hosts.slice(-2), ['one.local', 'two.local']);
  });

  test('a Linux abstract socket (leading NUL) works', {
    skip: process.platform !== 'linux',
  }, async () => {
    const name = `\0httpool-test-${process.pid}`;
    const server = createServer((_req, res) => res.end('abstract'));
    await new Promise<void>((resolve) => server.listen(name, resolve));
    const pool = new ConnectionPool('http://abstract.local', { socketPath: name });
    try {
      assert.equal(await (await pool.request({})).text(), 'abstract');
    } finally {
      await pool.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('a missing socket is a SocketError; bad options are refused', async () => {
    const pool = new ConnectionPool('http://x.local', { socketPath: join(dir, 'nothing.sock') });
    await assert.rejects(pool.request({}), SocketError);
    await pool.close();
    for (const socketPath of ['', 'a\0b', 42 as unknown as string]) {
      assert.throws(
        () => new ConnectionPool('http://x.local', { socketPath }),
        InvalidArgumentError,
      );
    }
    assert.throws(
      () => new ConnectionPool('http://x.local', { socketPath: httpPath, proxy: 'http://p:3128' }),
      InvalidArgumentError,
    );
    assert.throws(() => new Agent({ socketPath: httpPath, proxy: 'env' }), InvalidArgumentError);
  });
});
