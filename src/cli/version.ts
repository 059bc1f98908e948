/** The package's version, for `--version` and the default User-Agent. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The package version, read (once) from the package.json above the running file. */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'httpool' && typeof pkg.version === 'string') {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // not here: look one directory up
    }
    dir = dirname(dir);
  }
  cached = 'unknown';
  return cached;
}

/** The User-Agent sent unless the command line says otherwise: `httpool/<version>`. */
export function defaultUserAgent(): string {
  return `httpool/${packageVersion()}`;
}
