/**
 * JUnit XML: one <testsuite> per cell, one <testcase> per check (each phase's checks, each policy
 * scenario, each finding of both audits and each known leftover that did not appear, the upgrade's pairs), so a CI system lists exactly what failed. Failure
 * text carries the grids and the evidence a person needs without opening another file.
 */

import { formatDuration } from '../errors.js';
import type { Finding } from '../model/audit.js';
import { type CellResult, type Outcome, type RunResults, upgradePairFailed } from '../model/results.js';
import { formatGridText } from '../probe/grid.js';
import { escapeXml } from './escape.js';

interface TestCase {
  classname: string;
  name: string;
  timeMs: number;
  outcome: Outcome;
  message?: string;
  text?: string;
  systemOut?: string;
}

const seconds = (ms: number) => (Math.max(0, ms) / 1000).toFixed(3);

function caseXml(c: TestCase): string {
  const open = `    <testcase classname="${escapeXml(c.classname)}" name="${escapeXml(c.name)}" time="${seconds(c.timeMs)}"`;
  const body: string[] = [];
  const msg = escapeXml(c.message ?? c.outcome);
  const text = c.text ? escapeXml(c.text) : '';
  if (c.outcome === 'failed') body.push(`      <failure message="${msg}" type="failed">${text}</failure>`);
  else if (c.outcome === 'error') body.push(`      <error message="${msg}" type="error">${text}</error>`);
  else if (c.outcome === 'skipped' || c.outcome === 'not-run')
    body.push(
      `      <skipped message="${escapeXml(`${c.outcome}: ${c.message ?? 'no reason recorded'}`)}"/>`,
    );
  if (c.systemOut) body.push(`      <system-out>${escapeXml(c.systemOut)}</system-out>`);
  return body.length ? `${open}>\n${body.join('\n')}\n    </testcase>` : `${open}/>`;
}

function findingText(f: Finding): string {
  return [
    `node: ${f.node}`,
    `category: ${f.category}`,
    `left behind: ${f.name}`,
    `evidence: ${f.detail}`,
    ...(f.why ? [`why it matters: ${f.why}`] : []),
    `remediation: ${f.remediation}`,
  ].join('\n');
}

