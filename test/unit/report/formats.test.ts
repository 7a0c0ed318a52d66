import { describe, expect, it } from 'vitest';
import { formatGridText } from '../../../harness/probe/grid.js';
import { escapeHtml, escapeMarkdown, escapeXml, markdownCodeBlock } from '../../../harness/report/escape.js';
import { renderHtml } from '../../../harness/report/html.js';
import { cellTestCases, renderJUnit } from '../../../harness/report/junit.js';
import { renderMarkdown, tableCode } from '../../../harness/report/markdown.js';
import { renderProbesJsonl } from '../../../harness/report/write.js';
import { HOSTILE, loadFixture } from './support.js';

/** The attributes of every element named `tag` (a flat scan is enough for the JUnit we write). */
function elements(xml: string, tag: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of xml.matchAll(new RegExp(`<${tag}(\\s[^>]*)?/?>`, 'g'))) {
    const attrs: Record<string, string> = {};
    for (const a of (m[1] ?? '').matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    out.push(attrs);
  }
  return out;
}

describe('escaping', () => {
  it('leaves no markup and no XML-invalid character', () => {
    for (const esc of [escapeHtml, escapeXml]) {
      const out = esc(HOSTILE);
      expect(out).not.toMatch(/[<>"]/);
      expect(out).not.toContain('\x1b');
      expect(out).toContain('&lt;script&gt;');
    }
    const md = escapeMarkdown(HOSTILE);
    expect(md).not.toMatch(/[<>]/);
    expect(md).toContain('\\|');
    expect(md).toContain('\\`tick\\`');
  });

  it('fences code with more backticks than the text holds, and keeps pipes inside table code', () => {
    expect(markdownCodeBlock('a ``` b')).toBe('````\na ``` b\n````');
    expect(tableCode('iptables-save | grep cali')).toBe('` iptables-save \\| grep cali `');
    expect(tableCode('echo `x`')).toBe('`` echo `x` ``');
  });
});

describe('JUnit', () => {
  const results = loadFixture();
  const xml = renderJUnit(results);

  it('has one testsuite per cell with counts that add up', () => {
    const suites = elements(xml, 'testsuite');
    expect(suites.map((s) => s.name)).toEqual(results.cells.map((c) => c.cell.id));
    const root = elements(xml, 'testsuites')[0]!;
    const sum = (k: string) => suites.reduce((n, s) => n + Number(s[k]), 0);
    for (const k of ['tests', 'failures', 'errors', 'skipped']) expect(Number(root[k])).toBe(sum(k));
    expect(Number(root.tests)).toBe(elements(xml, 'testcase').length);
    expect(Number(root.failures)).toBe((xml.match(/<failure /g) ?? []).length);
  });

  it('makes each check, policy scenario, audit finding and upgrade pair a testcase', () => {
    const vxlan = results.cells[1]!;
    const names = cellTestCases(vxlan).map((c) => `${c.classname} :: ${c.name} :: ${c.outcome}`);
    expect(names).toContain(
      'v3.30.7-operator-vxlan.connectivity :: pod to pod, every pair, TCP/80 :: failed',
    );
    expect(names).toContain('v3.30.7-operator-vxlan.connectivity :: node to pod (host network) :: skipped');
    expect(names).toContain('v3.30.7-operator-vxlan.policy-scenario :: allow-from-namespace-x :: failed');
    expect(names).toContain(
      'v3.30.7-operator-vxlan.audit :: cc-v3-30-7-operator-vxlan-worker interface vxlan.calico :: failed',
    );
    // allowed by configuration: reported, not failed
    expect(names.some((n) => n.includes('route 192.168.97.0/26') && n.endsWith(':: passed'))).toBe(true);
    expect(names.some((n) => n.includes('.audit :: ') && n.includes('bpf') && n.endsWith('skipped'))).toBe(
      true,
    );
    // a phase that failed without checks of its own still fails in JUnit
    expect(names).toContain('v3.30.7-operator-vxlan.audit :: audit :: failed');
    const upgrade = cellTestCases(results.cells[3]!).filter((c) => c.classname.endsWith('.upgrade'));
    expect(upgrade.map((c) => `${c.name} ${c.outcome}`)).toEqual([
      'upgrade failed', // the phase itself (it has no checks)
      'x/a → y/a TCP/80 stays allowed failed',
      'x/b → z/c TCP/80 stays allowed passed',
      'y/b → x/b TCP/80 stays denied failed',
      'upgrade v3.29.7 → v3.30.7 failed',
    ]);
  });

  it('puts the grids and the evidence into the failure text, escaped', () => {
    const grid = formatGridText(results.cells[1]!.policy[1]!.grids[0]!);
    expect(xml).toContain(escapeXml(grid));
    expect(xml).toContain('remediation: ip link delete vxlan.calico');
    expect(xml).toContain('&lt;none&gt;');
    expect(xml).toMatch(/<skipped message="skipped: encapsulation None/);
  });

  it('stays well-formed with hostile text', () => {
    const r = loadFixture();
    r.cells[0]!.cell = { ...r.cells[0]!.cell, id: HOSTILE };
    r.cells[1]!.phases[5]!.checks[0]!.details = `${HOSTILE}]]>`;
    const x = renderJUnit(r);
    expect(x).not.toContain('<script>');
    expect(x).not.toContain('\x1b');
    expect(elements(x, 'testsuite')[0]!.name).toBe(escapeXml(HOSTILE));
  });
});

describe('both audits side by side in every format', () => {
  const results = loadFixture();
  const ipip = results.cells[0]!;

  it('results.json (the model): an older single audit reads as the upstream audit, every finding new', () => {
    const old = results.cells[1]!.audit!;
    expect(old.afterCompleteUninstall).toBeUndefined();
    expect(old.afterUpstreamUninstall?.passed).toBe(false);
    expect(old.afterUpstreamUninstall?.report.findings.every((f) => !f.baseline)).toBe(true);
    expect(ipip.audit?.afterUpstreamUninstall?.fixed.map((e) => e.id)).toEqual(['var-run-nodeagent']);
    expect(ipip.audit?.afterCompleteUninstall?.kernelKept).toHaveLength(1);
  });

  it('JUnit: expected leftovers pass naming their baseline entry, a baseline entry not seen is skipped, the final audit has its own cases', () => {
    const cases = cellTestCases(ipip);
    const tunl0 = cases.find(
      (c) => c.classname === 'v3.30.7-manifest-ipip.audit' && c.name.endsWith(' interface tunl0'),
    )!;
    expect(tunl0.outcome).toBe('passed');
    expect(tunl0.systemOut).toMatch(/^expected: known-leftovers baseline entry tunl0-configured/);
    const allowed = cases.find((c) => c.name.endsWith('/opt/cni/bin/bandwidth'))!;
    expect(allowed.systemOut).toMatch(/^allowed by configuration/);
    expect(cases.find((c) => c.name === 'baseline entry var-run-nodeagent')).toMatchObject({
      classname: 'v3.30.7-manifest-ipip.audit',
      outcome: 'skipped',
      message: expect.stringMatching(
        /did not appear: upstream no longer leaves it\? update harness\/audit\/known-leftovers\.yaml/,
      ),
    });
    expect(
      cases
        .filter((c) => c.classname === 'v3.30.7-manifest-ipip.final-audit')
        .map((c) => [c.name, c.outcome]),
    ).toEqual([
      ['final-audit', 'passed'],
      ['kept by the kernel: cc-v3-30-7-manifest-ipip-worker', 'passed'],
    ]);
    // a leftover after the complete uninstall fails there
    const r = loadFixture();
    r.cells[0]!.audit!.afterCompleteUninstall!.report.findings = [
      {
        node: 'w',
        category: 'file',
        rule: 'calico-state-dir',
        name: '/var/lib/calico',
        detail: 'd',
        remediation: 'rm -rf --one-file-system /var/lib/calico',
      },
    ];
    expect(
      cellTestCases(r.cells[0]!).find(
        (c) => c.classname.endsWith('.final-audit') && c.name === 'w file /var/lib/calico',
      )?.outcome,
    ).toBe('failed');
  });

  it('Markdown: one row per audited cell with both audits, and the baseline entries not seen', () => {
    const md = renderMarkdown(results);
    expect(md).toContain('### Leftover audit');
    expect(md).toContain(
      '| cell | left by upstream uninstall (expected / new / fixed) | after complete uninstall |',
    );
    expect(md).toContain(
      '| v3.30.7-manifest-ipip | ✅ 3 expected / 0 new / 1 fixed \\(\\+1 allowed\\) | ✅ clean; 1 kept by the kernel |',
    );
    expect(md).toContain(
      '| v3.30.7-operator-vxlan | ❌ 0 expected / 4 new / 0 fixed \\(\\+1 allowed\\) | · not run |',
    );
    expect(md).toMatch(
      /- v3\.30\.7-manifest-ipip: ` var-run-nodeagent ` \(calico-state-dir; upstream-source-only; source: calico\.yaml hostPath policysync/,
    );
    // the failures list names the audit each leftover fails in
    expect(md).toContain(
      '| left by upstream uninstall: new | cc-v3-30-7-operator-vxlan-worker | interface | vxlan.calico |',
    );
  });

  it('HTML: the overview puts both audits side by side; findings say which audit and how it judged them', () => {
    const html = renderHtml(results);
    expect(html).toContain(
      '<th>left by upstream uninstall (expected / new / fixed)</th><th>after complete uninstall</th>',
    );
    expect(html).toMatch(
      /<tr class="row-good" data-cell="v3\.30\.7-manifest-ipip"><td><code>v3\.30\.7-manifest-ipip<\/code><\/td><td class="audit-upstream">.*3 expected \/ 0 new \/ 1 fixed/,
    );
    expect(html).toMatch(
      /data-stage="upstream" data-state="expected">.*tunl0.*expected \(baseline\): tunl0-configured/,
    );
    expect(html).toContain('<table id="audit-fixed">');
    expect(html).toContain('<ul id="audit-kernel">');
  });
});

describe('Markdown summary', () => {
  const results = loadFixture();
  const md = renderMarkdown(results);

  it('has an overview row per cell, the policy timings, the upgrade and the failures', () => {
    expect(md).toMatch(/^## Calico conformance: ❌ failed/);
    const rows = md.split('\n').filter((l) => /^\| v3\./.test(l));
    expect(rows.filter((l) => /\| (✅|❌|⏭️) (passed|failed|skipped) \|/.test(l))).toHaveLength(4);
    expect(md).toContain('| v3.30.7-manifest-ipip | deny-all-ingress | ✅ | 1.4s | 980ms | 6 |');
    expect(md).toContain('7.4s (max 5s)');
    expect(md).toContain('#### v3.30.7-operator-vxlan');
    expect(md).toContain(formatGridText(results.cells[1]!.grids[0]!));
    expect(md).toContain('` ip link delete vxlan.calico `');
    // a kept-by-design finding is not a failure to list
    expect(md).not.toContain('projectcalico.org/IPv4Address-');
  });

  it('escapes hostile ids and messages', () => {
    const r = loadFixture();
    r.cells[1]!.cell = { ...r.cells[1]!.cell, id: HOSTILE };
    const out = renderMarkdown(r);
    expect(out).not.toContain('<script>');
    expect(out).not.toContain('<img');
  });
});

describe('every failed probe carries the command that repeats it, in every format', () => {
  const results = loadFixture();
  const vxlan = results.cells[1]!;
  // fixture: the failed connectivity check of v3.30.7-operator-vxlan (a TCP probe) and its failed policy
  // scenario (a UDP probe, whose in-pod command is a pipeline, quoted for the shell)
  const tcp =
    'kubectl --kubeconfig /tmp/calico-conformance-q7Rk2x/kubeconfig exec -n x a -c probe -- nc -v -z -w 1 192.168.13.3 80';
  const udp =
    "kubectl --kubeconfig /tmp/calico-conformance-q7Rk2x/kubeconfig exec -n z c -c cont-80 -- sh -c 'echo hostname | nc -u -W 1 -w 1 192.168.13.2 81'";

  it('the fixture has them where the harness puts them: grids, check details, probe records', () => {
    expect(vxlan.grids[0]!.failures?.['x/a']?.['y/b']?.command).toBe(tcp);
    expect(vxlan.policy[1]!.grids[0]!.failures?.['z/c']?.['y/a']?.command).toBe(udp);
    expect(vxlan.probes.every((r) => r.command?.startsWith('kubectl --kubeconfig '))).toBe(true);
  });

  it('Markdown: in the failure list under each failed grid', () => {
    const md = renderMarkdown(results);
    expect(md).toContain(
      `  x/a → y/b: expected allowed, observed timeout (curl: (28) Connection timed out after 1000 milliseconds)\n    ${tcp}\n`,
    );
    expect(md).toContain(`  z/c → y/a: expected denied, observed connected\n    ${udp}\n`);
  });

  it('JUnit: in the failure text of the check and of the policy scenario, escaped', () => {
    const cases = cellTestCases(vxlan);
    const check = cases.find((c) => c.name === 'pod to pod, every pair, TCP/80')!;
    expect(check.outcome).toBe('failed');
    expect(check.text).toContain(`    ${tcp}`);
    const scenario = cases.find((c) => c.name === 'allow-from-namespace-x' && c.outcome === 'failed')!;
    expect(scenario.text).toContain(`    ${udp}`);
    expect(renderJUnit(results)).toContain(escapeXml(udp));
  });

  it('HTML: each failed cell listed under its grid, the command in a code element to select and copy', () => {
    const html = renderHtml(results);
    expect(html).toContain(`<code class="cmd probe-command">${escapeHtml(tcp)}</code>`);
    expect(html).toContain(`<code class="cmd probe-command">${escapeHtml(udp)}</code>`);
    // the error cell too, with the probe's own detail
    expect(html).toMatch(
      /<li class="probe-failure" data-state="error"><span>y\/b → x\/a: probe error, not a verdict<\/span> <span class="small">\(exec: error: unable to upgrade connection: container not found \(&quot;probe&quot;\)\)<\/span><br><code class="cmd probe-command">/,
    );
  });

  it('JSONL: on the probe records', () => {
    const records = renderProbesJsonl(results)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.find((r) => r.from === 'x/a' && r.to === 'y/b' && r.cell === vxlan.cell.id).command).toBe(
      tcp,
    );
  });

  it('a hostile command stays text in HTML and XML', () => {
    const r = loadFixture();
    r.cells[1]!.grids[0]!.failures!['x/a']!['y/b']!.command = `kubectl exec -n x '${HOSTILE}'`;
    const out = renderHtml(r);
    expect(out).not.toContain('<img src=x');
    expect(out).toContain(escapeHtml(`kubectl exec -n x '${HOSTILE}'`));
    r.cells[1]!.policy[1]!.grids[0]!.failures!['z/c']!['y/a']!.command = `${HOSTILE}]]>`;
    expect(renderJUnit(r)).not.toContain('<script>');
  });
});

describe('JSONL probes', () => {
  it('writes one record per probe of every cell, with the cell id', () => {
    const results = loadFixture();
    const lines = renderProbesJsonl(results).trim().split('\n');
    const total = results.cells.reduce((n, c) => n + c.probes.length, 0);
    expect(total).toBeGreaterThan(0);
    expect(lines).toHaveLength(total);
    const records = lines.map((l) => JSON.parse(l));
    expect(new Set(records.map((r) => r.cell))).toEqual(
      new Set(['v3.30.7-manifest-ipip', 'v3.30.7-operator-vxlan']),
    );
    expect(records[0]).toMatchObject({
      cell: 'v3.30.7-manifest-ipip',
      from: 'x/a',
      port: 80,
      protocol: 'TCP',
    });
    expect(records.filter((r) => r.verdict === 'timeout')[0].detail).toContain('timed out');
  });
});

describe('HTML report (as text; the browser test checks the rendered page)', () => {
  const html = renderHtml(loadFixture());

  it('is self-contained: no external URL, a CSP that forbids fetching', () => {
    expect(html).toContain(`content="default-src 'none'`);
    const urls = [...html.matchAll(/(?:src|href)="([^"#][^"]*)"/g)].map((m) => m[1]);
    expect(urls.every((u) => !/^[a-z]+:/i.test(u!) && !u!.startsWith('//'))).toBe(true);
    expect(html).not.toMatch(/<link |<img |@import|url\(/);
  });

  it('shows all three tables for a grid that differs, only the observed one for a grid that matched', () => {
    const grids = [...html.matchAll(/<div class="reach( reach-ok)?"[\s\S]*?<\/div><\/div>/g)].map((m) => ({
      ok: Boolean(m[1]),
      tables: [...m[0].matchAll(/<table class="grid grid-(\w+)">/g)].map((t) => t[1]),
    }));
    // fixture: cell 1's grid passes, cell 2's grid and failed scenario grid differ, a passed scenario's grid matches
    expect(grids).toEqual([
      { ok: true, tables: ['observed'] },
      { ok: true, tables: ['observed'] },
      { ok: false, tables: ['expected', 'observed', 'difference'] },
      { ok: false, tables: ['expected', 'observed', 'difference'] },
    ]);
  });

  it('escapes hostile text everywhere it goes', () => {
    const r = loadFixture();
    r.cells[0]!.cell = { ...r.cells[0]!.cell, id: HOSTILE };
    r.cells[1]!.policy[1]!.policyYaml = HOSTILE;
    r.cells[1]!.audit!.afterUpstreamUninstall!.report.findings[0]!.remediation = HOSTILE;
    r.cells[3]!.upgrade!.violations = [HOSTILE];
    r.cells[1]!.diagnostics = 'javascript:alert(1)';
    const out = renderHtml(r);
    expect(out).not.toContain('<img src=x');
    expect((out.match(/<script>/g) ?? []).length).toBe(1); // only the report's own script
    expect(out).not.toContain('href="javascript:');
  });
});
