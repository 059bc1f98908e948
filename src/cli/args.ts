/**
 * Command-line parsing shared by every command: `node:util` `parseArgs` in strict mode, with
 * its errors turned into one-line {@link UsageError}s, and checked number options.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { quote } from './escape.js';
import { defaultUserAgent } from './version.js';

/** Bad command-line input: the program prints the message on one line and exits with status 2. */
export class UsageError extends Error {
  /** The exit status of a usage error. */
  readonly exitCode = 2;

  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The option table handed to `parseArgs`. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseCommandLine} returns: option values by name and the positional arguments. */
export interface ParsedCommandLine {
  /** Values by long option name: a string, a boolean, or a list for `multiple` options. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** Arguments that are not options, in order. */
  positionals: string[];
}

/**
 * Parses `argv` strictly against `options`: unknown flags, missing values and values given to
 * boolean flags are {@link UsageError}s with a short message.
 */
export function parseCommandLine(argv: readonly string[], options: OptionSpec): ParsedCommandLine {
  try {
    const parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      strict: true,
      allowPositionals: true,
    });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
}

/**
 * `--timeout -5` and `-c -1` rewritten as `--timeout=-5` and `--concurrency=-1`. `parseArgs`
 * refuses a value that starts with a dash as ambiguous (a forgotten value before another
 * option), but no option is named by a digit: a negative number is a value, and the option's
 * own check then says plainly what range it takes.
 */
function joinNegativeValues(argv: readonly string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = takesValue(arg, options);
    if (name !== undefined && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** The long name of the string option `arg` names on its own (`--name` or `-n`), if it does. */
function takesValue(arg: string, options: OptionSpec): string | undefined {
  if (/^--[^=]+$/.test(arg)) {
    const name = arg.slice(2);
    return Object.hasOwn(options, name) && options[name]?.type === 'string' ? name : undefined;
  }
  if (/^-[^-]$/.test(arg)) {
    for (const [name, spec] of Object.entries(options)) {
      if (spec.short === arg[1] && spec.type === 'string') return name;
    }
  }
  return undefined;
}

function describeParseError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = firstLine(error instanceof Error ? error.message : String(error));
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = /--[^\s,=<]+/.exec(quoted ?? '')?.[0] ?? quoted;
      if (/argument missing/.test(message)) return `option ${name} needs a value`;
      if (/does not take an argument/.test(message)) return `option ${name} takes no value`;
      return message;
    }
    default:
      return message;
  }
}

/** The first line of `text`, so that a usage message stays on one line. */
export function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0] ?? '';
}

/** A string option's value, `undefined` when absent (the last one wins when repeated). */
export function stringOption(
  values: ParsedCommandLine['values'],
  name: string,
): string | undefined {
  const value = values[name];
  if (Array.isArray(value)) {
    const last = value[value.length - 1];
    return typeof last === 'string' ? last : undefined;
  }
  return typeof value === 'string' ? value : undefined;
}

/** Every value of a repeatable string option, in order. */
export function stringListOption(values: ParsedCommandLine['values'], name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/**
 * An integer option within `[min, max]`; `fallback` when it is absent.
 *
 * @throws UsageError when the value is not a plain decimal integer in range
 */
export function integerOption(
  values: ParsedCommandLine['values'],
  name: string,
  range: { min: number; max: number },
  fallback: number,
): number;
export function integerOption(
  values: ParsedCommandLine['values'],
  name: string,
  range: { min: number; max: number },
  fallback?: undefined,
): number | undefined;
export function integerOption(
  values: ParsedCommandLine['values'],
  name: string,
  range: { min: number; max: number },
  fallback?: number,
): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new UsageError(
      `--${name} must be an integer from ${range.min} to ${range.max}, got ${quote(raw)}`,
    );
  }
  return value;
}

/**
 * A decimal number option within `(0, max]`; `undefined` when it is absent.
 *
 * @throws UsageError when the value is not a positive number in range
 */
export function positiveNumberOption(
  values: ParsedCommandLine['values'],
  name: string,
  max: number,
): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const value = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new UsageError(
      `--${name} must be a number greater than 0 and at most ${max}, got ${quote(raw)}`,
    );
  }
  return value;
}

/**
 * Parses an absolute `http:` or `https:` URL given on the command line.
 *
 * @param where how to name the input in the message, e.g. `input line 3`
 * @throws UsageError for anything else (relative, another scheme, credentials)
 */
export function parseHttpUrl(text: string, where = 'URL'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${where}: not a valid URL: ${quote(clip(text))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `${where}: only http: and https: URLs are supported: ${quote(clip(text))}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new UsageError(`${where}: credentials in URLs are not supported`);
  }
  return url;
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** RFC 9110 §5.6.2: a token, as a method or a header name must be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A request method given on the command line, as typed (methods are case-sensitive).
 *
 * @param option how to name it in the message, e.g. `--method`
 * @throws UsageError when it is not a token
 */
export function parseMethod(text: string, option: string): string {
  if (!TOKEN.test(text)) throw new UsageError(`${option}: not a valid method: ${quote(text)}`);
  return text;
}

/**
 * A `-H 'Name: value'` option: the name must be a token; the value is checked as by
 * {@link parseHeaderValue}.
 *
 * @throws UsageError for anything else
 */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon < 0 ? '' : text.slice(0, colon).trim();
  if (!TOKEN.test(name)) {
    throw new UsageError(`--header must look like 'Name: value', got ${quote(text)}`);
  }
  return [name, parseHeaderValue(text.slice(colon + 1), '--header')];
}

/**
 * A header value given on the command line, trimmed: tabs, spaces and visible characters, no
 * controls. A non-ASCII value is sent as its UTF-8 bytes, as it was typed.
 *
 * @param option how to name it in the message, e.g. `--user-agent`
 * @throws UsageError when it holds a control character
 */
export function parseHeaderValue(text: string, option: string): string {
  const value = text.trim();
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    throw new UsageError(`${option}: a header value cannot hold control characters`);
  }
  // The library writes each character of a value as one byte (Latin-1): hand it the UTF-8 bytes.
  return Buffer.from(value, 'utf8').toString('latin1');
}

/**
 * The request `fetch` and `bench` send: `--method` (default GET), the `--header`s, and
 * `--user-agent` (default `httpool/<version>`; empty for none), unless a header gives one.
 *
 * @throws UsageError for a bad method, header or user agent
 */
export function requestOptions(values: ParsedCommandLine['values']): {
  method: string;
  headers: Array<[string, string]>;
} {
  const method = parseMethod(stringOption(values, 'method') ?? 'GET', '--method');
  const headers = stringListOption(values, 'header').map(parseHeader);
  const userAgent = stringOption(values, 'user-agent') ?? defaultUserAgent();
  if (userAgent !== '' && !headers.some(([name]) => name.toLowerCase() === 'user-agent')) {
    headers.unshift(['User-Agent', parseHeaderValue(userAgent, '--user-agent')]);
  }
  return { method, headers };
}

/** True when the boolean option `name` was given. */
export function flagOption(values: ParsedCommandLine['values'], name: string): boolean {
  return values[name] === true;
}
