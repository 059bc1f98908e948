/** The streams a command uses, so that the commands do not reach for `process` directly. */

/** A writable text stream; `isTTY` and `columns` matter for the progress line. */
export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Standard output, standard error and a way to read all of standard input. */
export interface Io {
  /** Results go here. */
  stdout: OutStream;
  /** Progress, failures and usage errors go here. */
  stderr: OutStream;
  /** Reads standard input to the end as UTF-8. */
  readStdin(): Promise<string>;
  /**
   * Calls `listener` on the first Ctrl-C (SIGINT) until the returned function is called; a
   * second Ctrl-C then ends the process as usual. Absent: the command cannot be interrupted.
   */
  onInterrupt?(listener: () => void): () => void;
}

/** The process's own streams. */
export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) {
        chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      }
      return Buffer.concat(chunks).toString('utf8');
    },
    onInterrupt(listener) {
      process.once('SIGINT', listener);
      return () => process.off('SIGINT', listener);
    },
  };
}

/** Exit status after Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED = 130;

/** The reason requests in flight are aborted with after Ctrl-C. */
const INTERRUPT = Object.assign(new Error('interrupted'), { code: 'ERR_INTERRUPTED' });

/**
 * Ctrl-C for a command that runs many requests: after the first one, {@link stopped} is true
 * (start nothing new) and every tracked request is aborted, to be left out of the report.
 */
export class Interruption {
  /** True once Ctrl-C was pressed. */
  stopped = false;
  readonly #inFlight = new Set<AbortController>();
  readonly #stopListening: (() => void) | undefined;

  /** Listens for Ctrl-C on `io` (if it can tell); `onStop` runs once when it comes. */
  constructor(io: Io, onStop: () => void) {
    this.#stopListening = io.onInterrupt?.(() => {
      this.stopped = true;
      onStop();
      for (const controller of this.#inFlight) controller.abort(INTERRUPT);
    });
  }

  /** Aborts `controller` on Ctrl-C, until {@link forget}. */
  track(controller: AbortController): void {
    this.#inFlight.add(controller);
  }

  /** Stops tracking `controller`; true when Ctrl-C aborted it (leave its request uncounted). */
  forget(controller: AbortController): boolean {
    this.#inFlight.delete(controller);
    return controller.signal.reason === INTERRUPT;
  }

  /** Stops listening for Ctrl-C. */
  close(): void {
    this.#stopListening?.();
  }
}
