// @ts-check
/**
 * Turns the raw runs of bench/run.mjs into medians, ratios, target verdicts, and RESULTS.md.
 */

/** Display names of the HTTP clients. */
export const LABELS = {
  'httpool-pool': 'httpool `pool.request()`',
  'httpool-lease': 'httpool leased connection',
  'httpool-fetch': 'httpool `agent.fetch()`',
  'httpool-pool@base': 'baseline `pool.request()`',
  'httpool-lease@base': 'baseline leased connection',
  'httpool-fetch@base': 'baseline `agent.fetch()`',
  'undici-pool': 'undici 7 `Pool.request()`',
  'undici-dispatch': 'undici 7 `Pool.dispatch()`',
  'undici8-pool': 'undici 8 `Pool.request()`',
  'undici8-dispatch': 'undici 8 `Pool.dispatch()`',
  'undici-fetch': 'undici 7 `fetch` + Agent',
  'node-http': 'node `http.Agent` keepAlive',
  'node-fetch': 'node global `fetch`',
  floor: 'raw-socket floor',
  'httpool-h2': 'httpool h2, 1 session',
  'httpool-h2@base': 'baseline h2, 1 session',
  'undici-h2': 'undici h2 `Client` (`allowH2` / `H2CClient`)',
  'h2-floor': 'bare `node:http2` session (floor)',
  'httpool-h1': 'httpool HTTP/1.1, 16 connections',
  'httpool-h1@base': 'baseline HTTP/1.1, 16 connections',
};

/**
 * The distinct error messages of the runs that failed.
 *
 * @param {any[]} runs
 * @returns {string[]}
 */
function errorsOf(runs) {
  return [...new Set(runs.filter((r) => r.error !== undefined).map((r) => String(r.error)))];
}

/** @param {number[]} values */
export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * The parts of one run, one per Node version measured, each shaped as a whole run's data
 * was before `--node` (so results.json files from before it render too).
 *
 * @param {any} data what run.mjs collected
 * @returns {any[]}
 */
export function parts(data) {
  if (!Array.isArray(data.nodes)) return [data];
  return data.nodes.map((/** @type {any} */ part) => ({
    ...part,
    env: { ...data.env, node: part.node },
    warnings: data.warnings,
  }));
}

/**
 * @typedef {{ rps: number, cpu: number, p50: number, p99: number, faults: number, conns: number, resumed: number, requests: number, runs: number, errors: string[], note: string | undefined }} Cell
 */

/**
 * The medians of one client's runs in one scenario.
 *
 * @param {any[]} runs
 * @param {string | undefined} note
 * @returns {Cell}
 */
function cellOf(runs, note) {
  const ok = runs.filter((/** @type {any} */ r) => r.error === undefined && r.requests > 0);
  return {
    rps: median(ok.map((/** @type {any} */ r) => (r.requests / r.elapsedMs) * 1000)),
    cpu: median(ok.map((/** @type {any} */ r) => (r.cpuUserUs + r.cpuSystemUs) / r.requests)),
    p50: median(ok.map((/** @type {any} */ r) => r.p50)),
    p99: median(ok.map((/** @type {any} */ r) => r.p99)),
    faults: median(
      ok.map((/** @type {any} */ r) =>
        r.minorFaults === undefined ? Number.NaN : (r.minorFaults / r.requests) * 1000,
      ),
    ),
    conns: median(ok.map((/** @type {any} */ r) => r.serverConnections)),
    resumed: median(ok.map((/** @type {any} */ r) => r.serverResumed ?? Number.NaN)),
    requests: median(ok.map((/** @type {any} */ r) => r.requests)),
    runs: ok.length,
    errors: errorsOf(runs),
    note,
  };
}

/**
 * Medians per scenario and client (HTTP/1.1 and h2), and per pool shape and implementation.
 *
 * @param {any} data what run.mjs collected
 */
