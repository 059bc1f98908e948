/**
 * A one-line live status on a terminal: redrawn in place with `\r` a few times a second, only
 * when the stream is a TTY (never in a pipe or a log file).
 */
import { escapeControls } from './escape.js';

/** The stream a {@link Progress} writes to. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A status line that redraws itself until {@link stop}. */
export class Progress {
  readonly #stream: ProgressStream;
  readonly #render: (width: number) => string;
  readonly #enabled: boolean;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #drawn = false;

  /**
   * @param stream usually `process.stderr`
   * @param render returns the line to show, at most `width` characters
   * @param intervalMs redraw period
   */
  constructor(stream: ProgressStream, render: (width: number) => string, intervalMs = 100) {
    this.#intervalMs = intervalMs;
    this.#stream = stream;
    this.#render = render;
    this.#enabled = stream.isTTY === true;
  }

  /** True when the stream is a terminal and the line is shown. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Starts redrawing. */
  start(): void {
    if (!this.#enabled || this.#timer !== undefined) return;
    this.#draw();
    this.#timer = setInterval(() => this.#draw(), this.#intervalMs);
    this.#timer.unref();
  }

  /**
   * Prints a whole line above the status line (the status line is redrawn after it). Controls
   * in it are escaped, as a last safeguard: the line's values should be made visible already.
   */
  log(line: string): void {
    this.#clear();
    this.#stream.write(`${escapeControls(line)}\n`);
    if (this.#timer !== undefined) this.#draw();
  }

  /** Stops redrawing and erases the status line. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clear();
  }

  #draw(): void {
    const columns = this.#stream.columns;
    // A terminal of unknown size (columns 0 or absent) is taken as 80 wide.
    const width = Math.max(20, (columns !== undefined && columns > 0 ? columns : 80) - 1);
    const line = escapeControls(this.#render(width)).slice(0, width);
    this.#stream.write(`\r${line}\x1b[K`);
    this.#drawn = true;
  }

  #clear(): void {
    if (!this.#drawn) return;
    this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}

/** A text bar `[#####-----]` of `width` cells for `done / total`. */
export function bar(done: number, total: number, width: number): string {
  const cells = Math.max(0, width);
  const filled = total <= 0 ? 0 : Math.min(cells, Math.floor((done / total) * cells));
  return `[${'#'.repeat(filled)}${'-'.repeat(cells - filled)}]`;
}
