/**
 * The HTML report: one self-contained file (inline CSS, JS and SVG; a Content-Security-Policy that forbids
 * every network fetch), so it opens from a CI artifact or a laptop with no network. Everything shown is
 * untrusted text from the run (cell ids, messages, command output, policy YAML) and goes through
 * escapeHtml; ids and links are derived, never copied.
 */
import { formatDuration } from '../errors.js';
import type { ReachabilityGrid } from '../model/connectivity.js';
import type { CellResult, Outcome, PhaseResult, RunResults, UpgradeResult } from '../model/results.js';
import { runOutcome, upgradePairFailed, upgradePairLabel } from '../model/results.js';
import {
  cellState,
  failedProbe,
  failureText,
  GRID_LEGEND_PARTS,
  type GridView,
  gridFailures,
  gridNumbering,
  gridSymbol,
  NOT_PROBED_SYMBOL,
} from '../probe/grid.js';
import { escapeHtml as h, slug } from './escape.js';
import {
  type AuditRow,
  auditCells,
  auditNotChecked,
  auditPassed,
  auditRows,
  countOutcomes,
  isBad,
  OUTCOMES,
  phasesShown,
  STAGE_TITLE,
  unclean,
} from './summary.js';

const OUTCOME_GLYPH: Record<Outcome, string> = {
  passed: '✓',
  failed: '✗',
  error: '!',
  skipped: '–',
  'not-run': '·',
};

const CSS = `
:root{--pass:#2e7d32;--fail:#c62828;--err:#6a1b9a;--skip:#8d8d8d;--notrun:#d6d6d6;--warn:#ef6c00;--ink:#1d1d1f;--mute:#5f6368;--line:#e3e3e3}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:#fafafa}
header{background:#fff;border-bottom:1px solid var(--line);padding:16px 24px}main{padding:8px 24px 40px;max-width:1500px}
h1{font-size:20px;margin:0 0 6px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 8px}
.badge{display:inline-block;white-space:nowrap;padding:1px 9px;border-radius:10px;color:#fff;font-weight:600;font-size:12px;vertical-align:middle}
.o-passed{background:var(--pass)}.o-failed{background:var(--fail)}.o-error{background:var(--err)}.o-skipped{background:var(--skip)}.o-not-run{background:var(--notrun);color:#444}
.meta{color:var(--mute);font-size:13px}.meta span{margin-right:14px}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3;font-weight:600}
table.matrix th{font-size:12px;padding:3px 5px}table.matrix td.ph{text-align:center;color:#fff;font-weight:600;min-width:44px;padding:3px 5px;font-size:12px;white-space:nowrap}.scroll{overflow-x:auto;max-width:100%}table.matrix td.ph.o-not-run{color:#444}table.matrix td.none{background:#fff}
table.matrix td.cell-id{white-space:nowrap}table.matrix td.cell-id a{color:var(--ink);font-family:ui-monospace,monospace}
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}pre{background:#f6f8fa;border:1px solid var(--line);padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap}
code.cmd{background:#f1f3f4;padding:2px 5px;border-radius:3px;display:inline-block;user-select:all;white-space:pre-wrap;word-break:break-word;min-width:260px;max-width:420px}
td>code:not(.cmd){white-space:nowrap}table.findings pre{max-width:400px;margin:0 0 4px}table.findings td:nth-child(1),table.findings td:nth-child(2){white-space:nowrap}
svg.upgrade-timeline{margin-top:10px}
details.cell{background:#fff;border:1px solid var(--line);border-left:6px solid var(--skip);margin:10px 0;padding:6px 12px}
details.cell.o-passed{border-left-color:var(--pass);background:#fff}details.cell.o-failed{border-left-color:var(--fail);background:#fff}details.cell.o-error{border-left-color:var(--err);background:#fff}details.cell.o-skipped,details.cell.o-not-run{background:#fff}
details.cell>summary{cursor:pointer;font-weight:600;font-family:ui-monospace,monospace}
.grids{display:flex;flex-wrap:wrap;gap:18px;margin:6px 0 14px}.grid-block{display:inline-block}
table.grid td,table.grid th{padding:0;width:22px;height:22px;text-align:center;font-family:ui-monospace,monospace;font-size:12px}table.grid th.peer{text-align:right;padding:0 6px;width:auto;white-space:nowrap;font-weight:400}
td.g-allowed{background:#e8f5e9}td.g-denied{background:#fbe9e7}td.g-none{background:#fff}
td.v-connected{background:#c8e6c9}td.v-refused{background:#ffe0b2}td.v-timeout{background:#ffcdd2}td.v-dns-failure{background:#d1c4e9}td.v-unreachable{background:#ffccbc}td.v-error{background:#f8bbd0;color:#880e4f;font-weight:700}td.v-none{background:#fff}
tr.check-failed>td,tr.check-error>td{background:#fff5f5}
td.d-match{background:#f1f8e9;color:#9e9e9e}td.d-mismatch{background:var(--fail);color:#fff;font-weight:700}td.d-none{background:#fff}td.d-error{background:#fff3e0;color:#e65100;font-weight:700}
ul.probe-failures{margin:0 0 14px;padding-left:18px}ul.probe-failures li{margin:3px 0}code.cmd.probe-command{max-width:100%;min-width:0;margin-top:2px}
.legend{font-size:12px;color:var(--mute);margin:4px 0}.legend span.sw{display:inline-block;min-width:18px;text-align:center;border:1px solid var(--line);margin:0 3px 0 10px;font-family:ui-monospace,monospace}
.toolbar{margin:10px 0}.toolbar button{font:inherit;padding:3px 10px;margin-right:6px;border:1px solid #bbb;background:#fff;border-radius:4px;cursor:pointer}.toolbar button[aria-pressed=true]{background:#333;color:#fff}
body.only-bad tr.row-good,body.only-bad details.cell.good{display:none}
svg text{font-family:ui-monospace,monospace;font-size:11px}
.small{font-size:12px;color:var(--mute)}
`;

