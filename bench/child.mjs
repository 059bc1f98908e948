// @ts-check
/**
 * How a measurement child process (client.mjs, micro.mjs, heap.mjs) ends: its result, or
 * `{ error }`, as one JSON line on stdout for run.mjs to read, and exit status 0 or 1.
 *
 * @param {Promise<unknown>} run
 */
export function reportAndExit(run) {
  run.then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error) => {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      process.stdout.write(`${JSON.stringify({ error: message })}\n`);
      process.exit(1);
    },
  );
}
