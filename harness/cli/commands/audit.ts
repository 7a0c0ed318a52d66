import type { ClusterStateReader } from '../../audit/cluster-state.js';
import { readClusterStateFile } from '../../audit/cluster-state.js';
import { collectLiveCluster } from '../../audit/live.js';
import { parseAllowList, RULE_IDS } from '../../audit/registry.js';
import { auditReport } from '../../audit/rules.js';
import { ExitCode, UsageError } from '../../errors.js';
import { defaultRunner, type ProcessRunner } from '../../exec/process.js';
import type { AuditReport, Finding } from '../../model/audit.js';
import { readDumpDir } from '../../node-state/dump.js';
import { outputFormat, parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';

export const auditHelp = `calico-conformance audit (--cluster NAME | --node-dump DIR) [--output text|json] [--allow RULE|NAME,...]
  Audits for Calico leftovers. Exit 0 clean, 1 leftovers found or a node where nothing could be collected.
  --allow takes rule ids (${RULE_IDS.join(', ')}), by-design (every rule Calico keeps on purpose) or
  finding-name patterns (with a dot, slash or *, or name:PATTERN; * matches anything): allowed findings
  are reported but do not make the audit unclean; a mistyped rule is exit 2. Checks whose command was
  unavailable are listed as not checked.
  --node-image IMAGE           the kind node image, named in the remedy for a changed CNI binary
  --ipset-helper-image IMAGE   with --cluster: the image whose ipset lists each node's sets (as collect)`;

export interface AuditDeps {
  runner?: ProcessRunner;
  stateReaderFor?: (kubeconfigPath: string) => Promise<ClusterStateReader>;
}

export async function auditCommand(argv: string[], io: CliIO, deps: AuditDeps = {}): Promise<number> {
  const { values: raw } = parseCommandArgs('audit', argv, {
    cluster: { type: 'string' },
    'node-dump': { type: 'string' },
    output: { type: 'string' },
    allow: { type: 'string' },
    'node-image': { type: 'string' },
    'ipset-helper-image': { type: 'string' },
  });
  const values = stringValues(raw);
  const format = outputFormat('audit', values.output);
  if (Boolean(values.cluster) === Boolean(values['node-dump'])) {
    throw new UsageError('audit: give exactly one of --cluster NAME or --node-dump DIR', 'cluster');
  }
  const allow = parseAllowList(values.allow, 'audit --allow');
  const opts = { allow, ...(values['node-image'] ? { nodeImage: values['node-image'] } : {}) };
  let report: AuditReport;
  if (values['node-dump']) {
    const dir = values['node-dump'];
    const dumps = readDumpDir(dir);
    const cluster = readClusterStateFile(dir);
    report = auditReport({ dumps, ...(cluster ? { cluster } : {}) }, opts);
  } else {
    const live = await collectLiveCluster(values.cluster as string, {
      runner: deps.runner ?? defaultRunner,
      ...(values['ipset-helper-image'] ? { ipsetHelperImage: values['ipset-helper-image'] } : {}),
      ...(deps.stateReaderFor ? { stateReaderFor: deps.stateReaderFor } : {}),
    });
    report = auditReport({ dumps: live.dumps, ...(live.cluster ? { cluster: live.cluster } : {}) }, opts);
    if (!live.cluster) {
      report.notChecked = report.notChecked.map((n) =>
        n.node === 'cluster' && n.category === 'api' ? { ...n, reason: live.apiUnavailable ?? n.reason } : n,
      );
    }
  }
  if (format === 'json') io.out(JSON.stringify(auditJson(report), null, 2));
  else io.out(formatAuditText(report));
  return report.clean ? ExitCode.Ok : ExitCode.Failed;
}

/** The `audit --output json` contract: clean + findings (node, category, name, detail, remediation, …) + notChecked. */
export function auditJson(report: AuditReport): Record<string, unknown> {
  return {
    clean: report.clean,
    complete: report.complete,
    uncollected: report.uncollected ?? [],
    findings: report.findings.map((f) => ({
      node: f.node,
      category: f.category,
      name: f.name,
      detail: f.detail,
      remediation: f.remediation,
      ...(f.why ? { why: f.why } : {}),
      ...(f.rule ? { rule: f.rule } : {}),
      ...(f.byDesign ? { byDesign: true } : {}),
      ...(f.allowed ? { allowed: true } : {}),
    })),
    notChecked: report.notChecked,
  };
}

export function formatAuditText(report: AuditReport): string {
  const lines: string[] = [];
  const open = report.findings.filter((f) => !f.allowed);
  const uncollected = report.uncollected ?? [];
  const notMade = report.notChecked.length
    ? `${report.notChecked.length} check(s) could not be made (below)`
    : '';
  lines.push(
    report.clean
      ? `CLEAN: no Calico leftovers${report.findings.length ? ` (${report.findings.length} allowed)` : ''}${notMade ? `, but ${notMade}` : ''}`
      : open.length
        ? `LEFTOVERS: ${open.length} finding(s)${report.findings.length > open.length ? ` (+${report.findings.length - open.length} allowed)` : ''}`
        : uncollected.length
          ? `NOT AUDITED: ${uncollected.length} node(s) where nothing could be collected${notMade ? `; ${notMade}` : ''}`
          : `NOT AUDITED: nothing could be checked (no node dump and no cluster state)`,
  );
  // every node the audit could not look at, on its own line: never read as clean
  for (const u of uncollected) lines.push(`node ${u.node}: nothing could be collected (${u.reason})`);
  if (!report.clean && open.length && notMade) lines.push(notMade);
  const byNode = new Map<string, Finding[]>();
  for (const f of report.findings) byNode.set(f.node, [...(byNode.get(f.node) ?? []), f]);
  for (const [node, fs] of byNode) {
    lines.push('', `${node}:`);
    for (const f of fs) {
      const tags = [f.byDesign ? 'by design' : '', f.allowed ? 'allowed' : ''].filter(Boolean).join(', ');
      lines.push(`  [${f.category}] ${f.name}${tags ? ` (${tags})` : ''}`);
      lines.push(`      seen:   ${f.detail}`);
      if (f.why) lines.push(`      why:    ${f.why}`);
      lines.push(`      remove: ${f.remediation}`);
    }
  }
  if (report.notChecked.length) {
    lines.push('', 'not checked:');
    for (const n of report.notChecked) lines.push(`  ${n.node} [${n.category}] ${n.what}: ${n.reason}`);
  }
  return lines.join('\n');
}

function stringValues(raw: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw))
    out[k] = typeof v === 'string' ? v : v === true ? 'true' : undefined;
  return out;
}