export function summarize(data) {
  /** @type {Record<string, Cell>} */
  const http = {};
  for (const scenario of data.scenarios) {
    for (const client of data.clients) {
      const key = `${scenario.id}|${client}`;
      http[key] = cellOf(data.httpRuns[key] ?? [], data.httpNotes[key]);
    }
  }
  /** @type {Record<string, Cell>} */
  const h2 = {};
  for (const scenario of data.h2Scenarios ?? []) {
    for (const client of data.h2Clients ?? []) {
      const key = `${scenario.id}|${client}`;
      h2[key] = cellOf(data.h2Runs?.[key] ?? [], data.h2Notes?.[key]);
    }
  }
  /** @type {Record<string, { pairsPerSec: number, nsPerPair: number, runs: number, errors: string[] }>} */
  const pools = {};
  for (const [key, runs] of Object.entries(data.poolRuns)) {
    const ok = runs.filter((/** @type {any} */ r) => r.error === undefined);
    pools[key] = {
      pairsPerSec: median(ok.map((/** @type {any} */ r) => r.pairsPerSec)),
      nsPerPair: median(ok.map((/** @type {any} */ r) => r.nsPerPair)),
      runs: ok.length,
      errors: errorsOf(runs),
    };
  }
  /** @type {Record<string, { heap: number, rss: number, idle: number, conns: number, runs: number, errors: string[] }>} */
  const heap = {};
  for (const [client, runs] of Object.entries(data.heapRuns)) {
    const ok = runs.filter((/** @type {any} */ r) => r.error === undefined);
    heap[client] = {
      heap: median(ok.map((/** @type {any} */ r) => r.heapPerConnBytes)),
      rss: median(ok.map((/** @type {any} */ r) => r.rssPerConnBytes)),
      idle: median(ok.map((/** @type {any} */ r) => r.idle)),
      conns: median(ok.map((/** @type {any} */ r) => r.serverConnections)),
      runs: ok.length,
      errors: errorsOf(runs),
    };
  }
  return { http, h2, pools, heap };
}

/** Issue 14's h2 targets: httpool's h2 against undici's, and one session against 16 HTTP/1.1 connections. */
export const H2_TARGETS = { rps: 1.5, cpu: 0.67, h1Cpu: 1.5, h1At: 256 };

/**
 * The h2 targets per scenario, each with its measured ratio and whether it is met.
 *
 * @param {any} data
 * @param {ReturnType<typeof summarize>} s
 */
export function h2Targets(data, s) {
  /** @param {string} scenario @param {string} client */
  const cell = (scenario, client) => s.h2[`${scenario}|${client}`];
  return (data.h2Scenarios ?? []).map((/** @type {any} */ scenario) => {
    const pool = cell(scenario.id, 'httpool-h2');
    const undici = cell(scenario.id, 'undici-h2');
    const floor = cell(scenario.id, 'h2-floor');
    const h1 = cell(scenario.id, 'httpool-h1');
    return {
      scenario: scenario.id,
      rps: pool && undici ? pool.rps / undici.rps : Number.NaN,
      cpu: pool && undici ? pool.cpu / undici.cpu : Number.NaN,
      floorCpu: pool && floor ? pool.cpu / floor.cpu : Number.NaN,
      h1Cpu: pool && h1 ? pool.cpu / h1.cpu : Number.NaN,
      h1Target: scenario.concurrency === H2_TARGETS.h1At,
    };
  });
}

/**
 * @param {number} value
 * @param {number} target
 * @param {boolean} atLeast
 */
function metOrNot(value, target, atLeast) {
  if (!Number.isFinite(value)) return '–';
  return `${ratio(value)} ${(atLeast ? value >= target : value <= target) ? '**met**' : 'not met'}`;
}

/**
 * The targets of the benchmark issue, each with its measured value.
 *
 * @param {any} _data
 * @param {ReturnType<typeof summarize>} s
 */
export function targets(_data, s) {
  const rows = [];
  /** @param {string} scenario @param {string} client */
  const cell = (scenario, client) => s.http[`${scenario}|${client}`];
  for (const [scenario, want] of [
    ['c=16, 13 B', 1.5],
    ['c=64, 13 B', 1.5],
    ['c=16, 16 KiB', 1.3],
    ['c=64, 16 KiB', 1.3],
  ]) {
    const a = cell(String(scenario), 'httpool-pool');
    const b = cell(String(scenario), 'undici-pool');
    rows.push({
      what: `${scenario}: httpool \`pool.request()\` req/s ÷ undici Pool req/s`,
      value: a && b ? a.rps / b.rps : Number.NaN,
      target: Number(want),
      atLeast: true,
    });
    if (String(scenario).endsWith('13 B')) {
      rows.push({
        what: `${scenario}: httpool \`pool.request()\` CPU µs/req ÷ undici Pool CPU µs/req`,
        value: a && b ? a.cpu / b.cpu : Number.NaN,
        target: 0.65,
        atLeast: false,
      });
    }
  }
  for (const scenario of ['c=16, 13 B', 'c=64, 13 B']) {
    const a = cell(scenario, 'httpool-fetch');
    const b = cell(scenario, 'node-fetch');
    rows.push({
      what: `${scenario}: httpool \`agent.fetch()\` req/s ÷ node global fetch req/s`,
      value: a && b ? a.rps / b.rps : Number.NaN,
      target: 3,
      atLeast: true,
      why: a?.note ?? (a?.errors[0] !== undefined ? `error: ${a.errors[0]}` : undefined),
    });
  }
  const h = s.pools['bookkeeping|httpool'];
  const g = s.pools['bookkeeping|generic-pool'];
  rows.push({
    what: 'pool bookkeeping: httpool acquire+release pairs/s ÷ generic-pool',
    value: h && g ? h.pairsPerSec / g.pairsPerSec : Number.NaN,
    target: 3,
    atLeast: true,
  });
  return rows.map((row) => ({
    ...row,
    verdict: verdict(row.value, row.target, row.atLeast, row.why),
  }));
}