const SCRIPT = `
(function(){
  var b=document.getElementById('only-bad');
  if(b)b.addEventListener('click',function(){var on=document.body.classList.toggle('only-bad');b.setAttribute('aria-pressed',on?'true':'false');});
  document.querySelectorAll('a[data-open]').forEach(function(a){a.addEventListener('click',function(){var d=document.getElementById(a.getAttribute('data-open'));if(d)d.open=true;});});
})();
`;

/** Anchor ids: index-qualified so that two untrusted ids that slug alike never collide. */
const cellAnchor = (index: number, id: string) => `cell-${index}-${slug(id)}`;

function badge(o: Outcome): string {
  return `<span class="badge o-${o}">${OUTCOME_GLYPH[o]} ${o}</span>`;
}

function phaseTitle(p: PhaseResult): string {
  return `${p.name}: ${p.outcome} in ${formatDuration(p.durationMs)}${p.reason ? ` — ${p.reason}` : ''}`;
}

function matrix(results: RunResults): string {
  const phases = phasesShown(results);
  const head = `<tr><th>cell</th><th>outcome</th>${phases.map((p) => `<th>${h(p)}</th>`).join('')}<th>time</th></tr>`;
  const rows = results.cells.map((c, i) => {
    const cols = phases.map((name) => {
      const p = c.phases.find((x) => x.name === name);
      if (!p) return '<td class="ph none"></td>';
      return `<td class="ph o-${p.outcome}" data-phase="${h(name)}" title="${h(phaseTitle(p))}">${OUTCOME_GLYPH[p.outcome]}${p.durationMs > 0 ? ` ${h(formatDuration(p.durationMs))}` : ''}</td>`;
    });
    const anchor = cellAnchor(i, c.cell.id);
    return `<tr class="${isBad(c.outcome) ? 'row-bad' : 'row-good'}" data-cell="${h(c.cell.id)}" data-outcome="${c.outcome}"><td class="cell-id"><a href="#${anchor}" data-open="${anchor}">${h(c.cell.id)}</a></td><td>${badge(c.outcome)}</td>${cols.join('')}<td>${h(formatDuration(c.durationMs))}</td></tr>`;
  });
  const legend = OUTCOMES.map((o) => `<span class="badge o-${o}">${OUTCOME_GLYPH[o]} ${o}</span>`).join(' ');
  return `<div class="scroll"><table class="matrix" id="matrix">${head}${rows.join('')}</table></div><p class="legend">${legend}</p>`;
}

