/**
 * `npm run lab:build [-- --only STEP[,STEP]] [--force]`: builds the lab into its machine-local cache
 * (harness/lab/lock.ts labDir()), incrementally. Every step has a key (what it is built from: the lock's
 * entry and the project's own files it uses); a step whose key and outputs are unchanged is skipped. Go
 * parts come from the Go module proxy through wrapper modules written here; images are made with
 * debootstrap + `docker import` / `docker build` from local images only (nothing is pulled).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';
import { getVersion } from '../harness/config/catalogue.js';
import {
  LAB_SOURCE_DIR,
  type LabCalicoBuild,
  type LabLock,
  type LabPaths,
  labCalicoBuilds,
  labPaths,
  readLabLock,
} from '../harness/lab/lock.js';
import { imageSteps } from './images.js';

export interface StepContext {
  lock: LabLock;
  paths: LabPaths;
  go: (args: string[], opts?: { cwd?: string; env?: Record<string, string> }) => Promise<void>;
  run: (cmd: string, args: string[], opts?: { cwd?: string; input?: string }) => Promise<string>;
  log: (line: string) => void;
}

export interface Step {
  name: string;
  /** what the step is built from; any change rebuilds it */
  key: (ctx: StepContext) => unknown;
  /** files that must exist for the step to count as built */
  outputs: (ctx: StepContext) => string[];
  build: (ctx: StepContext) => Promise<void>;
  /** docker images the step provides (checked by lab:status) */
  images?: (ctx: StepContext) => string[];
  /**
   * Set on a part the lab is complete without: why it may be missing. Only the cells that need it are
   * refused without it (the operator path needs the operator).
   */
  optional?: string;
  /** set on the parts of one optional Calico build: the version that needs them */
  calicoVersion?: string;
}

const GO = '/usr/local/go/bin/go';

/**
 * Measured here: the proxy serves tigera/operator v1.40.0 but its nested api module only at the commit
 * Calico v3.31.0 requires (2025-08-07), which lacks fields v1.40.0 uses (ManagementClusterConnectionSpec
 * .Impersonation); the api at v1.40.0's own commit answers 403. So the operator path may not build.
 */
export const OPERATOR_OPTIONAL =
  'the operator path only: tigera/operator v1.40.0 needs its api module at its own commit, which the Go module proxy does not serve here';

function goEnv(paths: LabPaths): Record<string, string> {
  return {
    GOMODCACHE: paths.gomod,
    GOCACHE: paths.gocache,
    GOPATH: join(paths.root, 'gopath'),
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOFLAGS: '-mod=mod -trimpath -buildvcs=false',
    PATH: `/usr/local/go/bin:${process.env.PATH ?? ''}`,
  };
}

/** Parses `replace` directives of a go.mod text: `[from, to]` pairs (`to` may be a path or `mod version`). */
export function goModReplaces(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const lines = text.split('\n');
  let inBlock = false;
  for (const raw of lines) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (!line) continue;
    if (inBlock) {
      if (line === ')') {
        inBlock = false;
        continue;
      }
    } else if (line === 'replace (') {
      inBlock = true;
      continue;
    } else if (!line.startsWith('replace ')) continue;
    const body = inBlock ? line : line.slice('replace '.length);
    const m = body.match(/^(\S+)(?:\s+\S+)?\s*=>\s*(.+)$/);
    if (m?.[1] && m[2]) out.push([m[1], m[2].trim()]);
  }
  return out;
}

function moduleDir(paths: LabPaths, mod: string, version: string): string {
  // the module cache escapes upper-case letters as !lower
  const escaped = mod.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
  return join(paths.gomod, `${escaped}@${version}`);
}

async function downloadModule(ctx: StepContext, mod: string, version: string): Promise<string> {
  await ctx.go(['mod', 'download', `${mod}@${version}`], { cwd: ctx.paths.root });
  return moduleDir(ctx.paths, mod, version);
}