/** Scenarios with more requests in flight than this many connections get a note on queueing. */
const CONNECTIONS_NOTE = 64;

/** Issue 17's targets ("Speed, round two"). */
export const ROUND_TWO = {
  floorCpu: 1.3,
  undici8Pool: 2,
  undici8Dispatch: 1.3,
  fetchUndici8Pool: 1.5,
  fetchNodeFetch: 3,
  tls: 1.5,
  heap: 1,
};

/**
 * Issue 17's targets for one Node version's part, each with its measured ratio and verdict.
 * Those set against undici 8 are for Node 24; on a Node that undici 8 does not run on they
 * are not measured, and say why.
 *
 * @param {any} data one part (see parts())
 * @param {ReturnType<typeof summarize>} s
 */
export function roundTwoTargets(data, s) {
  /** @type {{ what: string, value: number, target: number, atLeast: boolean, why?: string | undefined }[]} */
  const rows = [];
  /** @param {string} scenario @param {string} client */
  const cell = (scenario, client) => s.http[`${scenario}|${client}`];
  /** Why a cell has no value: its client's skip, its note, or its first error. */
  const whyNot = (/** @type {string} */ scenario, /** @type {string} */ client) => {
    const skipped = data.skippedClients?.[client];
    if (skipped !== undefined) return `${client} skipped: ${skipped}`;
    const c = cell(scenario, client);
    if (c === undefined) return 'not in this run';
    return c.note ?? (c.errors[0] !== undefined ? `${client}: ${c.errors[0]}` : undefined);
  };
  /**
   * @param {string} what
   * @param {string} scenario
   * @param {string} a client measured
   * @param {string} b client it is measured against
   * @param {'rps' | 'cpu'} figure
   * @param {number} target
   */
  const row = (what, scenario, a, b, figure, target) => {
    const x = cell(scenario, a);
    const y = cell(scenario, b);
    const value = x && y ? x[figure] / y[figure] : Number.NaN;
    rows.push({
      what: `${scenario}: ${what}`,
      value,
      target,
      atLeast: figure === 'rps',
      why: Number.isFinite(value) ? undefined : (whyNot(scenario, a) ?? whyNot(scenario, b)),
    });
  };
  const node24 = /^v24\./.test(String(data.env?.node ?? ''));
  const for24 = node24 ? '' : ' (a Node 24 target)';
  for (const c of [16, 64])
    for (const body of ['13 B', '16 KiB'])
      row(
        '`pool.request()` CPU µs/req ÷ raw-socket floor',
        `c=${c}, ${body}`,
        'httpool-pool',
        'floor',
        'cpu',
        ROUND_TWO.floorCpu,
      );
  for (const [anchor, name, target] of /** @type {const} */ ([
    ['undici8-pool', 'Pool.request()', ROUND_TWO.undici8Pool],
    ['undici8-dispatch', 'Pool.dispatch()', ROUND_TWO.undici8Dispatch],
  ]))
    for (const c of [16, 64])
      for (const body of ['13 B', '16 KiB'])
        row(
          `\`pool.request()\` req/s ÷ undici 8 \`${name}\`${for24}`,
          `c=${c}, ${body}`,
          'httpool-pool',
          anchor,
          'rps',
          target,
        );
  for (const c of [16, 64]) {
    row(
      `\`agent.fetch()\` req/s ÷ undici 8 \`Pool.request()\`${for24}`,
      `c=${c}, 13 B`,
      'httpool-fetch',
      'undici8-pool',
      'rps',
      ROUND_TWO.fetchUndici8Pool,
    );
    row(
      '`agent.fetch()` req/s ÷ node global `fetch`',
      `c=${c}, 13 B`,
      'httpool-fetch',
      'node-fetch',
      'rps',
      ROUND_TWO.fetchNodeFetch,
    );
  }
  // Over TLS, against the newest undici this Node runs.
  const newest =
    data.skippedClients?.['undici8-pool'] === undefined && data.clients?.includes('undici8-pool')
      ? 'undici8-pool'
      : 'undici-pool';
  for (const body of ['13 B', '16 KiB'])
    row(
      `\`pool.request()\` req/s ÷ ${newest === 'undici8-pool' ? 'undici 8' : 'undici 7'} \`Pool.request()\``,
      `TLS, c=16, ${body}`,
      'httpool-pool',
      newest,
      'rps',
      ROUND_TWO.tls,
    );
  const h = s.heap['httpool'];
  const n = s.heap['node-http'];
  rows.push({
    what: 'heap per idle connection: httpool `ConnectionPool` ÷ `http.Agent`',
    value: h && n ? h.heap / n.heap : Number.NaN,
    target: ROUND_TWO.heap,
    atLeast: false,
    why: h && n ? undefined : 'the heap section did not run',
  });
  return rows.map((r) => ({ ...r, verdict: verdict(r.value, r.target, r.atLeast, r.why) }));
}