function timeline(results: RunResults): string {
  const bars: { row: number; start: number; dur: number; p: PhaseResult }[] = [];
  let t0 = Number.POSITIVE_INFINITY;
  let t1 = Number.NEGATIVE_INFINITY;
  results.cells.forEach((c, row) => {
    let cursor = Date.parse(c.startedAt);
    for (const p of c.phases) {
      const parsed = Date.parse(p.startedAt);
      const start = Number.isFinite(parsed) ? parsed : cursor;
      if (!Number.isFinite(start)) continue;
      bars.push({ row, start, dur: Math.max(0, p.durationMs), p });
      cursor = start + p.durationMs;
      t0 = Math.min(t0, start);
      t1 = Math.max(t1, start + p.durationMs);
    }
  });
  if (bars.length === 0) return '<p class="small">no phase timings recorded</p>';
  const labelW = 230;
  const width = 1100;
  const rowH = 22;
  const span = Math.max(1, t1 - t0);
  const scale = (width - labelW - 10) / span;
  const height = results.cells.length * rowH + 26;
  const colour: Record<Outcome, string> = {
    passed: '#2e7d32',
    failed: '#c62828',
    error: '#6a1b9a',
    skipped: '#8d8d8d',
    'not-run': '#d6d6d6',
  };
  const labels = results.cells.map((c, row) => {
    const id = c.cell.id.length > 32 ? `${c.cell.id.slice(0, 31)}…` : c.cell.id;
    return `<text x="4" y="${row * rowH + 15}">${h(id)}<title>${h(c.cell.id)}</title></text>`;
  });
  const rects = bars.map(({ row, start, dur, p }) => {
    const x = labelW + (start - t0) * scale;
    const w = Math.max(1.5, dur * scale);
    const label =
      w > 60 ? `<text x="${(x + 3).toFixed(1)}" y="${row * rowH + 15}" fill="#fff">${h(p.name)}</text>` : '';
    return `<g class="tl-phase tl-${p.outcome}" data-phase="${h(p.name)}"><rect x="${x.toFixed(1)}" y="${row * rowH + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${colour[p.outcome]}" stroke="#fff" stroke-width="0.5"><title>${h(`${results.cells[row]!.cell.id} ${phaseTitle(p)}`)}</title></rect>${label}</g>`;
  });
  const ticks: string[] = [];
  const step = niceStep(span / 8);
  for (let t = 0; t <= span; t += step) {
    const x = labelW + t * scale;
    ticks.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="0" y2="${height - 20}" stroke="#eee"/><text x="${x.toFixed(1)}" y="${height - 6}" fill="#5f6368">${h(formatDuration(t))}</text>`,
    );
  }
  return `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="timeline of phases per cell">${ticks.join('')}${labels.join('')}${rects.join('')}</svg>`;
}

function niceStep(raw: number): number {
  const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000];
  return steps.find((s) => s >= raw) ?? Math.ceil(raw / 600_000) * 600_000;
}

function gridTable(
  grid: ReachabilityGrid,
  kind: GridView,
  cellHtml: (from: string, to: string) => { cls: string; title: string },
): string {
  const { rows, cols, index } = gridNumbering(grid);
  const head = `<tr><th class="peer">${kind}</th>${cols.map((p) => `<th title="${h(p)}">${index.get(p)}</th>`).join('')}</tr>`;
  const body = rows.map((from) => {
    const tds = cols.map((to) => {
      const c = cellHtml(from, to);
      const sym = gridSymbol(grid, kind, from, to);
      // A title only where a cell says something unusual: a 20-peer grid has 380 cells, and titles on
      // every one made a 50-cell report tens of megabytes.
      return `<td class="${c.cls}"${c.title ? ` title="${h(c.title)}"` : ''}>${h(sym === NOT_PROBED_SYMBOL ? '' : sym)}</td>`;
    });
    return `<tr><th class="peer">${index.get(from)} ${h(from)}</th>${tds.join('')}</tr>`;
  });
  return `<div class="grid-block"><table class="grid grid-${kind}">${head}${body.join('')}</table></div>`;
}

/** Each failed cell (observed ≠ expected, or a probe error) with its detail and the command that repeats it. */
function failureList(grid: ReachabilityGrid): string {
  const items = gridFailures(grid).map((f) => {
    const known = failedProbe(grid, f.from, f.to);
    return `<li class="probe-failure" data-state="${f.state}"><span>${h(failureText(f))}</span>${known?.detail ? ` <span class="small">(${h(known.detail)})</span>` : ''}${known?.command ? `<br><code class="cmd probe-command">${h(known.command)}</code>` : ''}</li>`;
  });
  return items.length ? `<ul class="probe-failures">${items.join('')}</ul>` : '';
}

export function gridHtml(grid: ReachabilityGrid): string {
  const expected = (from: string, to: string) => {
    const e = grid.expected[from]?.[to];
    return e === undefined
      ? { cls: 'g-none', title: '' }
      : { cls: e ? 'g-allowed' : 'g-denied', title: e ? '' : `${from} → ${to}: expected denied` };
  };
  const observed = (from: string, to: string) => {
    const v = grid.observed[from]?.[to];
    return v === undefined
      ? { cls: 'v-none', title: '' }
      : { cls: `v-${v}`, title: v === 'connected' ? '' : `${from} → ${to}: ${v}` };
  };
  const difference = (from: string, to: string) => {
    const s = cellState(grid, from, to);
    const v = grid.observed[from]?.[to];
    const e = grid.expected[from]?.[to];
    return s === 'mismatch'
      ? { cls: 'd-mismatch', title: `${from} → ${to}: expected ${e ? 'allowed' : 'denied'}, observed ${v}` }
      : s === 'match'
        ? { cls: 'd-match', title: '' }
        : s === 'error'
          ? { cls: 'd-error', title: `${from} → ${to}: probe error (infrastructure), not a verdict` }
          : { cls: 'd-none', title: '' };
  };
  const { colsOnly, index } = gridNumbering(grid);
  const head = `<h4>${h(grid.title)} <span class="small">${h(grid.protocol)}/${h(grid.port)}</span></h4>${
    colsOnly.length
      ? `<p class="small cols-only">columns only: ${colsOnly.map((p) => `${index.get(p)} ${h(p)}`).join(', ')}</p>`
      : ''
  }`;
  // A grid where every probed cell was as expected shows only what was observed: expected and difference
  // would add two tables that say nothing new (and a large matrix has hundreds of grids).
  if (gridFailures(grid).length === 0)
    return `<div class="reach reach-ok" data-grid="${h(grid.title)}">${head}<div class="grids">${gridTable(grid, 'observed', observed)}<p class="small">every probed pair as expected</p></div></div>`;
  return `<div class="reach" data-grid="${h(grid.title)}">${head}<div class="grids">${gridTable(grid, 'expected', expected)}${gridTable(grid, 'observed', observed)}${gridTable(grid, 'difference', difference)}</div>${failureList(grid)}</div>`;
}

/** The grid legend, from the same entries as the text legend (probe/grid.ts GRID_LEGEND_PARTS). */
function gridLegend(): string {
  const part = (name: keyof typeof GRID_LEGEND_PARTS) =>
    GRID_LEGEND_PARTS[name]
      .map(
        (e) =>
          `<span class="sw">${e.symbol === NOT_PROBED_SYMBOL ? '&nbsp;' : h(e.symbol)}</span>${h(e.meaning)}`,
      )
      .join('');
  return `<p class="legend" id="grid-legend">observed:${part('observed')} — expected:${part('expected')} — difference:${part('difference')}</p>`;
}

function policyTable(results: RunResults): string {
  const rows = results.cells.flatMap((c) =>
    c.policy.map(
      (s) =>
        `<tr class="${isBad(s.outcome) ? 'row-bad' : 'row-good'}"><td><code>${h(c.cell.id)}</code></td><td>${h(s.name)}</td><td>${h(s.tags.join(', '))}</td><td>${badge(s.outcome)}</td><td class="num">${s.timeToEnforceMs !== undefined ? h(formatDuration(s.timeToEnforceMs)) : '–'}</td><td class="num">${s.timeToRestoreMs !== undefined ? h(formatDuration(s.timeToRestoreMs)) : '–'}</td><td>${s.rounds}</td><td>${h(s.message ?? '')}</td></tr>`,
    ),
  );
  if (rows.length === 0) return '<p class="small">no policy scenarios ran</p>';
  return `<table id="policy-table"><tr><th>cell</th><th>scenario</th><th>tags</th><th>outcome</th><th>time to enforce</th><th>time to restore</th><th>rounds</th><th>message</th></tr>${rows.join('')}</table>`;
}

const STATE_TEXT: Record<AuditRow['state'], string> = {
  expected: 'expected (baseline)',
  new: 'new',
  allowed: 'allowed',
  leftover: 'leftover',
};

const FINDINGS_HEAD =
  '<tr><th>cell</th><th>audit</th><th>node</th><th>category</th><th>left behind</th><th>state</th><th>remediation</th><th>evidence</th></tr>';

function findingRow(c: CellResult, r: AuditRow): string {
  const f = r.finding;
  const bad = r.state === 'new' || r.state === 'leftover';
  const state = `${STATE_TEXT[r.state]}${f.baseline ? `: ${f.baseline}` : ''}${f.byDesign ? ' (kept by design)' : ''}`;
  return `<tr class="finding ${bad ? 'row-bad' : 'row-good'}" data-stage="${r.stage}" data-state="${r.state}"><td><code>${h(c.cell.id)}</code></td><td>${h(STAGE_TITLE[r.stage])}</td><td>${h(f.node)}</td><td>${h(f.category)}</td><td>${h(f.name)}</td><td>${h(state)}</td><td><code class="cmd remediation">${h(f.remediation)}</code></td><td><pre>${h(f.detail)}</pre>${f.why ? `<div class="small">${h(f.why)}</div>` : ''}</td></tr>`;
}

function passMark(p: boolean | undefined): string {
  return p === undefined ? badge('not-run') : badge(p ? 'passed' : 'failed');
}

/** Both audits of every cell side by side, then the findings, the baseline entries not seen, what was not checked. */
function auditSection(results: RunResults): string {
  const audited = results.cells.filter((c) => auditCells(c));
  if (audited.length === 0) return '<p class="small">no audit ran</p>';
  const overview = audited.map((c) => {
    const cells = auditCells(c)!;
    const good = auditPassed(c, 'upstream') !== false && auditPassed(c, 'complete') !== false;
    return `<tr class="${good ? 'row-good' : 'row-bad'}" data-cell="${h(c.cell.id)}"><td><code>${h(c.cell.id)}</code></td><td class="audit-upstream">${passMark(auditPassed(c, 'upstream'))} ${h(cells.upstream)}</td><td class="audit-complete">${passMark(auditPassed(c, 'complete'))} ${h(cells.complete)}</td></tr>`;
  });
  const rows = results.cells.flatMap((c) => auditRows(c).map((r) => findingRow(c, r)));
  const fixed = results.cells.flatMap((c) =>
    (c.audit?.afterUpstreamUninstall?.fixed ?? []).map(
      (e) =>
        `<tr class="baseline-fixed"><td><code>${h(c.cell.id)}</code></td><td><code>${h(e.id)}</code></td><td>${h(e.rule)}${e.name ? ` <code>${h(e.name.join(' | '))}</code>` : ''}</td><td>${h(e.evidence)}</td><td class="small">${h(e.source)}</td></tr>`,
    ),
  );
  const kernel = results.cells.flatMap((c) =>
    (c.audit?.afterCompleteUninstall?.kernelKept ?? []).map(
      (k) => `<li><code>${h(c.cell.id)}</code> ${h(k)}</li>`,
    ),
  );
  const notChecked = results.cells.flatMap((c) =>
    auditNotChecked(c).map(
      ({ stage, n }) =>
        `<tr><td><code>${h(c.cell.id)}</code></td><td>${h(STAGE_TITLE[stage])}</td><td>${h(n.node)}</td><td>${h(n.category)}</td><td>${h(n.what)}</td><td>${h(n.reason)}</td></tr>`,
    ),
  );
  const files = [
    ...new Set(
      audited.flatMap((c) =>
        c.audit?.afterUpstreamUninstall ? [c.audit.afterUpstreamUninstall.baseline.file] : [],
      ),
    ),
  ];
  return `<p class="small">The first audit judges what the upstream uninstall left against the known-leftovers baseline${files.length ? ` (<code>${h(files.join(', '))}</code>)` : ''}: expected leftovers pass, a new one fails the cell, an expected one that did not appear is listed as fixed. The second audit, after the complete uninstall, must be clean.</p>
<table id="audit-overview"><tr><th>cell</th><th>${h(STAGE_TITLE.upstream)} (expected / new / fixed)</th><th>${h(STAGE_TITLE.complete)}</th></tr>${overview.join('')}</table>${
    rows.length
      ? `<h3>Findings</h3><div class="scroll"><table id="audit-table" class="findings">${FINDINGS_HEAD}${rows.join('')}</table></div>`
      : ''
  }${
    fixed.length
      ? `<h3>Baseline entries that did not appear (fixed upstream? update the baseline)</h3><table id="audit-fixed"><tr><th>cell</th><th>entry</th><th>rule</th><th>evidence</th><th>source</th></tr>${fixed.join('')}</table>`
      : ''
  }${kernel.length ? `<h3>Kept by the kernel (not counted)</h3><ul id="audit-kernel">${kernel.join('')}</ul>` : ''}${
    notChecked.length
      ? `<h3>Not checked</h3><table><tr><th>cell</th><th>audit</th><th>node</th><th>category</th><th>what</th><th>why</th></tr>${notChecked.join('')}</table>`
      : ''
  }`;
}

/** The probe timeline around an upgrade: one lane per pair, outage and fail-open windows shaded. */
export function upgradeSvg(u: UpgradeResult): string {
  const labelW = 260;
  const width = 1100;
  const laneH = 26;
  let tMax = Math.max(u.upgradeStartMs, u.allOnTargetMs ?? 0, u.timelineEndMs ?? 0, 1);
  for (const l of u.timeline) for (const p of l.points) tMax = Math.max(tMax, p.t);
  for (const p of u.pairs)
    for (const w of [...p.outageWindows, ...p.failOpenWindows]) tMax = Math.max(tMax, w.endMs);
  const scale = (width - labelW - 10) / tMax;
  const x = (t: number) => (labelW + t * scale).toFixed(1);
  const height = u.timeline.length * laneH + 40;
  const parts: string[] = [];
  const step = niceStep(tMax / 8);
  for (let t = 0; t <= tMax; t += step) {
    parts.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="0" y2="${height - 34}" stroke="#eee"/><text x="${x(t)}" y="${height - 22}" fill="#5f6368">${h(formatDuration(t))}</text>`,
    );
  }
  u.timeline.forEach((lane, i) => {
    const y = i * laneH;
    const stats = u.pairs.find((p) => upgradePairLabel(p) === lane.pair) ?? u.pairs[i];
    parts.push(
      `<text x="4" y="${y + 17}">${h(lane.pair.length > 38 ? `${lane.pair.slice(0, 37)}…` : lane.pair)}<title>${h(`${lane.pair} (must stay ${lane.expect})`)}</title></text>`,
    );
    for (const w of stats?.outageWindows ?? [])
      parts.push(
        `<rect class="outage" x="${x(w.startMs)}" y="${y + 2}" width="${Math.max(2, (w.endMs - w.startMs) * scale).toFixed(1)}" height="${laneH - 4}" fill="#c62828" fill-opacity="0.25" stroke="#c62828"><title>${h(`outage ${formatDuration(w.endMs - w.startMs)} at ${formatDuration(w.startMs)}`)}</title></rect>`,
      );
    for (const w of stats?.failOpenWindows ?? [])
      parts.push(
        `<rect class="fail-open" x="${x(w.startMs)}" y="${y + 2}" width="${Math.max(2, (w.endMs - w.startMs) * scale).toFixed(1)}" height="${laneH - 4}" fill="#ef6c00" fill-opacity="0.3" stroke="#ef6c00"><title>${h(`fail-open ${formatDuration(w.endMs - w.startMs)} at ${formatDuration(w.startMs)}`)}</title></rect>`,
      );
    for (const p of lane.points) {
      const good = lane.expect === 'allowed' ? p.ok : !p.ok;
      const fill = good ? '#2e7d32' : lane.expect === 'allowed' ? '#c62828' : '#ef6c00';
      parts.push(`<rect x="${x(p.t)}" y="${y + 8}" width="2" height="${laneH - 16}" fill="${fill}"/>`);
    }
  });
  const marks: [number | undefined, string][] = [
    [u.upgradeStartMs, 'upgrade starts'],
    [u.allOnTargetMs, `all on ${u.to}`],
  ];
  for (const [t, label] of marks) {
    if (t === undefined) continue;
    parts.push(
      `<line class="mark" x1="${x(t)}" x2="${x(t)}" y1="0" y2="${height - 34}" stroke="#1a237e" stroke-dasharray="4 3"/><text x="${x(t)}" y="${height - 8}" fill="#1a237e">${h(label)}</text>`,
    );
  }
  return `<svg class="upgrade-timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="probe timeline around the upgrade">${parts.join('')}</svg>
<p class="legend"><span class="sw" style="background:#2e7d32">&nbsp;</span>as expected<span class="sw" style="background:#c62828">&nbsp;</span>failed while it must stay allowed (outage)<span class="sw" style="background:#ef6c00">&nbsp;</span>connected while it must stay denied (fail-open)<span class="sw" style="border-color:#1a237e">┆</span>upgrade start / all components on target</p>`;
}

