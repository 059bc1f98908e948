import {
  InvalidArgumentError,
  locateError,
  type RequestPhase,
  RequestTimeoutError,
} from '../errors.js';
import type { HttpResponse } from './response.js';

/** @internal Longest delay a Node timer holds (~24.8 days); a longer deadline is no deadline. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Where a deadline is in its life:
 * - `running`: the request is under way, no exchange in progress (acquiring, between hops);
 * - `exchanging`: a connection is carrying an exchange of the request;
 * - `handed-over`: the response went to the caller while its exchange still runs (the body is
 *   still arriving); the deadline ends with that exchange;
 * - `over`: the timer is gone (the request ended, failed, was aborted or ran out of time).
 */
type DeadlineStage = 'running' | 'exchanging' | 'handed-over' | 'over';

/**
 * @internal One request's `timeout`: one timer over every step of it, from waiting for a
 * connection to the last byte of the response body, across replays, redirects and retries.
 *
 * Each layer writes the {@link phase} it is in; when the time is up, {@link signal} aborts with a
 * {@link RequestTimeoutError} naming the phase, and every layer already stops cleanly on its
 * signal. The caller's own signal is folded in: its abort aborts {@link signal} with its reason.
 *
 * The timer is ref'd: a request whose deadline is the only thing pending still settles, rather
 * than the process exiting under it. It is cleared as soon as the request is over.
 */
export class RequestDeadline {
  /** The bound, in ms. */
  readonly timeout: number;
  /** What the request is doing now; written by whichever layer holds it. */
  phase: RequestPhase = 'send';
  /**
   * Asked when the time runs out in `acquire`: true when the pool was opening a connection
   * then, which makes the phase `connect`.
   */
  opening: (() => boolean) | undefined = undefined;
  /** The request now under way (the current hop's), which the timeout error names. */
  #origin = '';
  #method = 'GET';
  #target = '/';
  readonly #controller = new AbortController();
  #stage: DeadlineStage = 'running';
  #timer: NodeJS.Timeout | undefined;
  readonly #callerSignal: AbortSignal | undefined;
  readonly #onCallerAbort: (() => void) | undefined;

  /** Starts the timer now. Use {@link startDeadline}, which checks `timeout`. */
  constructor(timeout: number, callerSignal: AbortSignal | undefined) {
    this.timeout = timeout;
    this.#callerSignal = callerSignal;
    if (callerSignal?.aborted) {
      this.#stage = 'over';
      this.#controller.abort(callerSignal.reason);
      return;
    }
    if (callerSignal !== undefined) {
      this.#onCallerAbort = () => {
        this.end();
        this.#controller.abort(callerSignal.reason);
      };
      callerSignal.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
    this.#timer = setTimeout(() => this.#expire(), timeout);
  }

  /** Aborts when the time is up (reason: a RequestTimeoutError) or the caller aborts (its reason). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  #expire(): void {
    this.#timer = undefined;
    if (this.#stage === 'over') return;
    const phase = this.phase === 'acquire' && this.opening?.() === true ? 'connect' : this.phase;
    this.end();
    const error = new RequestTimeoutError({ timeout: this.timeout, phase });
    this.#controller.abort(
      this.#origin === '' ? error : locateError(error, this.#origin, this.#method, this.#target),
    );
  }

  /** The request goes to `origin` now (a hop of an Agent's): the timeout error names it. */
  at(origin: string, method: string, target: string): void {
    this.#origin = origin;
    this.#method = method;
    this.#target = target;
  }

  /** A connection starts an exchange of this request. */
  exchangeStarted(): void {
    if (this.#stage === 'running') this.#stage = 'exchanging';
  }

  /** That exchange is over (its response read to the end, or failed). */
  exchangeEnded(): void {
    if (this.#stage === 'exchanging') this.#stage = 'running';
    else if (this.#stage === 'handed-over') this.end();
  }

  /** The response goes to the caller: the deadline ends with its exchange, or now if that is over. */
  handOver(): void {
    if (this.#stage === 'exchanging') this.#stage = 'handed-over';
    else if (this.#stage === 'running') this.end();
  }

  /** The request is over: clear the timer and stop listening to the caller's signal. */
  end(): void {
    if (this.#stage === 'over') return;
    this.#stage = 'over';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onCallerAbort !== undefined) {
      this.#callerSignal!.removeEventListener('abort', this.#onCallerAbort);
    }
  }

  /**
   * For the layer that made this deadline: the request settles as `pending` does; a response
   * is handed over ({@link handOver}), a failure ends the deadline.
   */
  cover(pending: Promise<HttpResponse>): Promise<HttpResponse> {
    return pending.then(
      (response) => {
        this.handOver();
        return response;
      },
      (error: unknown) => {
        this.end();
        throw error;
      },
    );
  }
}

/**
 * @internal Runs a request under the deadline its `timeout` sets (none: `run(undefined)`, with
 * no timer and no promise added): the deadline is handed over with the response, or ends with
 * the failure. A bad `timeout` rejects with InvalidArgumentError before `run` is called.
 */
export function underDeadline(
  timeout: unknown,
  signal: AbortSignal | undefined,
  run: (deadline: RequestDeadline | undefined) => Promise<HttpResponse>,
): Promise<HttpResponse> {
  if (timeout === undefined) return run(undefined);
  let deadline: RequestDeadline | undefined;
  try {
    deadline = startDeadline(timeout, signal);
  } catch (error) {
    return Promise.reject(error);
  }
  return deadline === undefined ? run(undefined) : deadline.cover(run(deadline));
}

/**
 * @internal The deadline a request's `timeout` sets, started now; undefined when it sets none
 * (undefined, `Infinity`, or longer than a timer can hold).
 *
 * @throws InvalidArgumentError unless `timeout` is undefined or a number > 0 (Infinity allowed)
 */
export function startDeadline(
  timeout: unknown,
  signal: AbortSignal | undefined,
): RequestDeadline | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== 'number' || !(timeout > 0)) {
    throw new InvalidArgumentError(
      'timeout must be a positive number of ms (Infinity for no bound)',
    );
  }
  if (timeout > MAX_TIMER_MS) return undefined;
  return new RequestDeadline(timeout, signal);
}
