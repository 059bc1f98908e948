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
 * The requests a command has in flight: each gets an AbortController, and Ctrl-C aborts them
 * all (each request's deadline is the library's own `timeout`, so its `ERR_TIMEOUT` is a
 * RequestTimeoutError). After the first Ctrl-C, {@link stopped} is true (start nothing new)
 * and the aborted requests are to be left out of the report.
 */
export class InFlight {
  /** True once Ctrl-C was pressed. */
  stopped = false;
  /** Each request's controller. */
  readonly #requests = new Set<AbortController>();
  readonly #stopListening: (() => void) | undefined;

  /** Listens for Ctrl-C on `io` (if it can tell) and says so through `log` when it comes. */
  constructor(io: Io, log: (line: string) => void) {
    this.#stopListening = io.onInterrupt?.(() => {
      this.stopped = true;
      log('httpool: interrupted; finishing the report (Ctrl-C again to quit now)');
      for (const controller of this.#requests) controller.abort(INTERRUPT);
    });
  }

  /** A request starts: its controller, aborted on Ctrl-C. */
  begin(): AbortController {
    const controller = new AbortController();
    this.#requests.add(controller);
    return controller;
  }

  /** The request ended; true when Ctrl-C aborted it (leave it uncounted). */
  end(controller: AbortController): boolean {
    this.#requests.delete(controller);
    return controller.signal.reason === INTERRUPT;
  }

  /** Stops listening for Ctrl-C. */
  close(): void {
    this.#stopListening?.();
  }
}
