/**
 * The Markdown summary: what a person reads first on a GitHub run page ($GITHUB_STEP_SUMMARY). The
 * overview fits on one screen; details appear only for what failed.
 */
import { formatDuration } from '../errors.js';
import { type RunResults, runOutcome, upgradePairFailed, upgradePairLabel } from '../model/results.js';
import { formatGridText } from '../probe/grid.js';
import { markdownCodeBlock, escapeMarkdown as md } from './escape.js';
import {
  auditCells,
  auditPassed,
  countOutcomes,
  isBad,
  OUTCOME_MARK,
  OUTCOMES,
  phasesShown,
  STAGE_TITLE,
  unclean,
} from './summary.js';

/** An inline code span safe inside a GFM table cell (GFM lets `\|` escape a pipe even inside code). */
export function tableCode(text: string): string {
  const flat = text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence} ${flat} ${fence}`;
}

export function renderMarkdown(results: RunResults): string {
  const out: string[] = [];
  const overall = runOutcome(results);
  const counts = countOutcomes(results.cells);
  out.push(`## Calico conformance: ${OUTCOME_MARK[overall]} ${overall}`);
  out.push('');
  out.push(
    `${results.cells.length} cell${results.cells.length === 1 ? '' : 's'}: ` +
      OUTCOMES.filter((o) => counts[o] > 0)
        .map((o) => `${counts[o]} ${o}`)
        .join(', ') +
      ` · ${formatDuration(results.durationMs)} · ${md(results.tool.name)} ${md(results.tool.version)}` +
      (results.host.kindVersion ? ` · kind ${md(results.host.kindVersion)}` : ''),
  );
  if (results.interrupted)
    out.push('', `**Interrupted by ${md(results.interrupted)}**: cells cut short say so in their reason.`);
  out.push('');
  const phases = phasesShown(results);
  out.push(`| cell | outcome | ${phases.join(' | ')} | time |`);
  out.push(`|---|---|${phases.map(() => ':-:').join('|')}|--:|`);
  for (const c of results.cells) {
    const cols = phases.map((name) => {
      const p = c.phases.find((x) => x.name === name);
      return p ? OUTCOME_MARK[p.outcome] : '';
    });
    out.push(
      `| ${md(c.cell.id)} | ${OUTCOME_MARK[c.outcome]} ${c.outcome} | ${cols.join(' | ')} | ${formatDuration(c.durationMs)} |`,
    );
  }
  out.push('');
  out.push(`Legend: ${OUTCOMES.map((o) => `${OUTCOME_MARK[o]} ${o}`).join(' · ')}`);

  const policyRows = results.cells.flatMap((c) => c.policy.map((s) => ({ c, s })));
  if (policyRows.length) {
    out.push('', '### NetworkPolicy: time to enforce / restore', '');
    out.push('| cell | scenario | outcome | enforce | restore | rounds |');
    out.push('|---|---|---|--:|--:|--:|');
    for (const { c, s } of policyRows) {
      out.push(
        `| ${md(c.cell.id)} | ${md(s.name)} | ${OUTCOME_MARK[s.outcome]} | ${s.timeToEnforceMs !== undefined ? formatDuration(s.timeToEnforceMs) : '–'} | ${s.timeToRestoreMs !== undefined ? formatDuration(s.timeToRestoreMs) : '–'} | ${s.rounds} |`,
      );
    }
  }

  const upgrades = results.cells.filter((c) => c.upgrade);
  if (upgrades.length) {
    out.push('', '### Upgrade', '');
    out.push('| cell | from → to | path | outcome | longest outage | fail-open | time to target |');
    out.push('|---|---|---|---|--:|--:|--:|');
    for (const c of upgrades) {
      const u = c.upgrade!;
      const outage = Math.max(0, ...u.pairs.map((p) => p.longestOutageMs));
      const failOpen = u.pairs.reduce((n, p) => n + p.failOpenCount, 0);
      out.push(
        `| ${md(c.cell.id)} | ${md(u.from)} → ${md(u.to)} | ${md(u.path)} | ${OUTCOME_MARK[u.outcome]} | ${formatDuration(outage)} (max ${formatDuration(u.thresholds.maxOutageMs)}) | ${failOpen} (max ${u.thresholds.maxFailOpen}) | ${u.timeToTargetMs !== undefined ? formatDuration(u.timeToTargetMs) : '–'} |`,
      );
    }
    // each pair that broke its promise, with the command that repeats one of its probes by hand
    const repeat = upgrades.flatMap((c) =>
      c
        .upgrade!.pairs.filter((p) => p.command && upgradePairFailed(p, c.upgrade!.thresholds))
        .map((p) => ({ cell: c.cell.id, p })),
    );
    if (repeat.length) {
      out.push('', 'Pairs that broke their promise, and how to repeat one probe:', '', '```');
      for (const { cell, p } of repeat)
        out.push(`${cell}: ${upgradePairLabel(p)} (must stay ${p.expect})`, `  ${p.command}`);
      out.push('```');
    }
  }

  const audited = results.cells.filter((c) => auditCells(c));
  if (audited.length) {
    const mark = (p: boolean | undefined) =>
      p === undefined ? OUTCOME_MARK['not-run'] : OUTCOME_MARK[p ? 'passed' : 'failed'];
    out.push('', '### Leftover audit', '');
    out.push(`| cell | ${STAGE_TITLE.upstream} (expected / new / fixed) | ${STAGE_TITLE.complete} |`);
    out.push('|---|---|---|');
    for (const c of audited) {
      const a = auditCells(c)!;
      out.push(
        `| ${md(c.cell.id)} | ${mark(auditPassed(c, 'upstream'))} ${md(a.upstream)} | ${mark(auditPassed(c, 'complete'))} ${md(a.complete)} |`,
      );
    }
    const fixed = audited.flatMap((c) =>
      (c.audit?.afterUpstreamUninstall?.fixed ?? []).map((e) => ({ c, e })),
    );
    if (fixed.length) {
      out.push('', 'Known leftovers that did not appear (fixed upstream? update the baseline):', '');
      for (const { c, e } of fixed)
        out.push(
          `- ${md(c.cell.id)}: ${tableCode(e.id)} (${md(e.rule)}; ${md(e.evidence)}; source: ${md(e.source)})`,
        );
    }
  }

  const bad = results.cells.filter((c) => isBad(c.outcome) || unclean(c).length > 0);
  if (bad.length) out.push('', '### Failures');
  for (const c of bad) {
    out.push('', `#### ${md(c.cell.id)}`, '');
    if (c.reason) out.push(`${md(c.reason)}`, '');
    for (const p of c.phases.filter((x) => isBad(x.outcome))) {
      out.push(`- **${p.name}** ${p.outcome}${p.reason ? `: ${md(p.reason)}` : ''}`);
      for (const ch of p.checks.filter((x) => isBad(x.outcome))) {
        out.push(`  - ${md(ch.name)}${ch.message ? `: ${md(ch.message)}` : ''}`);
      }
    }
    const failedGrids = [
      ...c.phases.flatMap((p) =>
        p.checks.filter((x) => isBad(x.outcome) && x.details).map((x) => x.details!),
      ),
      ...c.policy.filter((s) => isBad(s.outcome)).flatMap((s) => s.grids.map(formatGridText)),
    ];
    for (const text of failedGrids.slice(0, 4)) out.push('', markdownCodeBlock(text));
    if (failedGrids.length > 4) out.push('', `(${failedGrids.length - 4} more in report.html and junit.xml)`);
    const findings = unclean(c);
    if (findings.length) {
      out.push('', '| audit | node | category | left behind | remediation |', '|---|---|---|---|---|');
      for (const { stage, finding: f, state } of findings)
        out.push(
          `| ${STAGE_TITLE[stage]}: ${state} | ${md(f.node)} | ${f.category} | ${md(f.name)} | ${tableCode(f.remediation)} |`,
        );
    }
    if (c.diagnostics) out.push('', `Diagnostics: ${tableCode(c.diagnostics)}`);
  }
  if (results.leftBehind.length) {
    out.push('', '### Left behind by the run', '');
    for (const l of results.leftBehind) out.push(`- ${md(l)}`);
  }
  out.push('');
  return out.join('\n');
}
