// @ts-check
/**
 * The chart of RESULTS.md, written by hand as SVG: grouped bars of req/s, one group per
 * scenario, one bar per client, the value above each bar; one chart per Node version
 * measured, stacked.
 */
import { parts, summarize } from './report.mjs';

const NAMES = {
  'httpool-pool': 'httpool pool.request()',
  'httpool-lease': 'httpool leased connection',
  'httpool-fetch': 'httpool agent.fetch()',
  'undici-pool': 'undici 7 Pool.request()',
  'undici-dispatch': 'undici 7 Pool.dispatch()',
  'undici8-pool': 'undici 8 Pool.request()',
  'undici8-dispatch': 'undici 8 Pool.dispatch()',
  'undici-fetch': 'undici 7 fetch + Agent',
  'node-http': 'node http.Agent keepAlive',
  'node-fetch': 'node global fetch',
  floor: 'raw-socket floor',
};
const COLORS = {
  'httpool-pool': '#1f5fbf',
  'httpool-lease': '#4a8fe7',
  'httpool-fetch': '#9cc3f5',
  'undici-pool': '#d9620b',
  'undici-dispatch': '#a84a05',
  'undici8-pool': '#c0392b',
  'undici8-dispatch': '#7b241c',
  'undici-fetch': '#f5b36b',
  'node-http': '#2e8b57',
  'node-fetch': '#93d1a8',
  floor: '#555555',
};

/** @param {string} s */
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** @param {number} n */
function short(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 10_000) return `${Math.round(n / 1000)}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return String(Math.round(n));
}

/** @param {number} max */
function niceStep(max) {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

/**
 * @param {any} data what run.mjs collected
 * @returns {string} the SVG document
 */
export function renderSvg(data) {
  const charts = parts(data)
    .filter((part) => (part.scenarios ?? []).length > 0)
    .map((part) => chart(part));
  const width = Math.max(400, ...charts.map((c) => c.width));
  const height = Math.max(
    60,
    charts.reduce((sum, c) => sum + c.height, 0),
  );
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="title" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
    '<title id="title">HTTP/1.1 requests per second for each client and scenario, measured side by side against the same server</title>',
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  let y = 0;
  for (const c of charts) {
    out.push(`<g transform="translate(0 ${y})">`, ...c.lines, '</g>');
    y += c.height;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * One Node version's chart.
 *
 * @param {any} data one part of the run (see parts() in report.mjs)
 * @returns {{ lines: string[], width: number, height: number }}
 */
function chart(data) {
  const s = summarize(data);
  // A client that ran in no scenario of this part (undici 8 on Node 20) gets no bar.
  const clients = /** @type {string[]} */ (data.clients).filter(
    (client) =>
      data.skippedClients?.[client] === undefined ||
      data.scenarios.some(
        (/** @type {{ id: string }} */ sc) => (s.http[`${sc.id}|${client}`]?.runs ?? 0) > 0,
      ),
  );
  const scenarios = /** @type {{ id: string }[]} */ (data.scenarios);
  const bar = 12;
  const gap = 2;
  const groupGap = 34;
  const left = 70;
  const top = 70;
  const plotH = 320;
  const groupW = clients.length * (bar + gap) - gap;
  const plotW = scenarios.length * (groupW + groupGap) - groupGap + 20;
  const legendRows = Math.ceil(clients.length / 4);
  const width = left + plotW + 20;
  const height = top + plotH + 50 + legendRows * 22 + 20;
  let max = 0;
  for (const cell of Object.values(s.http))
    if (Number.isFinite(cell.rps)) max = Math.max(max, cell.rps);
  if (max === 0) max = 1;
  const step = niceStep(max * 1.08);
  const yMax = Math.ceil((max * 1.08) / step) * step;
  const y = (/** @type {number} */ v) => top + plotH - (v / yMax) * plotH;

  const out = [];
  out.push(
    `<text x="${left}" y="24" font-size="16" font-weight="600" fill="#222">HTTP/1.1 requests per second, same server, same machine (higher is better)</text>`,
  );
  out.push(
    `<text x="${left}" y="44" fill="#555">${esc(`${data.env.date.slice(0, 10)} · node ${data.env.node} · ${data.env.cpu} · medians of ${data.env.repeats} run(s) · 16 connections (1 at c=1)`)}</text>`,
  );
  // Grid and y axis.
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="${v === 0 ? '#333' : '#e3e3e3'}" stroke-width="1"/>`,
    );
    out.push(
      `<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#444">${short(v)}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#444">req/s</text>`,
  );
  // Bars.
  scenarios.forEach((scenario, g) => {
    const x0 = left + 10 + g * (groupW + groupGap);
    clients.forEach((client, i) => {
      const cell = s.http[`${scenario.id}|${client}`];
      const x = x0 + i * (bar + gap);
      const cx = (x + bar / 2).toFixed(1);
      const name = /** @type {Record<string, string>} */ (NAMES)[client] ?? client;
      if (cell === undefined || !Number.isFinite(cell.rps)) {
        const label = cell?.note?.startsWith('n/a')
          ? 'n/a'
          : cell?.note?.startsWith('skipped: not implemented')
            ? 'not impl.'
            : 'no data';
        out.push(
          `<text transform="translate(${(x + bar / 2 + 4).toFixed(1)} ${top + plotH - 4}) rotate(-90)" fill="#999" font-size="10">${label}</text>`,
        );
        return;
      }
      const yy = y(cell.rps);
      out.push(
        `<rect x="${x}" y="${yy.toFixed(1)}" width="${bar}" height="${(top + plotH - yy).toFixed(1)}" fill="${/** @type {Record<string, string>} */ (COLORS)[client] ?? '#888'}"><title>${esc(`${scenario.id} · ${name}: ${Math.round(cell.rps)} req/s, ${cell.cpu.toFixed(1)} µs CPU/req`)}</title></rect>`,
      );
      out.push(
        `<text transform="translate(${(Number(cx) + 4).toFixed(1)} ${(yy - 4).toFixed(1)}) rotate(-90)" fill="#333" font-size="10">${short(cell.rps)}</text>`,
      );
    });
    out.push(
      `<text x="${(x0 + groupW / 2).toFixed(1)}" y="${top + plotH + 20}" text-anchor="middle" font-weight="600" fill="#222">${esc(scenario.id)}</text>`,
    );
  });
  // Legend.
  const legendTop = top + plotH + 44;
  const colW = Math.floor(plotW / 4);
  clients.forEach((client, i) => {
    const lx = left + (i % 4) * colW;
    const ly = legendTop + Math.floor(i / 4) * 22;
    out.push(
      `<rect x="${lx}" y="${ly}" width="14" height="14" fill="${/** @type {Record<string, string>} */ (COLORS)[client] ?? '#888'}"/>`,
    );
    out.push(
      `<text x="${lx + 20}" y="${ly + 11}" fill="#222">${esc(/** @type {Record<string, string>} */ (NAMES)[client] ?? client)}</text>`,
    );
  });
  return { lines: out, width, height };
}
