// @ts-check
/**
 * A self-signed certificate for 127.0.0.1 and localhost, made at run time with the `openssl`
 * CLI in a temporary directory (the way test/helpers/tls.ts makes its certificates), for the
 * bench servers' TLS ports. Without openssl there is none, and the TLS scenarios are skipped.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * @param {string} who the server's name, for the message when openssl fails
 * @returns {{ key: string, cert: string } | undefined} PEM strings, or undefined without openssl
 */
export function makeCertificate(who) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'httpool-bench-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return {
      key: readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
  } catch (error) {
    process.stderr.write(`${who}: no TLS ports (openssl failed: ${error})\n`);
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