function upgradeSection(c: CellResult, index: number): string {
  const u = c.upgrade!;
  const rows = u.pairs.map(
    (p) =>
      `<tr><td>${h(p.from)} → ${h(p.to)}</td><td>${h(p.protocol)}/${h(p.port)}</td><td>${h(p.expect)}</td><td>${p.probes}</td><td>${p.failures}</td><td>${h(formatDuration(p.longestOutageMs))}${p.unrecovered ? ' <b>not recovered</b>' : ''}</td><td>${p.failOpenCount}</td><td>${p.errors ?? 0}</td><td>${p.maxGapMs !== undefined ? h(formatDuration(p.maxGapMs)) : '–'}</td></tr>`,
  );
  return `<section class="upgrade" id="upgrade-${index}"><h3><code>${h(c.cell.id)}</code>: ${h(u.from)} → ${h(u.to)} (${h(u.path)}) ${badge(u.outcome)}</h3>
<p class="meta"><span>upgrade starts at ${h(formatDuration(u.upgradeStartMs))}</span>${u.allOnTargetMs !== undefined ? `<span>all on target at ${h(formatDuration(u.allOnTargetMs))}</span>` : ''}${u.timeToTargetMs !== undefined ? `<span>time to target ${h(formatDuration(u.timeToTargetMs))}</span>` : ''}<span>thresholds: outage ≤ ${h(formatDuration(u.thresholds.maxOutageMs))}, fail-open ≤ ${u.thresholds.maxFailOpen}</span></p>
${u.violations.length ? `<ul class="violations">${u.violations.map((v) => `<li>${h(v)}</li>`).join('')}</ul>` : ''}${u.notes?.length ? `<ul class="notes small">${u.notes.map((v) => `<li>${h(v)}</li>`).join('')}</ul>` : ''}
<table><tr><th>pair</th><th>port</th><th>must stay</th><th>probes</th><th>failures</th><th>longest outage</th><th>fail-open</th><th>errored probes</th><th>longest gap</th></tr>${rows.join('')}</table>
${upgradeRepeatList(u)}${upgradeSvg(u)}</section>`;
}