/** Writes a wrapper module (go.mod with requires/replaces, a tools.go naming the packages) and builds them. */
async function buildWrapper(
  ctx: StepContext,
  name: string,
  opts: {
    goVersion: string;
    requires: Array<[string, string]>;
    replaces: Array<[string, string]>;
    packages: Array<{ pkg: string; out: string }>;
    ldflags: string;
    extraFiles?: Record<string, string>;
  },
): Promise<void> {
  const dir = join(ctx.paths.src, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const gomod = [
    `module calico-conformance.lab/${name}`,
    '',
    `go ${opts.goVersion}`,
    '',
    'require (',
    ...opts.requires.map(([m, v]) => `\t${m} ${v}`),
    ')',
    '',
    'replace (',
    ...opts.replaces.map(([m, to]) => `\t${m} => ${to}`),
    ')',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'go.mod'), gomod);
  const external = opts.packages.filter((p) => p.pkg !== '.' && !p.pkg.startsWith('./'));
  if (external.length > 0) {
    writeFileSync(
      join(dir, 'tools.go'),
      `//go:build tools\n\npackage tools\n\nimport (\n${external.map((p) => `\t_ "${p.pkg}"`).join('\n')}\n)\n`,
    );
  }
  for (const [file, text] of Object.entries(opts.extraFiles ?? {})) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  ctx.log(`  ${name}: resolving modules`);
  await ctx.go(['mod', 'tidy', '-e'], { cwd: dir });
  for (const p of opts.packages) {
    ctx.log(`  ${name}: go build ${p.pkg}`);
    mkdirSync(join(p.out, '..'), { recursive: true });
    await ctx.go(['build', '-ldflags', opts.ldflags, '-o', p.out, p.pkg], { cwd: dir });
  }
}

function goSteps(lock: LabLock): Step[] {
  const bin = (ctx: StepContext, ...p: string[]) => join(ctx.paths.bin, ...p);
  return [
    {
      name: 'kind',
      key: (c) => c.lock.kind,
      outputs: (c) => [bin(c, 'kind')],
      build: async (c) => {
        await c.go(['install', `${c.lock.kind.module}@${c.lock.kind.version}`], {
          cwd: c.paths.root,
          env: { GOBIN: c.paths.bin },
        });
      },
    },
    {
      name: 'kubernetes',
      key: (c) => c.lock.kubernetes,
      outputs: (c) => [...c.lock.kubernetes.commands.map((n) => bin(c, 'k8s', n)), bin(c, 'agnhost')],
      build: async (c) => {
        const k = c.lock.kubernetes;
        const kdir = await downloadModule(c, k.module, k.version);
        const staging = goModReplaces(readFileSync(join(kdir, 'go.mod'), 'utf8'))
          .filter(([, to]) => to.startsWith('./staging/'))
          .map(([m]) => [m, `${m} ${k.stagingVersion}`] as [string, string]);
        const [maj, min] = k.version.replace(/^v/, '').split('.');
        const vpkgs = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'];
        const ld = vpkgs
          .flatMap((p) => [
            `-X ${p}.gitVersion=${k.version}`,
            `-X ${p}.gitMajor=${maj}`,
            `-X ${p}.gitMinor=${min}`,
            `-X ${p}.gitTreeState=clean`,
            `-X ${p}.buildDate=1970-01-01T00:00:00Z`,
          ])
          .join(' ');
        await buildWrapper(c, 'kubernetes', {
          goVersion: '1.24.0',
          requires: [[k.module, k.version]],
          replaces: staging,
          packages: [
            ...k.commands.map((n) => ({ pkg: `k8s.io/kubernetes/cmd/${n}`, out: bin(c, 'k8s', n) })),
            { pkg: 'k8s.io/kubernetes/test/images/agnhost', out: bin(c, 'agnhost') },
          ],
          ldflags: `-s -w ${ld}`,
        });
      },
    },
    {
      name: 'etcd',
      key: (c) => [c.lock.etcd, readFileSync(join(LAB_SOURCE_DIR, 'go/etcd/main.go'), 'utf8')],
      outputs: (c) => [bin(c, 'etcd')],
      build: async (c) => {
        await buildWrapper(c, 'etcd', {
          goVersion: '1.24.0',
          requires: [[c.lock.etcd.module, c.lock.etcd.version]],
          replaces: [],
          packages: [{ pkg: '.', out: bin(c, 'etcd') }],
          ldflags: '-s -w',
          extraFiles: { 'main.go': readFileSync(join(LAB_SOURCE_DIR, 'go/etcd/main.go'), 'utf8') },
        });
      },
    },
    {
      name: 'pause',
      key: () => readFileSync(join(LAB_SOURCE_DIR, 'go/pause/main.go'), 'utf8'),
      outputs: (c) => [bin(c, 'pause')],
      build: async (c) => {
        await buildWrapper(c, 'pause', {
          goVersion: '1.24.0',
          requires: [],
          replaces: [],
          packages: [{ pkg: '.', out: bin(c, 'pause') }],
          ldflags: '-s -w',
          extraFiles: { 'main.go': readFileSync(join(LAB_SOURCE_DIR, 'go/pause/main.go'), 'utf8') },
        });
      },
    },
    {
      name: 'coredns',
      key: (c) => c.lock.coredns,
      outputs: (c) => [bin(c, 'coredns')],
      build: async (c) => {
        await c.go(['install', '-ldflags', '-s -w', `${c.lock.coredns.module}@${c.lock.coredns.version}`], {
          cwd: c.paths.root,
          env: { GOBIN: c.paths.bin },
        });
      },
    },
    {
      name: 'crictl',
      key: (c) => c.lock.criTools,
      outputs: (c) => [bin(c, 'crictl')],
      build: async (c) => {
        await c.go(
          ['install', '-ldflags', '-s -w', `${c.lock.criTools.module}/cmd/crictl@${c.lock.criTools.version}`],
          {
            cwd: c.paths.root,
            env: { GOBIN: c.paths.bin },
          },
        );
      },
    },
    ...(['node', 'calico'] as const).map(
      (set): Step => ({
        name: `cni-plugins-${set}`,
        key: (c) => [c.lock.cniPlugins.module, c.lock.cniPlugins[set]],
        outputs: (c) => c.lock.cniPlugins[set].plugins.map((p) => bin(c, `cni-${set}`, p)),
        build: async (c) => {
          const { module } = c.lock.cniPlugins;
          const { version, plugins } = c.lock.cniPlugins[set];
          const dirs: Record<string, string> = {
            loopback: 'main/loopback',
            'host-local': 'ipam/host-local',
            portmap: 'meta/portmap',
            ptp: 'main/ptp',
            bandwidth: 'meta/bandwidth',
            tuning: 'meta/tuning',
          };
          const pkgs = plugins.map((n) => {
            const d = dirs[n];
            if (!d) throw new Error(`lab.lock.json cniPlugins.${set}.plugins: unknown plugin ${n}`);
            return `${module}/plugins/${d}@${version}`;
          });
          await c.go(['install', '-ldflags', '-s -w', ...pkgs], {
            cwd: c.paths.root,
            env: { GOBIN: bin(c, `cni-${set}`) },
          });
        },
      }),
    ),
    ...labCalicoBuilds(lock).flatMap((b) => [calicoStep(b), manifestsStep(b)]),
    {
      name: 'operator',
      optional: OPERATOR_OPTIONAL,
      key: (c) => c.lock.operator,
      outputs: (c) => [bin(c, 'operator')],
      build: async (c) => {
        const op = c.lock.operator;
        const odir = await downloadModule(c, op.module, op.version);
        const text = readFileSync(join(odir, 'go.mod'), 'utf8');
        const goVersion = text.match(/^go (\S+)/m)?.[1] ?? '1.24.0';
        const carried = goModReplaces(text).filter(([, to]) => !to.startsWith('./'));
        await buildWrapper(c, 'operator', {
          goVersion,
          requires: [[op.module, op.version]],
          replaces: [...carried, [`${op.module}/api`, `${op.module}/api ${op.apiPseudoVersion}`]],
          packages: [{ pkg: `${op.module}/cmd`, out: bin(c, 'operator') }],
          ldflags: `-s -w -X ${op.module}/version.VERSION=${op.version}`,
        });
      },
    },
  ];
}

