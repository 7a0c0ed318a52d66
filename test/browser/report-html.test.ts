/**
 * The HTML report in a real headless Chromium (Debian's `chromium`): renders the results fixture, opens the
 * file:// page and asserts on what a person sees: the matrix rows and their colours, a grid's cells, a
 * finding's remediation, the upgrade picture, escaping of hostile text, and that the page fetched nothing
 * from any network. A full-page screenshot is kept under test-artifacts/ (gitignored) for a person to look at.
 *
 * Skips with a message where Chromium is absent, unless REQUIRE_DOCKER=1 (CI), where that is a failure.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResults } from '../../harness/model/results.js';
import { normaliseResults, writeReports } from '../../harness/report/write.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FIXTURE = resolve(import.meta.dirname, '../fixtures/results/run-results.json');
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');
const available = existsSync(CHROMIUM);

// These functions run in the page; the casts stand in for DOM types this Node-only tsconfig lacks.
type PageGlobals = { getComputedStyle(el: unknown): { backgroundColor: string }; __pwned?: number };
const background = (l: Locator) =>
  l.evaluate((el) => (globalThis as unknown as PageGlobals).getComputedStyle(el).backgroundColor);
const isOpen = (l: Locator) => l.evaluate((el) => (el as { open?: boolean }).open);

function fixture(): RunResults {
  return normaliseResults(JSON.parse(readFileSync(FIXTURE, 'utf8')), FIXTURE);
}

if (!available && process.env.REQUIRE_DOCKER === '1') {
  describe('HTML report in headless Chromium', () => {
    it('needs Chromium (REQUIRE_DOCKER=1)', () => {
      throw new Error(
        `REQUIRE_DOCKER=1 but ${CHROMIUM} is missing (apt-get install chromium; .ci/run does it)`,
      );
    });
  });
} else {
  if (!available)
    console.warn(`skipping the HTML report browser test: ${CHROMIUM} is missing (apt-get install chromium)`);
  describe.skipIf(!available)('HTML report in headless Chromium', () => {
    let browser: BrowserContext;
    let page: Page;
    let dir: string;
    let userDataDir: string;
    const requests: string[] = [];
    const consoleErrors: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cc-report-'));
      userDataDir = mkdtempSync(join(tmpdir(), 'cc-chromium-'));
      await writeReports(fixture(), dir);
      // A persistent context is how Playwright takes our own --user-data-dir (a throwaway profile).
      browser = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1400, height: 900 },
        // No sandbox (root in a container), and nothing that phones home: the page must work offline.
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      page = await browser.newPage();
      page.on('request', (r) => {
        if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
      });
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(m.text());
      });
      page.on('pageerror', (e) => consoleErrors.push(e.message));
      await page.goto(pathToFileURL(join(dir, 'report.html')).href);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    });

    it('shows one matrix row per cell, each phase coloured by its outcome', async () => {
      const rows = page.locator('#matrix tr[data-cell]');
      expect(await rows.count()).toBe(4);
      expect(await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-outcome')))).toEqual([
        'passed',
        'failed',
        'skipped',
        'failed',
      ]);
      const vxlan = page.locator('#matrix tr[data-cell="v3.30.7-operator-vxlan"]');
      const connectivity = vxlan.locator('td[data-phase="connectivity"]');
      await expect.poll(() => connectivity.getAttribute('class')).toContain('o-failed');
      expect(await background(connectivity)).toBe('rgb(198, 40, 40)');
      const install = vxlan.locator('td[data-phase="install"]');
      expect(await background(install)).toBe('rgb(46, 125, 50)');
      const skipped = page.locator(
        '#matrix tr[data-cell="v3.30.7-manifest-none-split-subnet"] td[data-phase="preflight"]',
      );
      expect(await skipped.getAttribute('class')).toContain('o-skipped');
      expect(await skipped.getAttribute('title')).toContain('split-subnet topology');
    });

    it('draws the reachability grids with one symbol per verdict kind and marks the differences', async () => {
      const section = page.locator('details.cell[data-cell="v3.30.7-operator-vxlan"]');
      expect(await isOpen(section)).toBe(true);
      const grid = section.locator('.reach').first();
      const observed = grid.locator('table.grid-observed');
      const symbols: Record<string, string> = {
        'v-connected': '.',
        'v-refused': 'R',
        'v-timeout': 'T',
        'v-dns-failure': 'D',
        'v-unreachable': 'U',
        'v-error': 'E',
      };
      for (const [cls, sym] of Object.entries(symbols)) {
        const first = observed.locator(`td.${cls}`).first();
        expect(await first.textContent(), cls).toBe(sym);
      }
      expect(await observed.locator('td.v-timeout').getAttribute('title')).toBe('x/a → y/b: timeout');
      const mismatches = grid.locator('table.grid-difference td.d-mismatch');
      // the error cell is an infrastructure failure, never a mismatch: marked E on its own
      expect(await mismatches.count()).toBe(3);
      expect(await grid.locator('table.grid-difference td.d-error').textContent()).toBe('E');
      expect(await background(mismatches.first())).toBe('rgb(198, 40, 40)');
      expect(await grid.locator('table.grid-expected td.g-denied').count()).toBe(1);
      const legend = await page.locator('#grid-legend').textContent();
      expect(legend).toContain('Ttimeout');
      expect(legend).toContain('dns-failure');
      expect(legend).toContain('Xexpected≠observed');
      // each failed cell is listed under the grid with the command that repeats that one probe
      const failures = grid.locator('ul.probe-failures li.probe-failure');
      expect(await failures.count()).toBe(4); // 3 differences and the probe error
      const command = failures.first().locator('code.probe-command');
      expect(await command.isVisible()).toBe(true);
      expect(await command.textContent()).toBe(
        'kubectl --kubeconfig /tmp/calico-conformance-q7Rk2x/kubeconfig exec -n x a -c probe -- nc -v -z -w 1 192.168.13.3 80',
      );
    });

    it('lists policy timings, audit findings with their remediation, and the upgrade picture', async () => {
      const policyRows = page.locator('#policy-table tr');
      expect(await policyRows.count()).toBe(5);
      expect(await page.locator('#policy-table').textContent()).toContain('1.4s');
      const remediation = page.locator('#audit-table code.remediation', {
        hasText: 'ip link delete vxlan.calico',
      });
      expect(await remediation.count()).toBe(1);
      expect(await remediation.isVisible()).toBe(true);
      const svg = page.locator('svg.upgrade-timeline');
      expect(await svg.locator('rect.outage').count()).toBe(3);
      expect(await svg.locator('rect.fail-open').count()).toBe(1);
      expect(await svg.locator('line.mark').count()).toBe(2);
      const phases = fixture().cells.reduce((n, c) => n + c.phases.length, 0);
      expect(await page.locator('#timeline g.tl-phase').count()).toBe(phases);
    });

    it('shows both audits of each cell side by side, the baseline entries not seen, and what the kernel keeps', async () => {
      const ipip = page.locator('#audit-overview tr[data-cell="v3.30.7-manifest-ipip"]');
      expect(await ipip.locator('td.audit-upstream').textContent()).toContain('3 expected / 0 new / 1 fixed');
      expect(await ipip.locator('td.audit-complete').textContent()).toContain('clean; 1 kept by the kernel');
      const vxlan = page.locator('#audit-overview tr[data-cell="v3.30.7-operator-vxlan"]');
      expect(await vxlan.locator('td.audit-upstream .badge').textContent()).toBe('✗ failed');
      expect(await background(vxlan.locator('td.audit-upstream .badge'))).toBe('rgb(198, 40, 40)');
      expect(await vxlan.locator('td.audit-complete').textContent()).toContain('not run');
      expect(await page.locator('#audit-fixed').textContent()).toContain('var-run-nodeagent');
      expect(await page.locator('#audit-kernel').textContent()).toContain(
        "tunl0, the kernel's fallback ipip device",
      );
      const expected = page.locator('#audit-table tr[data-state="expected"]', {
        hasText: 'tunl0-configured',
      });
      expect(await expected.isVisible()).toBe(true);
    });

    it('"show only failures" hides the passed cells', async () => {
      const passedRow = page.locator('#matrix tr[data-cell="v3.30.7-manifest-ipip"]');
      expect(await passedRow.isVisible()).toBe(true);
      await page.click('#only-bad');
      expect(await passedRow.isVisible()).toBe(false);
      expect(await page.locator('#matrix tr[data-cell="v3.30.7-operator-vxlan"]').isVisible()).toBe(true);
      await page.click('#only-bad');
      expect(await passedRow.isVisible()).toBe(true);
    });

    it('made no network request and logged no error; a screenshot is kept', async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
      expect(existsSync(join(ARTIFACTS, 'report.png'))).toBe(true);
      expect(requests).toEqual([]);
      expect(consoleErrors).toEqual([]);
    });

    it("junit.xml parses in the browser's XML parser, also with hostile text", async () => {
      const r = fixture();
      r.cells[0]!.cell = { ...r.cells[0]!.cell, id: 'a<b>&"c"\x1b[31m]]>' };
      r.cells[1]!.phases[5]!.checks[0]!.details = '<![CDATA[ x ]]> \x00 \x07 </failure>';
      const xmlDir = mkdtempSync(join(tmpdir(), 'cc-junit-'));
      try {
        await writeReports(r, xmlDir);
        const xml = readFileSync(join(xmlDir, 'junit.xml'), 'utf8');
        const parsed = await page.evaluate((text) => {
          const g = globalThis as unknown as {
            DOMParser: new () => {
              parseFromString(
                t: string,
                type: string,
              ): {
                getElementsByTagName(n: string): ArrayLike<{ getAttribute(a: string): string | null }>;
              };
            };
          };
          const doc = new g.DOMParser().parseFromString(text, 'application/xml');
          const suites = Array.from(doc.getElementsByTagName('testsuite')).map((e) => e.getAttribute('name'));
          return {
            errors: doc.getElementsByTagName('parsererror').length,
            suites,
            failures: doc.getElementsByTagName('failure').length,
          };
        }, xml);
        expect(parsed.errors).toBe(0);
        expect(parsed.suites).toEqual([
          'a<b>&"c"\uFFFD[31m]]>',
          'v3.30.7-operator-vxlan',
          'v3.30.7-manifest-none-split-subnet',
          'v3.29.7-operator-ipip-upgrade-v3.30.7',
        ]);
        expect(parsed.failures).toBe((xml.match(/<failure /g) ?? []).length);
        expect(parsed.failures).toBeGreaterThan(5);
      } finally {
        rmSync(xmlDir, { recursive: true, force: true });
      }
    });

    it('renders hostile text as text: no injected element runs', async () => {
      const r = fixture();
      const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
      r.cells[0]!.cell = { ...r.cells[0]!.cell, id: `a${evil}` };
      r.cells[1]!.policy[1]!.policyYaml = `metadata:\n  name: "</pre>${evil}"`;
      r.cells[1]!.audit!.afterUpstreamUninstall!.report.findings[0]!.remediation = `ip link delete ${evil}`;
      const evilDir = mkdtempSync(join(tmpdir(), 'cc-report-evil-'));
      try {
        await writeReports(r, evilDir);
        const p2 = await browser.newPage();
        const external: string[] = [];
        p2.on('request', (req) => {
          if (!req.url().startsWith('file:')) external.push(req.url());
        });
        await p2.goto(pathToFileURL(join(evilDir, 'report.html')).href);
        expect(await p2.evaluate(() => (globalThis as unknown as PageGlobals).__pwned)).toBeUndefined();
        expect(await p2.locator('img').count()).toBe(0);
        expect(await p2.locator('#matrix tr[data-cell] td.cell-id').first().textContent()).toBe(`a${evil}`);
        expect(
          await p2.locator('code.remediation', { hasText: 'ip link delete' }).first().textContent(),
        ).toBe(`ip link delete ${evil}`);
        expect(external).toEqual([]);
        await p2.close();
      } finally {
        rmSync(evilDir, { recursive: true, force: true });
      }
    });
  });
}
