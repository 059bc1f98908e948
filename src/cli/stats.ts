/**
 * Latency samples and exact percentiles: the samples go into a growing Float64Array that is
 * sorted once at the end. Past {@link MAX_SAMPLES} samples it keeps a uniform random sample
 * (reservoir sampling), so memory stays bounded on very long runs; min, max and mean stay exact.
 */

/** Most latency samples kept in memory (80 MB of float64). */
export const MAX_SAMPLES = 10_000_000;

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  /** Smallest sample. */
  min: number;
  /** Arithmetic mean. */
  mean: number;
  /** Median (nearest rank). */
  p50: number;
  /** 90th percentile (nearest rank). */
  p90: number;
  /** 99th percentile (nearest rank). */
  p99: number;
  /** Largest sample. */
  max: number;
}

/** Collects latency samples (ms) and summarises them. */
export class LatencyRecorder {
  #samples = new Float64Array(1024);
  #kept = 0;
  #seen = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;
  #sorted: Float64Array | undefined;
  readonly #limit: number;

  /** @param limit most samples kept before sampling kicks in */
  constructor(limit = MAX_SAMPLES) {
    this.#limit = limit;
  }

  /** Samples recorded, ever. */
  get count(): number {
    return this.#seen;
  }

  /** Records one latency in milliseconds. */
  add(ms: number): void {
    this.#sorted = undefined;
    this.#seen++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
    if (this.#kept < this.#limit) {
      if (this.#kept === this.#samples.length) {
        const grown = new Float64Array(Math.min(this.#limit, this.#samples.length * 2));
        grown.set(this.#samples);
        this.#samples = grown;
      }
      this.#samples[this.#kept++] = ms;
      return;
    }
    // Algorithm R: the new sample replaces a random kept one with probability limit / seen.
    const slot = Math.floor(Math.random() * this.#seen);
    if (slot < this.#limit) this.#samples[slot] = ms;
  }

  /** The `p`th percentile (0 < p <= 100) by nearest rank; 0 when there are no samples. */
  percentile(p: number): number {
    if (this.#kept === 0) return 0;
    this.#sorted ??= this.#samples.slice(0, this.#kept).sort();
    const rank = Math.ceil((p / 100) * this.#kept);
    return this.#sorted[Math.min(this.#kept, Math.max(1, rank)) - 1] ?? 0;
  }

  /** Min, mean, p50, p90, p99 and max, rounded to microseconds; zeros when empty. */
  summary(): LatencySummary {
    if (this.#seen === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    return {
      min: round3(this.#min),
      mean: round3(this.#sum / this.#seen),
      p50: round3(this.percentile(50)),
      p90: round3(this.percentile(90)),
      p99: round3(this.percentile(99)),
      max: round3(this.#max),
    };
  }
}

/** Rounds to three decimals (microseconds when the unit is ms). */
export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Error counts by code, for summaries: `{ ERR_SOCKET: 2, HTTP_404: 1 }`. */
export class ErrorCounts {
  readonly #counts = new Map<string, number>();

  /** Counts one occurrence of `code`. */
  add(code: string): void {
    this.#counts.set(code, (this.#counts.get(code) ?? 0) + 1);
  }

  /** Occurrences in all. */
  get total(): number {
    let total = 0;
    for (const n of this.#counts.values()) total += n;
    return total;
  }

  /** A plain object, codes sorted by count (most first), then by name. */
  toJSON(): Record<string, number> {
    const entries = [...this.#counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    return Object.fromEntries(entries);
  }
}

/**
 * The stable code of a failure: the error's string `code` (httpool errors, Node system errors),
 * `ERR_TIMEOUT` for a timeout DOMException, `ERR_UNKNOWN` otherwise.
 */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError') return 'ERR_TIMEOUT';
  if (name === 'AbortError') return 'ABORT_ERR';
  return 'ERR_UNKNOWN';
}

/** The code of a response status counted as a failure: `HTTP_404`. */
export function statusCode(status: number): string {
  return `HTTP_${status}`;
}
