import type { HeadersInput } from '../http1/serializer.js';

/** Headers as ordered pairs, the form a redirect chain edits and a retry inspects. */
export type HeaderPairs = Array<[string, string]>;

/** Flattens any accepted headers input into ordered `[name, value]` pairs (values as strings). */
export function toHeaderPairs(headers: HeadersInput | undefined): HeaderPairs {
  const pairs: HeaderPairs = [];
  if (headers === undefined || headers === null) return pairs;
  if (Symbol.iterator in headers) {
    for (const [name, value] of headers as Iterable<readonly [string, string | number]>) {
      pairs.push([name, String(value)]);
    }
    return pairs;
  }
  for (const name of Object.keys(headers)) {
    const value = (headers as Record<string, unknown>)[name];
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) pairs.push([name, String(item)]);
    else pairs.push([name, String(value)]);
  }
  return pairs;
}

/** True when a field named `name` (lower-case) is present with a value. */
export function hasHeader(headers: HeadersInput | undefined, name: string): boolean {
  if (headers === undefined || headers === null) return false;
  if (Symbol.iterator in headers) {
    for (const [field] of headers as Iterable<readonly [string, unknown]>) {
      if (field.toLowerCase() === name) return true;
    }
    return false;
  }
  for (const field of Object.keys(headers)) {
    const value = (headers as Record<string, unknown>)[field];
    if (field.toLowerCase() === name && value !== undefined && value !== null) return true;
  }
  return false;
}
