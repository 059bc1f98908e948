/**
 * Closing with a deadline, for a pool and an Agent alike: a graceful close, and with a
 * `timeout`, a destroy of whatever is still busy once it runs out.
 *
 * The deadline is a plain timer, not the Clock's: the promise `close()` returned must settle,
 * so, as with every promise httpool hands out, its timer keeps the process alive.
 */
import { PoolClosedError } from '../errors.js';
import { MAX_TIMER_MS } from '../http/deadline.js';
import { checkCloseTimeout } from './options.js';

/**
 * Runs `close` (a graceful close, started now) and resolves when it has finished; with
 * `timeout`, calls `destroy` with {@link closeTimedOut} if it has not finished after that
 * many ms, and resolves when that has.
 *
 * @throws InvalidArgumentError for a negative or non-number `timeout`, before `close` is called
 */
export function closeWithin(
  timeout: unknown,
  close: () => Promise<void>,
  destroy: (reason: Error) => Promise<void>,
): Promise<void> {
  checkCloseTimeout(timeout);
  const closed = close();
  if (timeout === undefined) return closed;
  return withDeadline(closed, timeout, () => destroy(closeTimedOut(timeout)));
}

/**
 * Resolves with `closed`, calling `force()` first if it has not settled after `ms`. A deadline
 * longer than a timer can hold (`Infinity` included) is no deadline.
 */
export function withDeadline(
  closed: Promise<void>,
  ms: number,
  force: () => Promise<void>,
): Promise<void> {
  if (ms > MAX_TIMER_MS) return closed;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      void force().then(resolve, resolve);
    }, ms);
  });
  return Promise.race([closed, deadline]).finally(() => clearTimeout(timer));
}

/** The reason busy connections are destroyed with when a close runs out of time. */
export function closeTimedOut(ms: number): Error {
  return new PoolClosedError(`close() ran out of time after ${ms} ms; busy connections destroyed`);
}