/** The Calico binaries a build makes (bin/calico<suffix>/<name>), from the monorepo's commands. */
export const CALICO_COMMANDS: ReadonlyArray<{ name: string; pkg: string }> = [
  { name: 'calico-node', pkg: 'node/cmd/calico-node' },
  { name: 'calico', pkg: 'cni-plugin/cmd/calico' },
  { name: 'install', pkg: 'cni-plugin/cmd/install' },
  { name: 'kube-controllers', pkg: 'kube-controllers/cmd/kube-controllers' },
  { name: 'check-status', pkg: 'kube-controllers/cmd/check-status' },
  { name: 'calicoctl', pkg: 'calicoctl/calicoctl' },
  { name: 'apiserver', pkg: 'apiserver/cmd/apiserver' },
  { name: 'calico-typha', pkg: 'typha/cmd/calico-typha' },
];

/**
 * The version stamps of a Calico build, as its Makefiles set them: v3.31 has one pkg/buildinfo; up to v3.30
 * every component has its own variables (node/Makefile sets startup.VERSION, which calico-node writes into
 * the ClusterInformation, and node/buildinfo; felix, typha and confd their buildinfo; kube-controllers and the
 * CNI plugin main.VERSION; calicoctl commands.VERSION; the API server server.VERSION). Both sets are given to
 * every build: the linker leaves out an -X whose variable the package does not declare.
 */
