/**
 * A small breadth-first crawler over an {@link Agent}: it follows `href` and `src` links found
 * in HTML with a simple regular expression, stays on the start URL's origin, and fetches each
 * URL once, with a fixed number of requests in flight.
 */
import type { Agent } from '../index.js';
import { errorCode } from './stats.js';

/** Options of {@link crawl}. */
export interface CrawlOptions {
  /** Requests in flight at once. Default 16. */
  concurrency?: number;
  /** Most URLs fetched. Default 10 000. */
  maxUrls?: number;
  /** Deadline for one URL, in ms. Default 10 000. */
  timeout?: number;
}

/** What a crawl did. */
export interface CrawlResult {
  /** URLs fetched. */
  requests: number;
  /** URLs whose response had a status below 400 and was read. */
  succeeded: number;
  /** URLs that failed, by code. */
  errors: Record<string, number>;
  /** HTML pages parsed for links. */
  pages: number;
  /** Response body bytes read. */
  bytes: number;
  /** Wall time, ms. */
  durationMs: number;
}

const LINK = /\b(?:href|src)\s*=\s*["']([^"']+)["']/gi;

/** The same-origin links of an HTML page, resolved against `base`, without fragments. */
export function extractLinks(html: string, base: URL): URL[] {
  const out: URL[] = [];
  for (const match of html.matchAll(LINK)) {
    let url: URL;
    try {
      url = new URL(match[1]!, base);
    } catch {
      continue;
    }
    if (url.origin !== base.origin) continue;
    url.hash = '';
    out.push(url);
  }
  return out;
}

/** Crawls from `start` breadth-first and returns what it did; failures are counted, not thrown. */
export async function crawl(
  agent: Agent,
  start: URL,
  options: CrawlOptions = {},
): Promise<CrawlResult> {
  const concurrency = options.concurrency ?? 16;
  const maxUrls = options.maxUrls ?? 10_000;
  const timeout = options.timeout ?? 10_000;
  const seen = new Set<string>([start.href]);
  const queue: URL[] = [start];
  let head = 0;
  let active = 0;
  let wake: (() => void) | undefined;
  const result: CrawlResult = {
    requests: 0,
    succeeded: 0,
    errors: {},
    pages: 0,
    bytes: 0,
    durationMs: 0,
  };
  const began = performance.now();

  const visit = async (url: URL): Promise<void> => {
    result.requests++;
    try {
      const response = await agent.request(url, { timeout });
      const type = response.headers.get('content-type') ?? '';
      if (type.startsWith('text/html')) {
        const html = await response.text();
        result.bytes += Buffer.byteLength(html);
        result.pages++;
        for (const link of extractLinks(html, url)) {
          if (seen.has(link.href) || seen.size >= maxUrls) continue;
          seen.add(link.href);
          queue.push(link);
        }
      } else {
        for await (const chunk of response.body) result.bytes += chunk.byteLength;
      }
      if (response.status < 400) result.succeeded++;
      else
        result.errors[`HTTP_${response.status}`] =
          (result.errors[`HTTP_${response.status}`] ?? 0) + 1;
    } catch (error) {
      const code = errorCode(error);
      result.errors[code] = (result.errors[code] ?? 0) + 1;
    }
  };

  const worker = async (): Promise<void> => {
    // Ends when the queue is empty and nobody is still fetching (who could add to it).
    for (;;) {
      if (head < queue.length) {
        const url = queue[head++]!;
        active++;
        await visit(url);
        active--;
        const w = wake;
        wake = undefined;
        w?.();
        continue;
      }
      if (active === 0) {
        const w = wake;
        wake = undefined;
        w?.();
        return;
      }
      await new Promise<void>((resolve) => {
        const previous = wake;
        wake = () => {
          previous?.();
          resolve();
        };
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.durationMs = performance.now() - began;
  return result;
}