/**
 * @param {number} value
 * @param {number} target
 * @param {boolean} atLeast true for "value >= target", false for "value <= target"
 * @param {string | undefined} why a note when there is no value
 */
function verdict(value, target, atLeast, why) {
  if (!Number.isFinite(value)) return `not measured${why ? ` (${why})` : ''}`;
  if (atLeast ? value >= target : value <= target) return '**met**';
  const by = atLeast ? 1 - value / target : value / target - 1;
  // A near miss says so, rather than "missed by 0 %".
  return `missed by ${(by * 100).toFixed(by < 0.01 ? 1 : 0)} %`;
}

/** @param {number} n */
const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
/** @param {number} n @param {number} digits */
const fixed = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
/** @param {number} n */
const ratio = (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');

/**
 * @param {any} data what run.mjs collected
 * @param {string} svgName the chart's file name, next to the Markdown file
 * @returns {string} RESULTS.md
 */
export function renderMarkdown(data, svgName) {
  const { env } = data;
  const views = parts(data);
  const out = [];
  out.push('# httpool benchmark results', '');
  out.push(
    `Generated by \`bench/run.mjs\`; see [README.md](README.md) for what each figure means and how to read it.`,
    '',
  );
  out.push('| | |', '| --- | --- |');
  out.push(`| date | ${env.date} |`);
  out.push(
    `| node | ${views.map((v) => v.env.node).join(', ')}${views.length > 1 ? ' (a part each, below)' : ''} |`,
  );
  out.push(`| CPU | ${env.cpu} |`);
  out.push(`| OS | ${env.os} |`);
  out.push(`| command | \`${env.command}\` |`);
  if (env.baseline !== undefined)
    out.push(
      `| baseline | \`${env.baseline}\` (the \`@base\` rows: another build, measured in the same run) |`,
    );
  out.push(
    `| repeats | ${env.repeats} per cell, medians shown; client order reversed on every other repeat |`,
  );
  out.push(`| pinning | ${env.pinning} |`);
  out.push(
    `| per run | ${int(env.counts.warmup)} warm-up requests, then ${int(env.counts.requests)} measured (${int(env.counts.requestsC1)} at c=1), each run capped at ${env.counts.maxMs / 1000} s; ${env.connections} connections (1 at c=1)${env.counts.coldRequests === undefined ? '' : `; cold start: up to ${env.counts.coldRounds} rounds of a new client and ${int(env.counts.coldRequests)} requests, no warm-up`} |`,
  );
  out.push(
    `| wall time | ${data.elapsedS.toFixed(0)} s${data.budgetSpent ? ' (time budget spent: some runs skipped, see notes)' : ''} |`,
  );
  out.push('');
  out.push(
    'The machine is shared and noisy: compare ratios within this run, not absolute figures across runs. CPU µs per request is the steadiest figure.',
    '',
  );
  if (env.quick)
    out.push(
      '**A quick run**: one repeat of small counts with a barely warm JIT, a check that every cell runs. Its figures, the ratios to the floor above all, are not ones to quote.',
      '',
    );
  if (views.some((v) => (v.scenarios ?? []).length > 0))
    out.push(`![req/s per client and scenario](${svgName})`, '');
  for (const view of views) {
    // Each part's headings sit one level below its own `## Node …` heading.
    out.push(`## Node ${view.env.node}`, '');
    for (const line of renderPart(view)) out.push(line.startsWith('#') ? `#${line}` : line);
  }
  if (data.warnings.length > 0) {
    out.push('## Warnings printed by the measured processes', '');
    for (const w of data.warnings) out.push(`- \`${w.warning}\` (${w.where})`);
    out.push('');
  }
  out.push(`Raw runs: \`${svgName.replace(/\.svg$/, '.json')}\` next to this file.`, '');
  return out.join('\n');
}

/**
 * A client is left out of a part's tables when it ran nowhere there: said once instead.
 *
 * @param {any} data one part
 * @param {ReturnType<typeof summarize>} s
 * @param {string} client
 */
function skippedEverywhere(data, s, client) {
  return (
    data.skippedClients?.[client] !== undefined &&
    data.scenarios.every(
      (/** @type {any} */ scenario) => (s.http[`${scenario.id}|${client}`]?.runs ?? 0) === 0,
    )
  );
}

/**
 * One Node version's part of RESULTS.md (headings from `##`; renderMarkdown puts them a level
 * lower).
 *
 * @param {any} data one part (see parts())
 * @returns {string[]}
 */
function renderPart(data) {
  const s = summarize(data);
  const out = [];
  if (data.budgetSpent)
    out.push('This part spent its time budget: some runs were skipped (see the notes).', '');

  const roundTwo = roundTwoTargets(data, s);
  if (data.scenarios.length > 0 || Object.keys(s.heap).length > 0) {
    out.push('## Issue 17 targets', '');
    out.push(
      `Ratios of medians in this part. The undici 8 targets are set for Node 24; \`pool.request()\` against the raw-socket floor is CPU µs per request, the rest req/s (heap: bytes per idle connection).`,
      '',
    );
    out.push('| target | measured | wanted | verdict |', '| --- | --- | --- | --- |');
    for (const t of roundTwo)
      out.push(
        `| ${t.what} | ${ratio(t.value)} | ${t.atLeast ? '≥' : '≤'} ${t.target}× | ${t.verdict} |`,
      );
    out.push('');
  }

  // An h2-only run has none of these figures: no table of "not measured" rows then.
  if (data.scenarios.length > 0 || Object.keys(s.pools).length > 0) {
    out.push('## Targets', '');
    out.push(
      'The first round of targets (against undici 7, the `Pool.request()` of the undici 7 row).',
      '',
    );
    out.push('| target | measured | wanted | verdict |', '| --- | --- | --- | --- |');
    for (const t of targets(data, s)) {
      out.push(
        `| ${t.what} | ${ratio(t.value)} | ${t.atLeast ? '≥' : '≤'} ${t.target}× | ${t.verdict} |`,
      );
    }
    out.push('');
  }

  const clients = data.clients.filter(
    (/** @type {string} */ client) => !skippedEverywhere(data, s, client),
  );
  const with8 = clients.includes('undici8-pool');
  if (data.scenarios.length > 0) {
    out.push('## HTTP clients', '');
    out.push(
      `Columns: requests per second; client CPU time (user + system) per request; latency percentiles of one request as its caller sees it (queueing for a connection included); minor page faults of the client per 1,000 requests (memory the allocator gave back to the OS and took again: each costs kernel time); connections the server accepted during the run (warm-up included; over TLS, how many of them resumed a session); ratios to undici 7 ${with8 ? 'and 8 ' : ''}\`Pool.request()\` and to the raw-socket floor.`,
      '',
    );
    for (const client of data.clients)
      if (skippedEverywhere(data, s, client))
        out.push(
          `- ${/** @type {Record<string, string>} */ (LABELS)[client] ?? client}: skipped in every scenario: ${data.skippedClients[client]}`,
        );
    if (clients.length < data.clients.length) out.push('');
  }
  for (const scenario of data.scenarios) {
    out.push(`### ${scenario.id}`, '');
    if (scenario.cold)
      out.push(
        `Each run: rounds of a new client (a new pool, so new connections) and ${int(data.env.counts.coldRequests)} requests, ${scenario.concurrency} in flight, no warm-up; the clock and CPU count run from before the client is made to the last body byte, module loading excluded; conns counts every round's. Node's global \`fetch\` has one pool per process, so it runs one round.`,
        '',
      );
    else if (scenario.concurrency > CONNECTIONS_NOTE)
      out.push(
        `${scenario.concurrency} requests in flight over 16 connections: ${scenario.concurrency - 16} are always waiting for one (Node's global \`fetch\` opens as many as it likes: see conns).`,
        '',
      );
    out.push(
      `| client | req/s | CPU µs/req | p50 ms | p99 ms | faults / 1k req | conns | req/s ÷ undici 7 Pool | CPU ÷ undici 7 Pool |${with8 ? ' req/s ÷ undici 8 Pool | CPU ÷ undici 8 Pool |' : ''} req/s ÷ floor | CPU ÷ floor |`,
    );
    out.push(
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${with8 ? ' ---: | ---: |' : ''} ---: | ---: |`,
    );
    const base = s.http[`${scenario.id}|undici-pool`];
    const base8 = s.http[`${scenario.id}|undici8-pool`];
    const floor = s.http[`${scenario.id}|floor`];
    const blank = ` | | | | | | | |${with8 ? ' | |' : ''} | |`;
    const notes = [];
    for (const client of clients) {
      const c = s.http[`${scenario.id}|${client}`];
      const label = /** @type {Record<string, string>} */ (LABELS)[client] ?? client;
      if (c.runs === 0) {
        const why = c.note ?? (c.errors.length > 0 ? `error: ${c.errors[0]}` : 'not run');
        out.push(`| ${label} | ${why.startsWith('n/a') ? 'n/a' : '–'}${blank}`);
        notes.push(`${label}: ${why}`);
        continue;
      }
      if (c.errors.length > 0)
        notes.push(`${label}: ${c.errors.length} run(s) failed: ${c.errors.join('; ')}`);
      const conns =
        scenario.tls && Number.isFinite(c.resumed)
          ? `${int(c.conns)} (${int(c.resumed)} resumed)`
          : int(c.conns);
      out.push(
        `| ${label} | ${int(c.rps)} | ${fixed(c.cpu, 1)} | ${fixed(c.p50, 3)} | ${fixed(c.p99, 3)} | ${fixed(c.faults, 0)} | ${conns} | ${ratio(c.rps / base?.rps)} | ${ratio(c.cpu / base?.cpu)} |${with8 ? ` ${ratio(c.rps / base8?.rps)} | ${ratio(c.cpu / base8?.cpu)} |` : ''} ${ratio(c.rps / floor?.rps)} | ${ratio(c.cpu / floor?.cpu)} |`,
      );
    }
    out.push('');
    for (const note of notes) out.push(`- ${note}`);
    if (notes.length > 0) out.push('');
  }

  if ((data.h2Scenarios ?? []).length > 0) renderH2(data, s, out);
  if (Object.keys(data.dnsRuns ?? {}).length > 0) renderDns(data, out);

  if (data.poolImpls.length > 0 && Object.keys(s.pools).length > 0) {
    out.push('## Pool bookkeeping (no I/O)', '');
    out.push(
      'Acquire + release pairs of trivial resources, 16 resources and 16 loops each doing `r = await pool.acquire(); pool.release(r)`. httpool is its internal `ResourcePool` (`dist/pool/resource-pool.js`); "bare" is a free list plus a FIFO array of waiters written in 20 lines for this benchmark, the ceiling.',
      '',
    );
    const gp = s.pools['bookkeeping|generic-pool'];
    const bare = s.pools['bookkeeping|bare'];
    if (s.pools[`bookkeeping|${data.poolImpls[0]}`] !== undefined) {
      out.push(
        '| pool | pairs/s | ns/pair | ÷ generic-pool | ÷ bare |',
        '| --- | ---: | ---: | ---: | ---: |',
      );
      for (const impl of data.poolImpls) {
        const p = s.pools[`bookkeeping|${impl}`];
        if (p === undefined) continue;
        out.push(
          `| ${impl} | ${int(p.pairsPerSec)} | ${fixed(p.nsPerPair, 0)} | ${ratio(p.pairsPerSec / gp?.pairsPerSec)} | ${ratio(p.pairsPerSec / bare?.pairsPerSec)} |`,
        );
        if (p.errors.length > 0) out.push(`| | errors: ${p.errors.join('; ')} | | | |`);
      }
      out.push('');
    }
    if (s.pools[`waiters=0|${data.poolImpls[0]}`] !== undefined) {
      out.push('### Acquire cost with queued waiters', '');
      out.push(
        'One resource and W + 1 loops doing acquire + release, so W acquires are always queued and every release hands the resource to the oldest waiter. A queue with O(1) operations stays flat in W; what growth remains at 10,000 comes from 10,000 live promise chains (cache misses), which the bare queue shows as well, so judge each pool by its growth next to the bare one.',
        '',
      );
      out.push(
        '| pool | ns/pair, 0 waiting | 100 waiting | 10,000 waiting | 10,000 ÷ 0 | 10,000 ÷ 100 |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
      );
      for (const impl of data.poolImpls) {
        const [a, b, c] = [0, 100, 10_000].map((w) => s.pools[`waiters=${w}|${impl}`]);
        out.push(
          `| ${impl} | ${fixed(a?.nsPerPair, 0)} | ${fixed(b?.nsPerPair, 0)} | ${fixed(c?.nsPerPair, 0)} | ${ratio(c?.nsPerPair / a?.nsPerPair)} | ${ratio(c?.nsPerPair / b?.nsPerPair)} |`,
        );
        const errors = [a, b, c].flatMap((x) => x?.errors ?? []);
        if (errors.length > 0) out.push(`| | errors: ${errors.join('; ')} | | | | |`);
      }
      out.push('');
    }
  }

  if (Object.keys(s.heap).length > 0) {
    out.push('## Heap per idle connection', '');
    out.push(
      '1,000 keep-alive connections opened to the bench server through one client (each carried one request), left idle; `heapUsed` growth after a full GC (`--expose-gc`), divided by 1,000. RSS growth is shown too but includes kernel-side and allocator noise.',
      '',
    );
    out.push(
      '| client | heap bytes / idle conn | RSS bytes / idle conn | idle conns | server saw |',
      '| --- | ---: | ---: | ---: | ---: |',
    );
    for (const [client, h] of Object.entries(s.heap)) {
      if (h.runs === 0) {
        out.push(`| ${client} | – | | | | `);
        continue;
      }
      out.push(
        `| ${client} (${client.startsWith('httpool') ? 'ConnectionPool maxSize 1000' : client === 'undici-pool' ? 'Pool connections 1000' : 'http.Agent keepAlive'}) | ${int(h.heap)} | ${int(h.rss)} | ${int(h.idle)} | ${int(h.conns)} |`,
      );
    }
    for (const [client, h] of Object.entries(s.heap))
      if (h.errors.length > 0) out.push('', `- ${client}: ${h.errors.join('; ')}`);
    out.push('');
  }

  return out;
}

/**
 * The many-origins section of RESULTS.md: one Agent over many host names, with and without
 * its DNS cache (medians of the runs).
 *
 * @param {any} data
 * @param {string[]} out
 */
function renderDns(data, out) {
  const c = data.dnsCounts;
  out.push('## Many origins: the DNS cache', '');
  out.push(
    `One Agent (\`maxOrigins: ${c.maxOrigins}\`), ${int(c.names)} host names all on the bench server, ${c.workers} loops each taking the next name and sending ${c.perName} requests to it at once, ${c.rounds} times (${int(c.names * c.perName * c.rounds)} requests). Every lookup is the system's own (\`dns.lookup('localhost')\`); \`cache\` is the Agent's DNS cache, \`no-cache\` is \`dns: false\` with a \`lookup\`, so each connect looks its name up. Heap: growth of \`heapUsed\` after GC over the run (the cache's entries stay; dropped pools go).`,
    '',
  );
  out.push('| mode | lookups | connections | CPU µs/req | wall ms | heap growth KiB | runs |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [mode, runs] of Object.entries(data.dnsRuns)) {
    const ok = /** @type {any[]} */ (runs).filter((r) => r.error === undefined);
    const m = (/** @type {(r: any) => number} */ f) => median(ok.map(f));
    out.push(
      `| ${mode} | ${int(m((r) => r.lookups))} | ${int(m((r) => r.connections))} | ${fixed(
        m((r) => (r.cpuUserUs + r.cpuSystemUs) / r.requests),
        1,
      )} | ${int(m((r) => r.elapsedMs))} | ${int(m((r) => r.heapDeltaBytes / 1024))} | ${ok.length} |`,
    );
    for (const error of errorsOf(/** @type {any[]} */ (runs))) out.push('', `- ${mode}: ${error}`);
  }
  out.push('');
}

/**
 * The HTTP/2 section of RESULTS.md: the targets, then one table per scenario.
 *
 * @param {any} data
 * @param {ReturnType<typeof summarize>} s
 * @param {string[]} out
 */
function renderH2(data, s, out) {
  const c = data.h2Counts;
  out.push('## HTTP/2', '');
  out.push(
    `Against \`bench/h2-server.mjs\` (\`node:http2\` over TLS and in cleartext, h2c by prior knowledge; \`node:https\` and \`node:http\` for the HTTP/1.1 row), ${int(c.warmup)} warm-up requests, then ${int(c.requests)} measured, each run capped at ${c.maxMs / 1000} s. The h2 clients use one connection each, with room for every request in flight (\`maxConcurrentStreams\` ≥ c, undici's \`pipelining\` = c); HTTP/1.1 uses 16 connections, so at c=64 and 256 requests queue for one. Flow-control windows are each client's defaults; the floor takes undici's (256 KiB per stream, 512 KiB per session). CPU µs per request is the figure to read: the server's core caps req/s for everything here.`,
    '',
  );
  out.push('### h2 targets', '');
  out.push(
    `httpool h2 ÷ undici h2 in the same scenario: req/s at least ${H2_TARGETS.rps}×, CPU µs/req at most ${H2_TARGETS.cpu}×. httpool h2 (one session) ÷ httpool HTTP/1.1 (16 connections) CPU µs/req at c=${H2_TARGETS.h1At}: at most ${H2_TARGETS.h1Cpu}×. The ratio to the bare \`node:http2\` floor has no target: it says how much of httpool's cost is node:http2's own.`,
    '',
  );
  out.push(
    `| scenario | req/s ÷ undici h2 (≥ ${H2_TARGETS.rps}×) | CPU ÷ undici h2 (≤ ${H2_TARGETS.cpu}×) | CPU ÷ h2 floor | CPU ÷ HTTP/1.1 at 16 conns (≤ ${H2_TARGETS.h1Cpu}× at c=${H2_TARGETS.h1At}) |`,
    '| --- | --- | --- | ---: | --- |',
  );
  for (const t of h2Targets(data, s)) {
    out.push(
      `| ${t.scenario} | ${metOrNot(t.rps, H2_TARGETS.rps, true)} | ${metOrNot(t.cpu, H2_TARGETS.cpu, false)} | ${ratio(t.floorCpu)} | ${t.h1Target ? metOrNot(t.h1Cpu, H2_TARGETS.h1Cpu, false) : ratio(t.h1Cpu)} |`,
    );
  }
  out.push('');
  // Skips are said once for the section, not once per scenario.
  const skips = new Set();
  for (const scenario of data.h2Scenarios) {
    for (const client of data.h2Clients) {
      const note = s.h2[`${scenario.id}|${client}`]?.note;
      if (note?.startsWith('skipped'))
        skips.add(`${/** @type {Record<string, string>} */ (LABELS)[client] ?? client}: ${note}`);
    }
  }
  for (const skip of skips) out.push(`- ${skip}`);
  if (skips.size > 0) out.push('');

  out.push('### h2 at a glance', '');
  out.push(
    'Each cell: req/s / CPU µs per request / connections the server accepted. `httpool-h1` is HTTP/1.1 over 16 connections (TLS or cleartext, as the scenario); the others are one h2 connection.',
    '',
  );
  // The short names (bench/README.md lists them): the long labels would not fit as headers.
  const labels = data.h2Clients.map((/** @type {string} */ client) => `\`${client}\``);
  out.push(
    `| scenario | ${labels.join(' | ')} |`,
    `| --- | ${labels.map(() => '---:').join(' | ')} |`,
  );
  for (const scenario of data.h2Scenarios) {
    const cells = data.h2Clients.map((/** @type {string} */ client) => {
      const cell = s.h2[`${scenario.id}|${client}`];
      return cell === undefined || cell.runs === 0
        ? '–'
        : `${int(cell.rps)} / ${fixed(cell.cpu, 1)} / ${int(cell.conns)}`;
    });
    out.push(`| ${scenario.id} | ${cells.join(' | ')} |`);
  }
  out.push('');

  for (const scenario of data.h2Scenarios) {
    out.push(`### h2: ${scenario.id}`, '');
    out.push(
      '| client | req/s | CPU µs/req | p50 ms | p99 ms | faults / 1k req | conns | req/s ÷ undici h2 | CPU ÷ undici h2 | CPU ÷ h2 floor |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    const undici = s.h2[`${scenario.id}|undici-h2`];
    const floor = s.h2[`${scenario.id}|h2-floor`];
    const notes = [];
    for (const client of data.h2Clients) {
      const cell = s.h2[`${scenario.id}|${client}`];
      const label = /** @type {Record<string, string>} */ (LABELS)[client] ?? client;
      if (cell === undefined) continue;
      if (cell.runs === 0) {
        const why = cell.note ?? (cell.errors.length > 0 ? `error: ${cell.errors[0]}` : 'not run');
        out.push(`| ${label} | – | | | | | | | | |`);
        if (!why.startsWith('skipped')) notes.push(`${label}: ${why}`);
        continue;
      }
      if (cell.errors.length > 0)
        notes.push(`${label}: ${cell.errors.length} run(s) failed: ${cell.errors.join('; ')}`);
      out.push(
        `| ${label} | ${int(cell.rps)} | ${fixed(cell.cpu, 1)} | ${fixed(cell.p50, 3)} | ${fixed(cell.p99, 3)} | ${fixed(cell.faults, 0)} | ${int(cell.conns)} | ${ratio(cell.rps / undici?.rps)} | ${ratio(cell.cpu / undici?.cpu)} | ${ratio(cell.cpu / floor?.cpu)} |`,
      );
    }
    out.push('');
    for (const note of notes) out.push(`- ${note}`);
    if (notes.length > 0) out.push('');
  }
}
