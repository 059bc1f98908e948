// A polite crawler: breadth-first over one site, a few requests in flight, at most two
// connections to the site (and four to any other origin, were it to follow one), every body
// read or thrown away so its connection goes back to the pool.
//
//   node examples/crawler.mjs <start-url> [max-pages]
//   node examples/crawler.mjs http://127.0.0.1:8080/ 50     (with examples/server.mjs running)
import { Agent, isHttpoolError } from 'httpool';

const start = new URL(process.argv[2] ?? 'http://127.0.0.1:8080/');
const maxPages = Number(process.argv[3] ?? 100);
const inFlight = 4;

const agent = new Agent({
  headers: { 'user-agent': 'httpool-example-crawler' }, // sent with every request
  maxSize: 4,
  maxTotal: 16,
  connectTimeout: 5_000,
  headersTimeout: 10_000,
  bodyTimeout: 10_000,
  limits: { maxResponseSize: 5 * 1024 * 1024 },
  retry: { limit: 1 },
  // Politeness for the site being crawled: two connections, however many requests wait.
  perOrigin: (origin) => (origin === start.origin ? { maxSize: 2 } : undefined),
});

/** Links of an HTML page, resolved against the URL it was fetched from, fragments dropped. */
function linksOf(html, base) {
  const links = [];
  for (const match of html.matchAll(/<a\s[^>]*href\s*=\s*"([^"]*)"/gi)) {
    try {
      const link = new URL(match[1], base);
      link.hash = '';
      links.push(link);
    } catch {
      // Not a URL: skip it, as a browser would.
    }
  }
  return links;
}

const seen = new Set([start.href]);
const queue = [start];
const failures = [];
let crawled = 0;

/** Queues a same-origin URL not seen before, while under the page budget. */
function enqueue(link) {
  if (link.origin !== start.origin || seen.has(link.href) || seen.size >= maxPages) return;
  seen.add(link.href);
  queue.push(link);
}

async function visit(url) {
  // Redirects are taken by hand (the default, `redirect: 'manual'`): the target joins the
  // queue like any link, so every page's links resolve against the URL it was fetched from.
  const res = await agent.request(url, { headers: { accept: 'text/html' } });
  const location = res.headers.get('location');
  if (res.status >= 300 && res.status < 400 && location !== null) {
    await res.dump();
    console.log(`${res.status} ${url.pathname} -> ${location}`);
    enqueue(new URL(location, url));
    return;
  }
  const type = res.headers.get('content-type') ?? '';
  if (res.status !== 200 || !type.startsWith('text/html')) {
    await res.dump(); // not a page: free the connection without reading the body
    console.log(`${res.status} ${url.pathname} (skipped: ${type || 'no type'})`);
    return;
  }
  const html = await res.text();
  crawled++;
  // res.url is the URL this page answers (after any redirect the agent followed).
  for (const link of linksOf(html, res.url)) enqueue(link);
  console.log(`${res.status} ${url.pathname}${url.search} (${html.length} chars)`);
}

function failed(url, error) {
  // Typed errors have a stable code: ERR_CONNECT_TIMEOUT, ERR_SOCKET, ERR_REDIRECT, ...
  const code = isHttpoolError(error) ? error.code : 'UNKNOWN';
  failures.push({ url: url.href, code });
  console.log(`failed ${url.pathname}: ${code}`);
}

/** Runs the queue with `inFlight` requests at a time; resolves when it is empty and idle. */
function crawl() {
  let active = 0;
  return new Promise((resolve) => {
    const pump = () => {
      while (active < inFlight && queue.length > 0) {
        const url = queue.shift();
        active++;
        visit(url)
          .catch((error) => failed(url, error))
          .finally(() => {
            active--;
            pump();
          });
      }
      if (active === 0 && queue.length === 0) resolve();
    };
    pump();
  });
}

try {
  await crawl();
  const stats = Object.values(agent.stats());
  const opened = stats.reduce((sum, pool) => sum + pool.created, 0);
  const requests = stats.reduce((sum, pool) => sum + pool.requests, 0);
  console.log(
    `crawled ${crawled} pages, ${failures.length} failed; ${requests} requests over ${opened} connections`,
  );
  process.exitCode = failures.length === 0 ? 0 : 1;
} finally {
  await agent.close();
}
