// A small local server for the examples: a site of linked pages for the crawler, a JSON API
// for the service client, and upload/download endpoints for the streaming example.
//
//   node examples/server.mjs [port]      (prints "listening on http://127.0.0.1:PORT/")
//
// It listens on 127.0.0.1 only and keeps everything in memory.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

/** Pages of the example site: /pages/0 .. /pages/(PAGES - 1). */
const PAGES = 30;

/** The download body: deterministic bytes, so a client can check what it saved. */
export function exampleBytes(size, offset = 0) {
  const chunk = new Uint8Array(size);
  for (let i = 0; i < size; i++) chunk[i] = (offset + i) % 251;
  return chunk;
}

function page(n) {
  // Each page links to a few others (relative, absolute-path and with a fragment), to an
  // image, and off-site; the crawler follows only same-origin pages.
  const links = [
    `<a href="${(n + 1) % PAGES}">next</a>`,
    `<a href="/pages/${(n * 7) % PAGES}#top">jump</a>`,
    `<a href="../pages/${(n + 3) % PAGES}?from=${n}">later</a>`,
    '<a href="https://example.com/elsewhere">off-site</a>',
    '<img src="/logo.png">',
  ];
  return `<!doctype html><title>page ${n}</title><h1>Page ${n}</h1>${links.join('\n')}\n`;
}

function sendJson(res, status, value, headers = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text);
}

/** Starts the server; resolves with its base URL and a close function. */
export function startExampleServer(port = 0) {
  const items = new Map();
  let nextId = 1;
  /** Failures left per `/api/flaky?key=...`: each key fails twice, then succeeds. */
  const flaky = new Map();

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const path = url.pathname;
    try {
      if (path === '/' || path === '/pages/') {
        res.writeHead(302, { location: '/pages/0' }).end();
      } else if (/^\/pages\/\d+$/.test(path) && Number(path.slice(7)) < PAGES) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page(Number(path.slice(7))));
      } else if (path === '/logo.png') {
        res.writeHead(200, { 'content-type': 'image/png' }).end(exampleBytes(512));
      } else if (path === '/api/items' && req.method === 'GET') {
        sendJson(res, 200, [...items.values()]);
      } else if (path === '/api/items' && req.method === 'POST') {
        const input = await readJson(req);
        if (typeof input.name !== 'string') {
          sendJson(res, 400, { error: 'name must be a string' });
          return;
        }
        // The same Idempotency-Key creates one item, however often the request is sent.
        const key = req.headers['idempotency-key'];
        const existing = [...items.values()].find((item) => key && item.key === key);
        const item = existing ?? { id: nextId++, name: input.name, key };
        items.set(item.id, item);
        sendJson(res, existing ? 200 : 201, { id: item.id, name: item.name });
      } else if (/^\/api\/items\/\d+$/.test(path)) {
        const item = items.get(Number(path.slice(11)));
        if (item === undefined) sendJson(res, 404, { error: 'no such item' });
        else sendJson(res, 200, { id: item.id, name: item.name });
      } else if (path === '/api/flaky') {
        const key = url.searchParams.get('key') ?? '';
        const left = flaky.get(key) ?? 2;
        flaky.set(key, left - 1);
        if (left > 0) sendJson(res, 503, { error: 'try again' }, { 'retry-after': '0' });
        else sendJson(res, 200, { ok: true, attempts: 3 });
      } else if (path === '/api/slow') {
        // Answers after the given delay (ms), long after a client's headersTimeout.
        const delay = Math.min(Number(url.searchParams.get('ms') ?? 2000), 10_000);
        const timer = setTimeout(() => sendJson(res, 200, { slow: true }), delay);
        res.on('close', () => clearTimeout(timer));
      } else if (path === '/upload' && req.method === 'POST') {
        const hash = createHash('sha256');
        let bytes = 0;
        for await (const chunk of req) {
          hash.update(chunk);
          bytes += chunk.length;
        }
        sendJson(res, 200, {
          bytes,
          sha256: hash.digest('hex'),
          chunked: req.headers['transfer-encoding'] === 'chunked',
        });
      } else if (path === '/download') {
        const size = Math.min(Number(url.searchParams.get('size') ?? 1 << 20), 64 << 20);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'x-sha256': createHash('sha256').update(exampleBytes(size)).digest('hex'),
        });
        // Written in 64 KiB pieces, waiting for 'drain': the server's side of backpressure.
        for (let offset = 0; offset < size; offset += 65_536) {
          const piece = exampleBytes(Math.min(65_536, size - offset), offset);
          if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve));
          if (res.destroyed) return;
        }
        res.end();
      } else {
        sendJson(res, 404, { error: `nothing at ${path}` });
      }
    } catch (error) {
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      else res.destroy();
    }
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolve({
        url: `http://127.0.0.1:${actual}/`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

// Run directly: serve until interrupted.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { url, close } = await startExampleServer(Number(process.argv[2] ?? 8080));
  console.log(`listening on ${url}`);
  const stop = () => void close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
