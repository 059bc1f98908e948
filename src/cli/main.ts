#!/usr/bin/env node
/**
 * `httpool`: the command-line program. `httpool fetch` fetches many URLs as a crawler would,
 * `httpool bench` load-tests one origin, `httpool demo` compares a pooled crawl with one that
 * opens a connection per request. Built only on the package's public API.
 *
 * Exit status: 0 success, 1 when a request failed, 2 for a usage error, 130 after Ctrl-C.
 */
import { firstLine, UsageError } from './args.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { escapeControls, quote } from './escape.js';
import { fetchCommand } from './fetch.js';
import { type Io, processIo } from './io.js';
import { packageVersion } from './version.js';

/** Help text of `httpool` itself. */
export const MAIN_HELP = `Usage: httpool COMMAND [options]

An HTTP/1.1 and HTTP/2 connection pool and client for Node.js, from the command line.

Commands:
  fetch [URL...] [--input FILE|-]   fetch many URLs through one pool per origin and
                                    report requests, bytes, connections, reuse, latency
  bench URL                         load-test one origin through one connection pool
  demo                              crawl an embedded local site with and without
                                    connection reuse and compare (what npm start runs)

Options:
  -h, --help        show this help (or: httpool COMMAND --help)
  -V, --version     print the version

Exit status: 0 when everything succeeded, 1 when a request failed, 2 for a usage error,
130 when Ctrl-C stopped fetch or bench.
`;

const COMMANDS: Record<string, (argv: readonly string[], io: Io) => Promise<number>> = {
  fetch: fetchCommand,
  bench: benchCommand,
  demo: demoCommand,
};

/** Runs the program with `argv` (without `node` and the script) and returns the exit status. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) {
      io.stderr.write(MAIN_HELP);
      return 2;
    }
    if (first === '-h' || first === '--help' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (topic !== undefined && COMMANDS[topic] !== undefined)
        return await COMMANDS[topic](['--help'], io);
      io.stdout.write(MAIN_HELP);
      return 0;
    }
    if (first === '-V' || first === '--version') {
      io.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (command === undefined) {
      throw new UsageError(
        first.startsWith('-') ? `unknown option ${first}` : `unknown command ${quote(first)}`,
      );
    }
    return await command(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      const hint = first !== undefined && Object.hasOwn(COMMANDS, first) ? ` ${first}` : '';
      io.stderr.write(
        `httpool: ${escapeControls(firstLine(error.message))} (see httpool${hint} --help)\n`,
      );
      return error.exitCode;
    }
    throw error;
  }
}

// `httpool fetch ... | head` closes the pipe early: what is left to print has no reader, which
// is not a failure worth a stack trace. The run's own exit status stands.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

main(process.argv.slice(2), processIo()).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    // A stack has several lines; each is escaped on its own (a message may quote a server).
    process.stderr.write(
      `httpool: internal error: ${text.split('\n').map(escapeControls).join('\n')}\n`,
    );
    process.exitCode = 1;
  },
);
