/**
 * The eviction decision, kept apart from timers and side effects so it can be tested
 * as a plain function of `now` (OkHttp's `closeConnections(now)` does the same).
 */

/** What {@link planEviction} needs of an idle entry. */
export interface Expiring {
  /** Absolute clock time at which the entry stops being lendable. `Infinity` = never. */
  readonly deadline: number;
}

/** The outcome of {@link planEviction}. */
export interface EvictionPlan<E> {
  /** Entries whose deadline has passed (`deadline <= now`), in their input order. */
  readonly expired: E[];
  /** The earliest deadline among the survivors, or `undefined` when none will ever expire. */
  readonly nextRunAt: number | undefined;
}

/**
 * Splits idle entries into those to destroy now and the time the next run is due.
 *
 * Scans every entry: with per-entry `expiresAt` hints the deadlines in an MRU stack
 * are not ordered by age, so stopping at the first live entry would miss some.
 */
export function planEviction<E extends Expiring>(
  entries: readonly E[],
  now: number,
): EvictionPlan<E> {
  const expired: E[] = [];
  let nextRunAt: number | undefined;
  for (const entry of entries) {
    if (entry.deadline <= now) expired.push(entry);
    else if (
      entry.deadline !== Number.POSITIVE_INFINITY &&
      (nextRunAt === undefined || entry.deadline < nextRunAt)
    ) {
      nextRunAt = entry.deadline;
    }
  }
  return { expired, nextRunAt };
}