/** Every test case of one cell, in pipeline order. */
export function cellTestCases(cell: CellResult): TestCase[] {
  const id = cell.cell.id;
  const cases: TestCase[] = [];
  if (cell.outcome === 'skipped' && cell.phases.length === 0) {
    cases.push({ classname: id, name: 'cell', timeMs: 0, outcome: 'skipped', message: cell.reason });
  }
  for (const phase of cell.phases) {
    const classname = `${id}.${phase.name}`;
    const evidence = phase.evidence.join('\n');
    if (phase.checks.length === 0) {
      cases.push({
        classname,
        name: phase.name,
        timeMs: phase.durationMs,
        outcome: phase.outcome,
        message: phase.reason,
        text: [phase.reason, evidence].filter(Boolean).join('\n\n'),
        systemOut: evidence || undefined,
      });
      continue;
    }
    for (const check of phase.checks) {
      cases.push({
        classname,
        name: check.name,
        timeMs: check.durationMs,
        outcome: check.outcome,
        message: check.message,
        text: [check.message, check.details].filter(Boolean).join('\n\n'),
      });
    }
    // A phase can fail outside any of its checks (a setup step); that must not vanish from JUnit.
    const checksFailed = phase.checks.some((c) => c.outcome === 'failed' || c.outcome === 'error');
    if ((phase.outcome === 'failed' || phase.outcome === 'error') && !checksFailed) {
      cases.push({
        classname,
        name: `${phase.name} (phase)`,
        timeMs: phase.durationMs,
        outcome: phase.outcome,
        message: phase.reason,
        text: [phase.reason, evidence].filter(Boolean).join('\n\n'),
      });
    }
  }
  for (const s of cell.policy) {
    const timings = [
      s.timeToEnforceMs !== undefined ? `time to enforce: ${formatDuration(s.timeToEnforceMs)}` : '',
      s.timeToRestoreMs !== undefined ? `time to restore: ${formatDuration(s.timeToRestoreMs)}` : '',
      `rounds: ${s.rounds}`,
    ].filter(Boolean);
    cases.push({
      classname: `${id}.policy-scenario`,
      name: s.name,
      timeMs: (s.timeToEnforceMs ?? 0) + (s.timeToRestoreMs ?? 0),
      outcome: s.outcome,
      message: s.message,
      text: [
        s.message,
        timings.join(', '),
        ...s.grids.map(formatGridText),
        s.policyYaml ? `policy:\n${s.policyYaml}` : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
      systemOut: `${s.tags.length ? `tags: ${s.tags.join(', ')}\n` : ''}${timings.join('\n')}`,
    });
  }
  const upstream = cell.audit?.afterUpstreamUninstall;
  if (upstream) {
    // left by the upstream uninstall: an expected or allowed leftover passes, a new one fails, an expected
    // one that did not appear is a skipped case saying the baseline needs updating
    for (const f of upstream.report.findings) {
      const how = f.baseline
        ? `expected: known-leftovers baseline entry ${f.baseline}`
        : f.allowed
          ? 'allowed by configuration (--allow)'
          : '';
      cases.push({
        classname: `${id}.audit`,
        name: `${f.node} ${f.category} ${f.name}`,
        timeMs: 0,
        outcome: how ? 'passed' : 'failed',
        message: `new leftover after the upstream uninstall (not in the known-leftovers baseline): ${f.category} ${f.name} on ${f.node}`,
        text: findingText(f),
        systemOut: how ? `${how}\n${findingText(f)}` : undefined,
      });
    }
    for (const e of upstream.fixed) {
      cases.push({
        classname: `${id}.audit`,
        name: `baseline entry ${e.id}`,
        timeMs: 0,
        outcome: 'skipped',
        message: `did not appear: upstream no longer leaves it? update ${upstream.baseline.file} (${e.rule}; ${e.evidence}; source: ${e.source})`,
      });
    }
    for (const n of upstream.report.notChecked) {
      cases.push({
        classname: `${id}.audit`,
        name: `${n.node} ${n.category} ${n.what}`,
        timeMs: 0,
        outcome: 'skipped',
        message: `not checked: ${n.reason}`,
      });
    }
  }
  const complete = cell.audit?.afterCompleteUninstall;
  if (complete) {
    // after the complete uninstall: everything fails unless allowed; what the kernel keeps is reported
    for (const f of complete.report.findings) {
      cases.push({
        classname: `${id}.final-audit`,
        name: `${f.node} ${f.category} ${f.name}`,
        timeMs: 0,
        outcome: f.allowed ? 'passed' : 'failed',
        message: `left after the complete uninstall: ${f.category} ${f.name} on ${f.node}`,
        text: findingText(f),
        systemOut: f.allowed ? `allowed by configuration (--allow)\n${findingText(f)}` : undefined,
      });
    }
    for (const k of complete.kernelKept) {
      cases.push({
        classname: `${id}.final-audit`,
        name: `kept by the kernel: ${k.split(':')[0]}`,
        timeMs: 0,
        outcome: 'passed',
        systemOut: k,
      });
    }
    for (const n of complete.report.notChecked) {
      cases.push({
        classname: `${id}.final-audit`,
        name: `${n.node} ${n.category} ${n.what}`,
        timeMs: 0,
        outcome: 'skipped',
        message: `not checked: ${n.reason}`,
      });
    }
  }
  if (cell.upgrade) {
    const u = cell.upgrade;
    for (const p of u.pairs) {
      const what =
        p.expect === 'allowed'
          ? `longest outage ${formatDuration(p.longestOutageMs)} (max ${formatDuration(u.thresholds.maxOutageMs)})`
          : `fail-open ${p.failOpenCount} (max ${u.thresholds.maxFailOpen})`;
      const bad = upgradePairFailed(p, u.thresholds);
      const windows = (p.expect === 'allowed' ? p.outageWindows : p.failOpenWindows)
        .map((w) => `  ${w.startMs}ms → ${w.endMs}ms (${formatDuration(w.endMs - w.startMs)})`)
        .join('\n');
      cases.push({
        classname: `${id}.upgrade`,
        name: `${p.from} → ${p.to} ${p.protocol}/${p.port} stays ${p.expect}`,
        timeMs: 0,
        outcome: bad ? 'failed' : 'passed',
        message: p.unrecovered ? `${what}; not recovered by the end of the timeline` : what,
        text:
          `${u.from} → ${u.to} (${u.path})\n${what}\nprobes ${p.probes}, failures ${p.failures}\nwindows:\n${windows || '  none'}` +
          (bad && p.command ? `\nrepeat one probe by hand:\n  ${p.command}` : ''),
      });
    }
    if (u.violations.length > 0 || u.outcome === 'failed' || u.outcome === 'error') {
      cases.push({
        classname: `${id}.upgrade`,
        name: `upgrade ${u.from} → ${u.to}`,
        timeMs: u.timeToTargetMs ?? 0,
        outcome: u.outcome === 'passed' && u.violations.length ? 'failed' : u.outcome,
        message: u.violations[0] ?? u.outcome,
        text: u.violations.join('\n'),
      });
    }
  }
  return cases;
}

const isFailure = (o: Outcome) => o === 'failed';
const isSkip = (o: Outcome) => o === 'skipped' || o === 'not-run';

export function renderJUnit(results: RunResults): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  for (const cell of results.cells) {
    const cases = cellTestCases(cell);
    const f = cases.filter((c) => isFailure(c.outcome)).length;
    const e = cases.filter((c) => c.outcome === 'error').length;
    const s = cases.filter((c) => isSkip(c.outcome)).length;
    tests += cases.length;
    failures += f;
    errors += e;
    skipped += s;
    const props = Object.entries(cell.cell)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `      <property name="${escapeXml(k)}" value="${escapeXml(v)}"/>`);
    if (cell.clusterName)
      props.push(`      <property name="clusterName" value="${escapeXml(cell.clusterName)}"/>`);
    if (cell.diagnostics)
      props.push(`      <property name="diagnostics" value="${escapeXml(cell.diagnostics)}"/>`);
    if (cell.reason) props.push(`      <property name="reason" value="${escapeXml(cell.reason)}"/>`);
    suites.push(
      [
        `  <testsuite name="${escapeXml(cell.cell.id)}" tests="${cases.length}" failures="${f}" errors="${e}" skipped="${s}" time="${seconds(cell.durationMs)}" timestamp="${escapeXml(cell.startedAt)}">`,
        '    <properties>',
        ...props,
        '    </properties>',
        ...cases.map(caseXml),
        '  </testsuite>',
      ].join('\n'),
    );
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="calico-conformance" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${seconds(results.durationMs)}" timestamp="${escapeXml(results.startedAt)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
