/**
 * Forced garbage collection for tests of finalizers (leases and bodies dropped unreleased).
 * The flag is set at run time, so the test runner needs no `--expose-gc`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/**
 * Runs full collections, `rounds` times at most, with a pause after each so finalizers get to
 * run, stopping early once `until()` holds. `until` must not deref() a WeakRef whose target
 * should go: V8 keeps a target deref'd in a job alive until that job ends.
 */
export async function collectGarbage(rounds: number, until: () => boolean = () => false) {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < rounds && !until(); i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
