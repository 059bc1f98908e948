// A client for a JSON API, as a service would keep one: one Agent for the process, retries
// with backoff for what is safe to repeat, timeouts on every request, and failures told apart
// by their stable `code` rather than by message.
//
//   node examples/service-client.mjs <base-url>
//   node examples/service-client.mjs http://127.0.0.1:8080/     (with examples/server.mjs running)
import { randomUUID } from 'node:crypto';
import { Agent, isHttpoolError } from 'httpool';

/** A non-2xx answer from the API, with what it said. */
class ApiError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path}: ${status} ${body?.error ?? ''}`.trim());
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

class ApiClient {
  #agent;

  constructor(baseUrl) {
    this.#agent = new Agent({
      baseUrl, // request('/api/items') goes to <baseUrl>/api/items
      headers: { accept: 'application/json' }, // sent with every request
      maxSize: 8, // connections to the API
      connectTimeout: 2_000,
      // GET, PUT, DELETE (and POSTs with an Idempotency-Key) are sent again after a 503, a
      // reset or a timeout, with exponential backoff; Retry-After is honoured up to maxDelay.
      retry: { limit: 3, minDelay: 50, maxDelay: 2_000 },
    });
  }

  /**
   * Sends one request and parses the JSON answer; a non-2xx status is an ApiError. `json` is
   * sent as the body (with its content-type), `query` is added to the path, and `timeout`
   * bounds the whole call, retries included (5 s unless the caller says otherwise).
   */
  async call(method, path, options = {}) {
    const res = await this.#agent.request(path, { method, timeout: 5_000, ...options });
    const type = res.headers.get('content-type') ?? '';
    const body = type.startsWith('application/json') ? await res.json() : await res.text();
    if (!res.ok) throw new ApiError(method, new URL(res.url).pathname, res.status, body);
    return body;
  }

  /** Creates an item. The Idempotency-Key makes the POST safe to retry: one item, once. */
  createItem(name) {
    return this.call('POST', '/api/items', {
      json: { name },
      headers: { 'idempotency-key': randomUUID() },
    });
  }

  getItem(id) {
    return this.call('GET', `/api/items/${encodeURIComponent(id)}`);
  }

  listItems() {
    return this.call('GET', '/api/items');
  }

  close() {
    return this.#agent.close({ timeout: 5_000 });
  }
}

/** What a caller does with each kind of failure. */
function explain(error) {
  if (error instanceof ApiError) return `API said ${error.status}: ${error.body?.error}`;
  if (!isHttpoolError(error)) throw error; // a bug, not a network problem
  switch (error.code) {
    case 'ERR_TIMEOUT':
      return `timed out while ${error.phase === 'headers' ? 'waiting for the answer' : error.phase}`;
    case 'ERR_HEADERS_TIMEOUT':
    case 'ERR_BODY_TIMEOUT':
      return `timed out (${error.code})`;
    case 'ERR_CONNECT_TIMEOUT':
    case 'ERR_SOCKET':
      return `unreachable (${error.code})`;
    default:
      return `failed (${error.code})`;
  }
}

const api = new ApiClient(process.argv[2] ?? 'http://127.0.0.1:8080/');
try {
  const created = await api.createItem('first');
  await api.createItem('second');
  console.log(`created item ${created.id}: ${created.name}`);
  console.log(`got item ${created.id}: ${(await api.getItem(created.id)).name}`);
  console.log(`listed ${(await api.listItems()).length} items`);

  // Answers 503 twice, then 200: the retries hide it.
  const flaky = await api.call('GET', '/api/flaky', { query: { key: randomUUID() } });
  console.log(`flaky endpoint: ok=${flaky.ok} after retries`);

  // Expected failures, told apart by type and code.
  try {
    await api.getItem(999_999);
  } catch (error) {
    console.log(`missing item: ${explain(error)}`);
  }
  try {
    // A tighter deadline for this call, and no retry: it would only time out again.
    await api.call('GET', '/api/slow', { query: { ms: 3000 }, timeout: 200, retry: false });
  } catch (error) {
    console.log(`slow endpoint: ${explain(error)}`);
  }
} finally {
  await api.close();
}
