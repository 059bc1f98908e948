/** A read-only digest of a series of durations, in milliseconds. */
export interface DurationSummary {
  /** How many values were recorded. */
  count: number;
  /** Their mean (0 when none). */
  mean: number;
  /** The largest (0 when none). */
  max: number;
  /** Median, from a log-scale histogram: within about 10 % of the true value. */
  p50: number;
  /** 99th percentile, same precision as p50. */
  p99: number;
}

// Buckets grow by ~9 % from 1 µs: 256 of them reach past an hour.
const BUCKETS = 256;
const BASE_MS = 0.001;
const LOG_GROWTH = Math.log(1.09);

/**
 * Records durations in constant memory and O(1) per value: a count, a sum, a maximum and a
 * logarithmic histogram for percentiles. Cheap enough for every request on the hot path.
 */
export class DurationRecorder {
  #count = 0;
  #sum = 0;
  #max = 0;
  readonly #buckets = new Uint32Array(BUCKETS);

  /** Adds one duration (ms); negative and NaN values count as 0. */
  record(ms: number): void {
    // biome-ignore lint/complexity/useMathMinMax: NaN must count as 0, which Math.max would not do
    const value = ms > 0 ? ms : 0;
    this.#count++;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
    const index = value <= BASE_MS ? 0 : Math.ceil(Math.log(value / BASE_MS) / LOG_GROWTH);
    this.#buckets[index < BUCKETS ? index : BUCKETS - 1]!++;
  }

  /** The digest of everything recorded so far. */
  summary(): DurationSummary {
    return {
      count: this.#count,
      mean: this.#count === 0 ? 0 : this.#sum / this.#count,
      max: this.#max,
      p50: this.#quantile(0.5),
      p99: this.#quantile(0.99),
    };
  }

  #quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#buckets[i]!;
      if (seen < rank) continue;
      // The last bucket has no upper bound (it holds everything past an hour): the maximum.
      if (i === BUCKETS - 1) return this.#max;
      // The bucket's upper bound, but never above the true maximum.
      return Math.min(this.#max, i === 0 ? BASE_MS : BASE_MS * Math.exp(i * LOG_GROWTH));
    }
    return this.#max;
  }
}
