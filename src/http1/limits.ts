/**
 * Bounds the HTTP/1.1 response parser enforces, so a hostile or broken server can make it neither
 * buffer without limit nor spin forever on framing overhead. Exceeding any of them raises a
 * `ResponseLimitError` whose `limit` is the option's name.
 */

import { InvalidArgumentError } from '../errors.js';

/** Limits of the response parser (the `limits` pool option). Sizes are in bytes. */
export interface ParserLimits {
  /**
   * Bytes of one response head: the status line, every header line and the empty line, each with its
   * CRLF. Empty lines skipped before the status line count too. Applies to each 1xx head separately.
   * Default 16384 (16 KiB), like Node's `--max-http-header-size`.
   */
  maxHeaderSize: number;
  /** Header fields in one head (and trailer fields in one trailer section). Default 128. */
  maxHeaderCount: number;
  /** Bytes of the status line including its CRLF (also bounded by `maxHeaderSize`). Default 8192. */
  maxStatusLineLength: number;
  /**
   * Bytes of one chunk-size line: the hex size, any extensions and the CRLF. Default 4096. Keeps long
   * runs of leading zeros or whitespace from being read forever.
   */
  maxChunkSizeLineLength: number;
  /** Bytes of the chunk extensions on one chunk-size line, from the first `;` to the CR. Default 1024. */
  maxChunkExtensionSize: number;
  /** Interim (1xx other than 101) responses accepted before the final one. Default 10. */
  maxInformationalResponses: number;
  /** Body bytes of one response (after removing chunked framing). Default `Infinity`. */
  maxResponseSize: number;
  /** Bytes of the trailer section after the last chunk, including its final CRLF. Default 16384. */
  maxTrailerSize: number;
}

/** The limits used for every option the caller does not set. */
export const defaultParserLimits: Readonly<ParserLimits> = Object.freeze({
  maxHeaderSize: 16384,
  maxHeaderCount: 128,
  maxStatusLineLength: 8192,
  maxChunkSizeLineLength: 4096,
  maxChunkExtensionSize: 1024,
  maxInformationalResponses: 10,
  maxResponseSize: Number.POSITIVE_INFINITY,
  maxTrailerSize: 16384,
});

const limitNames = Object.keys(defaultParserLimits) as (keyof ParserLimits)[];

/**
 * Merges `limits` over {@link defaultParserLimits} and checks every value: each must be a
 * non-negative integer, and only `maxResponseSize` may be `Infinity`.
 *
 * @throws InvalidArgumentError for an unknown option or a bad value.
 */
export function resolveParserLimits(limits: Partial<ParserLimits> = {}): ParserLimits {
  const resolved: ParserLimits = { ...defaultParserLimits };
  for (const key of Object.keys(limits)) {
    if (!(limitNames as string[]).includes(key)) {
      throw new InvalidArgumentError(`unknown parser limit ${JSON.stringify(key)}`);
    }
    const name = key as keyof ParserLimits;
    const value = limits[name];
    if (value === undefined) continue;
    const ok =
      typeof value === 'number' &&
      value >= 0 &&
      (Number.isSafeInteger(value) ||
        (name === 'maxResponseSize' && value === Number.POSITIVE_INFINITY));
    if (!ok) throw new InvalidArgumentError(`parser limit ${name} must be a non-negative integer`);
    resolved[name] = value;
  }
  return resolved;
}
