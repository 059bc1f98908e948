/**
 * Telling an AbortSignal by its shape (`aborted` a boolean, `addEventListener` and
 * `removeEventListener` functions), as Node's own APIs do, rather than by `instanceof`: an
 * AbortSignal from another realm, or a polyfill's, then works too. A module of its own so that
 * fetch() can use it without reaching the option tables (and through them the Agent).
 */

/** True for an AbortSignal, judged by shape. */
export function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).removeEventListener === 'function'
  );
}