export function calicoVersionLdflags(cal: { version: string; pseudoVersion: string }): string[] {
  const m = 'github.com/projectcalico/calico';
  const rev = cal.pseudoVersion.split('-').pop() ?? '';
  const date = '1970-01-01T00:00:00Z';
  const buildinfo = (pkg: string, version = 'Version') => [
    `${m}/${pkg}.${version}=${cal.version}`,
    `${m}/${pkg}.GitRevision=${rev}`,
    `${m}/${pkg}.BuildDate=${date}`,
  ];
  return [
    ...buildinfo('pkg/buildinfo'),
    ...buildinfo('node/buildinfo', 'GitVersion'),
    ...buildinfo('felix/buildinfo', 'GitVersion'),
    ...buildinfo('typha/pkg/buildinfo', 'GitVersion'),
    `${m}/confd/pkg/buildinfo.GitVersion=${cal.version}`,
    `${m}/node/pkg/lifecycle/startup.VERSION=${cal.version}`,
    `${m}/calicoctl/calicoctl/commands.VERSION=${cal.version}`,
    `${m}/calicoctl/calicoctl/commands.GIT_REVISION=${rev}`,
    `${m}/calicoctl/calicoctl/commands/common.VERSION=${cal.version}`,
    `${m}/apiserver/cmd/apiserver/server.VERSION=${cal.version}`,
    `${m}/apiserver/cmd/apiserver/server.GIT_REVISION=${rev}`,
    `main.VERSION=${cal.version}`,
  ].map((x) => `-X ${x}`);
}

export function calicoBinDir(paths: LabPaths, b: LabCalicoBuild): string {
  return join(paths.bin, `calico${b.suffix}`);
}

/** The upstream manifests of a lab Calico: the catalogue's files for that version. */
export function manifestFiles(version: string): readonly string[] {
  return getVersion(version, 'lab.lock.json calico version').files;
}

/**
 * Calico's Go binaries at a release commit. The monorepo's own replaces that point at published modules
 * carry over (its k8s.io pins); its local ones (./api, ./lib/*) become the published modules at the same
 * commit (the api at its mirror's commit).
 */
function calicoStep(b: LabCalicoBuild): Step {
  return {
    name: `calico${b.suffix}`,
    ...(b.optional ? { optional: b.optional, calicoVersion: b.calico.version } : {}),
    key: () => b.calico,
    outputs: (c) => CALICO_COMMANDS.map(({ name }) => join(calicoBinDir(c.paths, b), name)),
    build: async (c) => {
      const cal = b.calico;
      const cdir = await downloadModule(c, cal.module, cal.pseudoVersion);
      const text = readFileSync(join(cdir, 'go.mod'), 'utf8');
      const goVersion = text.match(/^go (\S+)/m)?.[1] ?? '1.24.0';
      const carried = goModReplaces(text).filter(([, to]) => !to.startsWith('./'));
      const stub = join(c.paths.src, 'calico-stubs', 'httpmachinery');
      mkdirSync(stub, { recursive: true });
      // lib/httpmachinery is only imported by whisker-backend, which the lab does not build, and the proxy
      // does not serve it at these commits: an empty module satisfies the module graph.
      writeFileSync(
        join(stub, 'go.mod'),
        'module github.com/projectcalico/calico/lib/httpmachinery\n\ngo 1.24\n',
      );
      const ld = calicoVersionLdflags(cal).join(' ');
      const m = 'github.com/projectcalico/calico';
      await buildWrapper(c, `calico${b.suffix}`, {
        goVersion,
        requires: [[m, cal.pseudoVersion]],
        replaces: [
          ...carried,
          ['github.com/projectcalico/api', `github.com/projectcalico/api ${cal.apiPseudoVersion}`],
          [`${m}/lib/std`, `${m}/lib/std ${cal.pseudoVersion}`],
          [`${m}/lib/httpmachinery`, stub],
        ],
        packages: CALICO_COMMANDS.map(({ name, pkg }) => ({
          pkg: `${m}/${pkg}`,
          out: join(calicoBinDir(c.paths, b), name),
        })),
        ldflags: `-s -w ${ld}`,
      });
    },
  };
}

/**
 * The upstream manifests of a lab Calico, as published in the same module (manifests/ at the release
 * commit): `run --lab` / `upgrade --lab` read them as their --manifests-dir (manifests/<version>/).
 */
