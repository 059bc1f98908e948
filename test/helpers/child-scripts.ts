/**
 * Scripts run as child processes, for what only shows across processes: whether a script
 * exits by itself, and whether a promise settles before Node would exit. Each script starts
 * with a prelude of the test's own (its imports), then {@link SETTLE_PRELUDE}: its parameters
 * (JSON in argv[2]) and an exit code that says "never settled" until `settled()` is called.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A child that exits with this code ended before its outcome was printed: nothing kept it alive. */
export const UNSETTLED = 13;

/** What follows a test's imports in every script: `params`, `settled()` and `num()`. */
export const SETTLE_PRELUDE = `
const params = JSON.parse(process.argv[2]);
process.exitCode = ${UNSETTLED};
const settled = () => { process.exitCode = 0; };
const num = (value) => (value === 'Infinity' ? Number.POSITIVE_INFINITY : value);
`;

/** How a child script ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the test (or the safety bound) killed it: it did not exit by itself. */
  killed: boolean;
}

/** A running child script. */
export interface Script {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Resolves with performance.now() when a stdout line containing `text` arrived (NaN if never). */
  line(text: string): Promise<number>;
  /** performance.now() when the child exited; NaN before. */
  exitedAt(): number;
  kill(): void;
}

/**
 * A runner of scripts in a temporary directory (removed after the test file): `run(body,
 * params)` writes `prelude + body` and starts it; the child is killed after `boundMs` if it
 * has not exited by then, which the test sees as `killed`.
 */
export function scriptRunner(
  name: string,
  prelude: string,
  defaultBoundMs: number,
): (body: string, params: Record<string, unknown>, boundMs?: number) => Script {
  const dir = mkdtempSync(join(tmpdir(), `httpool-${name}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let scripts = 0;
  return (body, params, boundMs = defaultBoundMs) => {
    const file = join(dir, `script-${++scripts}.mjs`);
    writeFileSync(file, prelude + body);
    const child = spawn(process.execPath, [file, JSON.stringify(params)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    let exitedAt = Number.NaN;
    const watchers: Array<{ text: string; resolve: (at: number) => void }> = [];
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const at = performance.now();
      for (const watcher of watchers.splice(0)) {
        if (stdout.includes(watcher.text)) watcher.resolve(at);
        else watchers.push(watcher);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killed = true;
      child.kill('SIGKILL');
    };
    const bound = setTimeout(kill, boundMs);
    const exited = new Promise<Exit>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        exitedAt = performance.now();
        clearTimeout(bound);
        for (const watcher of watchers.splice(0)) watcher.resolve(Number.NaN);
        resolve({ code, signal, stdout, stderr, killed });
      });
    });
    return {
      child,
      exited,
      line: (text) =>
        stdout.includes(text)
          ? Promise.resolve(performance.now())
          : new Promise((resolve) => watchers.push({ text, resolve })),
      exitedAt: () => exitedAt,
      kill,
    };
  };
}

/** Everything the child said, so a failure shows why. */
export function describeExit(exit: Exit): string {
  return `exit ${exit.code} (signal ${exit.signal}, killed: ${exit.killed})\nstdout: ${exit.stdout}\nstderr: ${exit.stderr}`;
}

/** Asserts the child exited by itself with code 0, having printed every one of `lines`. */
export function assertSettled(exit: Exit, lines: string[]): void {
  assert.equal(exit.killed, false, `the child did not exit by itself\n${describeExit(exit)}`);
  assert.equal(exit.code, 0, describeExit(exit));
  for (const line of lines) {
    assert.ok(exit.stdout.includes(line), `missing "${line}"\n${describeExit(exit)}`);
  }
}
