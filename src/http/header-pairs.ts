import type { HeadersInput } from './options.js';

/** Headers as ordered pairs, the form a redirect chain edits and a retry inspects. */
export type HeaderPairs = Array<[string, string]>;

/** Flattens any accepted headers input into ordered `[name, value]` pairs (values as strings). */
export function toHeaderPairs(headers: HeadersInput | undefined): HeaderPairs {
  return flatten(headers, String);
}

/**
 * Flattens headers as {@link toHeaderPairs} does, but with the values as given (a number stays
 * a number, nothing is checked), for a caller that only adds a field and leaves the checks to
 * the serializer.
 */
export function headerEntries(headers: HeadersInput | undefined): Array<[string, string | number]> {
  return flatten(headers, asGiven);
}

const asGiven = (value: unknown) => value as string | number;

/**
 * The pairs of an iterable as they come; an object's fields in key order, arrays spread and
 * `undefined` or `null` fields left out; each value passed through `value`.
 */
function flatten<V>(
  headers: HeadersInput | undefined,
  value: (raw: unknown) => V,
): Array<[string, V]> {
  const pairs: Array<[string, V]> = [];
  if (headers === undefined || headers === null) return pairs;
  if (Symbol.iterator in headers) {
    for (const [name, raw] of headers as Iterable<readonly [string, unknown]>) {
      pairs.push([name, value(raw)]);
    }
    return pairs;
  }
  for (const name of Object.keys(headers)) {
    const raw = (headers as Record<string, unknown>)[name];
    if (raw === undefined || raw === null) continue;
    if (Array.isArray(raw)) for (const item of raw) pairs.push([name, value(item)]);
    else pairs.push([name, value(raw)]);
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

/**
 * Default header fields under a request's own: each default whose name the request does not
 * give (case-insensitively) comes first, then the request's fields in their order. A name the
 * request gives as `undefined` or `null` removes the default and sends nothing. Returns `own`
 * itself when there are no defaults. Values are passed on as they are, for the serializer to
 * check.
 */
export function withDefaults(
  defaults: HeaderPairs,
  own: HeadersInput | undefined,
): HeadersInput | undefined {
  if (defaults.length === 0) return own;
  const given = new Set<string>();
  const pairs: Array<[string, string | number]> = [];
  if (own !== undefined && own !== null) {
    if (typeof own !== 'object') return own; // the serializer refuses it, naming the problem
    if (Symbol.iterator in own) {
      for (const pair of own as Iterable<readonly [string, string | number]>) {
        if (typeof pair !== 'object' || pair === null) return own; // refused by the serializer
        const [name, value] = pair;
        if (typeof name === 'string') given.add(name.toLowerCase());
        if (value !== undefined && value !== null) pairs.push([name, value]);
      }
    } else {
      for (const name of Object.keys(own)) {
        given.add(name.toLowerCase());
        const value = (own as Record<string, unknown>)[name];
        if (value === undefined || value === null) continue;
        if (!Array.isArray(value)) pairs.push([name, value as string | number]);
        else
          for (const item of value)
            if (item !== undefined && item !== null) pairs.push([name, item]);
      }
    }
  }
  const merged: Array<[string, string | number]> = [];
  for (const pair of defaults) {
    if (!given.has(pair[0].toLowerCase())) merged.push([pair[0], pair[1]]);
  }
  for (const pair of pairs) merged.push(pair);
  return merged;
}
