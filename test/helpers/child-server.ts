/**
 * A server in a child process, for behaviour that only shows across processes (a socket whose
 * peer lives in the same event loop hides timing that a real server exposes). The child runs
 * an ES module given as source text, which must print its listening port as its first line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** A running child-process server. */
export interface ChildServer {
  readonly port: number;
  readonly child: ChildProcess;
  /** Ends the child and waits for it to exit. */
  close(): Promise<void>;
}

/**
 * Starts `source` (an ES module) in a new Node process with `env` added to the environment,
 * and resolves once it printed its port. Rejects if it exits first or says nothing for 10 s.
 */
export async function startChildServer(
  source: string,
  env: Record<string, string> = {},
): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('child server did not start in 10 s')), 10_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      out += text;
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(Number(line));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child server exited with ${code} before it listened`));
    });
  });
  return {
    port,
    child,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}