function manifestsStep(b: LabCalicoBuild): Step {
  return {
    name: `manifests${b.suffix}`,
    ...(b.optional ? { optional: b.optional, calicoVersion: b.calico.version } : {}),
    key: () => b.calico,
    outputs: (c) => manifestFiles(b.calico.version).map((f) => join(c.paths.manifests, b.calico.version, f)),
    build: async (c) => {
      const cdir = await downloadModule(c, b.calico.module, b.calico.pseudoVersion);
      const out = join(c.paths.manifests, b.calico.version);
      mkdirSync(out, { recursive: true });
      for (const f of manifestFiles(b.calico.version)) copyFileSync(join(cdir, 'manifests', f), join(out, f));
    },
  };
}

function hashKey(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** Every part of the lab, in build order (the lock's Calico builds each bring their own steps). */
export function allSteps(lock: LabLock = readLabLock()): Step[] {
  return [...goSteps(lock), ...imageSteps(lock)];
}

export function stepIsBuilt(ctx: StepContext, step: Step): boolean {
  const stamp = join(ctx.paths.stamps, `${step.name}.json`);
  if (!existsSync(stamp)) return false;
  const { key } = JSON.parse(readFileSync(stamp, 'utf8')) as { key: string };
  if (key !== hashKey(step.key(ctx)) || !step.outputs(ctx).every((f) => existsSync(f))) return false;
  return (step.images?.(ctx) ?? []).every(
    (img) =>
      execaSync('docker', ['image', 'inspect', '--format', '{{.Id}}', img], { reject: false }).exitCode === 0,
  );
}

export function makeContext(log: (line: string) => void = (l) => console.log(l)): StepContext {
  const lock = readLabLock();
  const paths = labPaths();
  const env = goEnv(paths);
  return {
    lock,
    paths,
    log,
    go: async (args, opts = {}) => {
      await execa('nice', ['-n', '10', GO, ...args], {
        cwd: opts.cwd,
        env: { ...env, ...opts.env },
        stdout: 'inherit',
        stderr: 'inherit',
      });
    },
    run: async (cmd, args, opts = {}) => {
      const r = await execa(cmd, args, { cwd: opts.cwd, input: opts.input, stderr: 'inherit' });
      return r.stdout;
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const force = argv.includes('--force');
  const onlyIdx = argv.indexOf('--only');
  const only = onlyIdx >= 0 ? new Set((argv[onlyIdx + 1] ?? '').split(',').filter(Boolean)) : undefined;
  const ctx = makeContext();
  const steps = allSteps();
  if (only) {
    const unknown = [...only].filter((n) => !steps.some((s) => s.name === n));
    if (unknown.length > 0) {
      console.error(
        `lab:build: error: --only: unknown step(s) ${unknown.join(', ')}; steps: ${steps.map((s) => s.name).join(', ')}`,
      );
      return 2;
    }
  }
  for (const d of [ctx.paths.root, ctx.paths.bin, ctx.paths.stamps, ctx.paths.src])
    mkdirSync(d, { recursive: true });
  const t0 = Date.now();
  let failed = 0;
  for (const step of steps) {
    if (only && !only.has(step.name)) continue;
    if (!force && stepIsBuilt(ctx, step)) {
      console.log(`lab:build ${step.name}: up to date`);
      continue;
    }
    const s0 = Date.now();
    console.log(`lab:build ${step.name}: building`);
    try {
      await step.build(ctx);
      const missing = step.outputs(ctx).filter((f) => !existsSync(f));
      if (missing.length > 0) throw new Error(`outputs missing after build: ${missing.join(', ')}`);
      writeFileSync(
        join(ctx.paths.stamps, `${step.name}.json`),
        JSON.stringify({
          key: hashKey(step.key(ctx)),
          builtAt: new Date().toISOString(),
          seconds: (Date.now() - s0) / 1000,
        }),
      );
      console.log(`lab:build ${step.name}: done in ${((Date.now() - s0) / 1000).toFixed(0)} s`);
    } catch (err) {
      if (!step.optional) failed++;
      const msg = (err as Error).message
        .split('\n')
        .slice(0, 8)
        .map((l) => l.slice(0, 400))
        .join('\n');
      const what = step.optional ? `not built (optional: ${step.optional})` : 'FAILED';
      console.error(
        `lab:build ${step.name}: ${what} after ${((Date.now() - s0) / 1000).toFixed(0)} s: ${msg}`,
      );
    }
  }
  console.log(
    `lab:build: ${failed === 0 ? 'complete' : `${failed} step(s) failed`} in ${((Date.now() - t0) / 1000).toFixed(0)} s (cache ${ctx.paths.root})`,
  );
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