/** Each pair that broke its promise, with the command that repeats one of its probes by hand. */
function upgradeRepeatList(u: UpgradeResult): string {
  const items = u.pairs
    .filter((p) => p.command && upgradePairFailed(p, u.thresholds))
    .map(
      (p) =>
        `<li class="probe-failure"><span>${h(upgradePairLabel(p))} (must stay ${h(p.expect)})</span><br><code class="cmd probe-command">${h(p.command!)}</code></li>`,
    );
  return items.length ? `<ul class="probe-failures">${items.join('')}</ul>` : '';
}

function safeRelativeHref(path: string): string | undefined {
  // A results directory is copied around; only plain relative paths become links (no scheme, no "..").
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('/') || path.split('/').includes('..')) return;
  return path.split('/').map(encodeURIComponent).join('/');
}

function cellSection(c: CellResult, index: number): string {
  const anchor = cellAnchor(index, c.cell.id);
  const params = Object.entries(c.cell)
    .filter(([k, v]) => k !== 'id' && v !== undefined)
    .map(([k, v]) => `<span>${h(k)}: <b>${h(v)}</b></span>`)
    .join('');
  const phaseRows = c.phases.map((p) => {
    const checks = p.checks.length
      ? `<details${p.checks.some((x) => isBad(x.outcome)) ? ' open' : ''}><summary>${p.checks.length} check${p.checks.length === 1 ? '' : 's'}</summary><table class="checks">${p.checks
          .map(
            (ch) =>
              `<tr class="check check-${ch.outcome}"><td>${badge(ch.outcome)}</td><td>${h(ch.name)}</td><td>${h(formatDuration(ch.durationMs))}</td><td>${h(ch.message ?? '')}${ch.details ? `<pre>${h(ch.details)}</pre>` : ''}</td></tr>`,
          )
          .join('')}</table></details>`
      : '';
    const evidence = p.evidence.length
      ? `<details${isBad(p.outcome) ? ' open' : ''}><summary>evidence (${p.evidence.length})</summary><pre>${h(p.evidence.join('\n'))}</pre></details>`
      : '';
    return `<tr class="phase"><td>${h(p.name)}</td><td>${badge(p.outcome)}</td><td>${h(formatDuration(p.durationMs))}</td><td>${h(p.reason ?? '')}${evidence}${checks}</td></tr>`;
  });
  const grids = c.grids.length ? `<h3>Reachability</h3>${c.grids.map(gridHtml).join('')}` : '';
  const policyGrids = c.policy
    .filter((s) => s.grids.length > 0)
    .map(
      (s) =>
        `<details class="scenario"${isBad(s.outcome) ? ' open' : ''}><summary>${badge(s.outcome)} policy scenario ${h(s.name)}</summary>${s.message ? `<p>${h(s.message)}</p>` : ''}${s.grids.map(gridHtml).join('')}${s.policyYaml ? `<details><summary>policy YAML</summary><pre class="yaml">${h(s.policyYaml)}</pre></details>` : ''}</details>`,
    )
    .join('');
  const findings = unclean(c);
  const diag = c.diagnostics
    ? (() => {
        const href = safeRelativeHref(c.diagnostics);
        return `<p>Diagnostics bundle: ${href ? `<a href="${h(href)}">${h(c.diagnostics)}</a>` : `<code>${h(c.diagnostics)}</code>`}</p>`;
      })()
    : '';
  const good = !isBad(c.outcome) && findings.length === 0;
  return `<details class="cell o-${c.outcome}${good ? ' good' : ''}" id="${anchor}" data-cell="${h(c.cell.id)}"${good ? '' : ' open'}>
<summary>${badge(c.outcome)} ${h(c.cell.id)} <span class="small">${h(formatDuration(c.durationMs))}${c.clusterName ? ` · cluster ${h(c.clusterName)}` : ''}</span></summary>
<p class="meta">${params}</p>${c.reason ? `<p><b>reason:</b> ${h(c.reason)}</p>` : ''}${diag}
<table class="phases"><tr><th>phase</th><th>outcome</th><th>time</th><th>detail</th></tr>${phaseRows.join('')}</table>
${grids}${policyGrids}${findings.length ? `<h3>Leftovers</h3><div class="scroll"><table class="findings">${FINDINGS_HEAD}${findings.map((r) => findingRow(c, r)).join('')}</table></div>` : ''}
</details>`;
}

