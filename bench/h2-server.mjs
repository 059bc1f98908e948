// @ts-check
/**
 * The h2 section's server: canned responses from Node's own servers, in one process of its
 * own, started by bench/run.mjs (pinned to its own core where `taskset` exists). Per body
 * size it listens on four ports:
 *
 * - `h2`: `node:http2` over TLS (ALPN h2 only, so whatever answers there spoke h2);
 * - `h2c`: `node:http2` in cleartext, prior knowledge;
 * - `h1-tls` and `h1`: `node:https` and `node:http`, for the HTTP/1.1 comparison rows.
 *
 * The certificate is self-signed, made at start with the `openssl` CLI (bench/tls-cert.mjs);
 * without openssl the TLS ports are left out and `ca` is null. SETTINGS_MAX_CONCURRENT_STREAMS is 1000, so 256
 * requests in flight fit on one session and the client's own limit is what binds.
 *
 * Usage: node bench/h2-server.mjs 13,16384
 * Prints one JSON line to stdout: {"ports": {"h2": {"13": p, ...}, "h2c": {...}, "h1-tls":
 * {...}, "h1": {...}}, "ca": PEM | null}. Then, over IPC, answers {type:'stats'} with
 * {type:'stats', connections, requests} (all ports together) and exits on {type:'exit'} or
 * when the parent goes away.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { makeCertificate } from './tls-cert.mjs';

const sizes = (process.argv[2] ?? '13,16384').split(',').map(Number);
/** Connections accepted (TCP) and requests answered, every port together. */
let connections = 0;
let requests = 0;

/** @param {number} size */
function cannedBody(size) {
  const body = Buffer.alloc(size, 'x');
  body.write('hello world\r\n'.slice(0, size));
  return body;
}

/**
 * @param {http2.Http2Server | http2.Http2SecureServer} server
 * @param {Buffer} body
 */
function answerStreams(server, body) {
  const headers = {
    ':status': 200,
    'content-type': 'text/plain',
    'content-length': body.length,
  };
  // The stream API, not the compatibility layer: the server should cost as little as it can.
  server.on('stream', (stream) => {
    requests++;
    stream.on('error', () => {});
    stream.respond(headers);
    stream.end(body);
  });
  server.on('sessionError', () => {});
}

/**
 * @param {http.Server | https.Server} server
 * @param {Buffer} body
 */
function answerRequests(server, body) {
  const headers = { 'content-type': 'text/plain', 'content-length': body.length };
  server.keepAliveTimeout = 600_000;
  server.on('request', (_req, res) => {
    requests++;
    res.writeHead(200, headers);
    res.end(body);
  });
}

/** @param {import('node:net').Server} server @returns {Promise<number>} its port */
async function listen(server) {
  server.on('connection', (socket) => {
    connections++;
    socket.setNoDelay(true);
    socket.on('error', () => {});
  });
  server.on('error', (error) => {
    process.stderr.write(`h2-server: ${error}\n`);
  });
  await new Promise((resolve) =>
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve(undefined)),
  );
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

const tls = makeCertificate('h2-server');
const settings = { maxConcurrentStreams: 1000 };
/** @type {Record<string, Record<string, number>>} */
const ports = { h2: {}, h2c: {}, 'h1-tls': {}, h1: {} };
for (const size of sizes) {
  const body = cannedBody(size);
  const key = String(size);
  const h2c = http2.createServer({ settings });
  answerStreams(h2c, body);
  ports['h2c'][key] = await listen(h2c);
  const h1 = http.createServer();
  answerRequests(h1, body);
  ports['h1'][key] = await listen(h1);
  if (tls !== undefined) {
    const h2 = http2.createSecureServer({ ...tls, settings, allowHTTP1: false });
    answerStreams(h2, body);
    ports['h2'][key] = await listen(h2);
    const h1tls = https.createServer(tls);
    answerRequests(h1tls, body);
    ports['h1-tls'][key] = await listen(h1tls);
  }
}
process.stdout.write(`${JSON.stringify({ ports, ca: tls?.cert ?? null })}\n`);

if (process.send !== undefined) {
  process.on('message', (/** @type {any} */ message) => {
    if (message?.type === 'stats') process.send?.({ type: 'stats', connections, requests });
    else if (message?.type === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}
// A bound on the server's life, whatever happens to the parent.
setTimeout(
  () => process.exit(0),
  Number(process.env.BENCH_SERVER_LIFETIME_MS ?? 30 * 60_000),
).unref();
