/** Plain-text formatting for summaries: sizes, durations, rates, counts and aligned tables. */
import { visible } from './escape.js';

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Milliseconds for display: `0.42 ms`, `12.3 ms`, `1520 ms`. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

/** A rate for display, no decimals above 100. */
export function formatRate(perSecond: number): string {
  return perSecond >= 100 ? String(Math.round(perSecond)) : perSecond.toFixed(1);
}

/** A ratio 0..1 as a percentage: `0.953` → `95.3%`. */
export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

/** A count and its noun: `1 URL`, `2 URLs`, `0 URLs`. */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

/**
 * Lays out `rows` (the first is the header) in columns separated by two spaces; the first
 * column is left-aligned, the others right-aligned. A rule goes under the header. Cells are
 * made {@link visible}: an origin name in a cell never reaches the terminal raw.
 */
export function table(cells: readonly (readonly string[])[]): string {
  const rows = cells.map((row) => row.map(visible));
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out: string[] = [];
  rows.forEach((row, i) => {
    out.push(line(row));
    if (i === 0) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  });
  return `${out.join('\n')}\n`;
}
