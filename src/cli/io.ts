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
  };
}