export function renderHtml(results: RunResults): string {
  const overall = runOutcome(results);
  const counts = countOutcomes(results.cells);
  const upgrades = results.cells
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => c.upgrade)
    .map(({ c, i }) => upgradeSection(c, i));
  const anyGrids = results.cells.some((c) => c.grids.length || c.policy.some((s) => s.grids.length));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Calico conformance: ${h(overall)} (${results.cells.length} cells)</title>
<style>${CSS}</style></head>
<body class="overall-${overall}">
<header><h1>Calico conformance ${badge(overall)}</h1>
<p class="meta"><span>${h(results.tool.name)} ${h(results.tool.version)}</span><span>started ${h(results.startedAt)}</span><span>took ${h(formatDuration(results.durationMs))}</span><span>${h(results.host.platform)} · node ${h(results.host.node)}</span>${results.host.kindVersion ? `<span>kind ${h(results.host.kindVersion)}</span>` : ''}${results.host.dockerVersion ? `<span>docker ${h(results.host.dockerVersion)}</span>` : ''}</p>
${results.interrupted ? `<p class="interrupted"><b>Interrupted by ${h(results.interrupted)}</b>: cells cut short say so in their reason.</p>` : ''}
<p class="meta" id="counts">${OUTCOMES.filter((o) => counts[o] > 0)
    .map((o) => `<span>${badge(o)} ${counts[o]}</span>`)
    .join('')}</p></header>
<main>
<div class="toolbar"><button type="button" id="only-bad" aria-pressed="false">show only failures</button></div>
<h2>Matrix: cells × phases</h2>
${matrix(results)}
<h2>Timeline of phases</h2>
${timeline(results)}
<h2>NetworkPolicy: time to enforce and restore</h2>
${policyTable(results)}
<h2>Leftover audit</h2>
${auditSection(results)}
${upgrades.length ? `<h2>Upgrade</h2>${upgrades.join('')}` : ''}
${results.leftBehind.length ? `<h2>Left behind by the run</h2><ul id="left-behind">${results.leftBehind.map((l) => `<li><code>${h(l)}</code></li>`).join('')}</ul>` : ''}
<h2>Cells</h2>
${anyGrids ? gridLegend() : ''}
${results.cells.map(cellSection).join('\n')}
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
