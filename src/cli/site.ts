/**
 * The demo's embedded web site, served on loopback: HTML pages that link to each other (some
 * links relative, some with fragments, some to other sites), images, and a style sheet, as a
 * crawler's target would be. Deterministic: the same page count gives the same site.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A running site and what its server saw. */
export interface DemoSite {
  /** The start page, `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Distinct same-origin URLs a full crawl finds (pages, images, the style sheet). */
  readonly resources: number;
  /** Requests the server answered, ever. */
  readonly requests: number;
  /** Connections the server accepted, ever. */
  readonly connections: number;
  /** Stops the server and closes its connections. */
  close(): Promise<void>;
}

/**
 * Starts the site: `pages` pages (the index is page 0) and `pages / 2` images.
 *
 * @param pages 1 to 100 000
 */
export async function startDemoSite(pages: number): Promise<DemoSite> {
  const images = Math.max(1, Math.floor(pages / 2));
  const counts = { requests: 0, connections: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    counts.requests++;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const page = path === '/' ? 0 : pageNumber(path, pages);
    if (page !== undefined) {
      const html = renderPage(page, pages, images);
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(html),
      });
      res.end(html);
      return;
    }
    const image = /^\/img\/(\d+)\.png$/.exec(path);
    const n = image === null ? -1 : Number(image[1]);
    if (n >= 0 && n < images) {
      const bytes = imageBytes(n);
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length });
      res.end(bytes);
      return;
    }
    if (path === '/style.css') {
      const css = 'body { font-family: sans-serif; max-width: 40em; margin: auto; }\n';
      res.writeHead(200, { 'content-type': 'text/css', 'content-length': Buffer.byteLength(css) });
      res.end(css);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 });
    res.end('not found\n');
  });
  server.on('connection', (socket: Socket) => {
    counts.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    resources: pages + images + 1,
    get requests() {
      return counts.requests;
    },
    get connections() {
      return counts.connections;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function pageNumber(path: string, pages: number): number | undefined {
  const match = /^\/(?:page|section\/\d+)\/(\d+)\.html$/.exec(path);
  if (match === null) return undefined;
  const n = Number(match[1]);
  return n >= 0 && n < pages ? n : undefined;
}

/** Where page `n` lives; a few live one directory deeper, to exercise relative links. */
function pageHref(n: number): string {
  if (n === 0) return '/';
  return n % 10 === 3 ? `/section/${n % 7}/${n}.html` : `/page/${n}.html`;
}

function renderPage(n: number, pages: number, images: number): string {
  // Children 2n+1 and 2n+2 make every page reachable from the index; the others are noise.
  const targets = [2 * n + 1, 2 * n + 2, n + 1, (n * 7919 + 13) % pages, (n * 31 + 7) % pages, 0];
  const links = targets
    .filter((t) => t < pages)
    .map((t, i) => {
      const href = pageHref(t);
      // Some links relative to this page (with a fragment), the others absolute paths.
      const up = pageHref(n).startsWith('/section/') ? '../../' : '../';
      const shown = i === 2 && href.startsWith('/page/') ? `${up}page/${t}.html#top` : href;
      return `<li><a href="${shown}">Page ${t}</a></li>`;
    })
    .join('\n    ');
  const imgs = [n % images, (n * 3 + 1) % images]
    .map((i) => `<img src="/img/${i}.png" alt="picture ${i}" width="64" height="64">`)
    .join('\n  ');
  const filler = `<p>This is page ${n} of the httpool demo site. ${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(8)}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Page ${n}</title>
  <link rel="stylesheet" href="/style.css">
</head>
<body>
  <h1 id="top">Page ${n}</h1>
  ${imgs}
  ${filler}
  <ul>
    ${links}
    <li><a href="https://example.com/elsewhere/${n}">another site (not crawled)</a></li>
    <li><a href="mailto:someone@example.com">mail (not crawled)</a></li>
  </ul>
</body>
</html>
`;
}

/** A deterministic fake image of 1 to 8 KiB. */
function imageBytes(n: number): Buffer {
  const size = 1024 + ((n * 2654435761) % 7168);
  const bytes = Buffer.alloc(size);
  let x = (n + 1) * 2246822519;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    bytes[i] = x & 0xff;
  }
  // A PNG signature up front, for the look of it.
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes);
  return bytes;
}
