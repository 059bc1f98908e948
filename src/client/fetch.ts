import type { Agent } from './agent.js';

/**
 * WHATWG fetch over an Agent. (Being written: see the fetch issue.)
 */
export async function fetchThrough(
  _agent: Agent,
  _input: string | URL | Request,
  _init?: RequestInit,
): Promise<Response> {
  throw new Error('not implemented yet');
}
