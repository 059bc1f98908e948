/**
 * The process-wide default {@link Agent} behind the top-level `request()` and `fetch()`: a
 * script sends requests without making (or closing) anything.
 */
import { InvalidArgumentError } from '../errors.js';
import type { HttpResponse } from '../http/response.js';
import { Agent, type AgentRequestOptions } from './agent.js';

let defaultAgent: Agent | undefined;

/**
 * The default agent, made on first use with default options (no retries, redirects returned
 * as they are by `request()` and followed by `fetch()`, as on any Agent).
 */
export function getDefaultAgent(): Agent {
  defaultAgent ??= new Agent();
  return defaultAgent;
}

/**
 * Makes `agent` the default agent for the top-level `request()` and `fetch()`, and returns the
 * one it replaces (undefined if none was made yet). The old agent is not closed: requests in
 * progress on it go on; close it yourself when they are done.
 *
 * @throws InvalidArgumentError unless `agent` is an {@link Agent}
 */
export function setDefaultAgent(agent: Agent): Agent | undefined {
  if (!(agent instanceof Agent)) {
    throw new InvalidArgumentError('setDefaultAgent needs an Agent');
  }
  const previous = defaultAgent;
  defaultAgent = agent;
  return previous;
}

/**
 * `getDefaultAgent().request(url, options)`: one request to an absolute URL, with every option
 * of {@link Agent.request}.
 *
 * @example
 * ```ts
 * import { request } from 'httpool';
 * const res = await request('https://example.com/items', { query: { page: 2 } });
 * console.log(res.status, await res.json());
 * ```
 */
export function request(url: string | URL, options?: AgentRequestOptions): Promise<HttpResponse> {
  try {
    return getDefaultAgent().request(url, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * `getDefaultAgent().fetch(input, init)`: the WHATWG fetch over the default agent's pools. A
 * named export only: importing it does not replace the global `fetch`.
 */
export function fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  // Agent.fetch never throws: its failures are rejections.
  return getDefaultAgent().fetch(input, init);
}
