/**
 * Does the host kernel support IPIP? kind nodes are containers that share the host's kernel, so Calico's IPIP
 * modes need the host's `ipip` module (kind mounts /lib/modules read-only into the nodes so calico-node can
 * load a module that exists but is not loaded yet).
 *
 * Everything here READS: /proc, /sys, the kernel config and /lib/modules, and `modinfo` (which only reads
 * the module index). It never loads a module (no modprobe: the host kernel is shared with everything else
 * on the machine).
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { ProcessRunner } from '../exec/process.js';

export type KernelSupport = 'loaded' | 'built-in' | 'loadable' | 'absent' | 'unknown';

export interface IpipSupport {
  /** IPIP cells can run */
  available: boolean;
  support: KernelSupport;
  /** what was read and what it said, one line each (goes into the preflight phase's evidence) */
  evidence: string[];
  /** one line for a skipped cell */
  reason: string;
}

/** Where the facts are read from; tests point these at fake files. */
export interface KernelPaths {
  procModules: string;
  sysModuleIpip: string;
  procNetDev: string;
  /** kernel config: /proc/config.gz (gzip) and /boot/config-<release> (plain) */
  procConfigGz: string;
  bootConfig: string;
  /** /lib/modules/<release> */
  modulesDir: string;
  kernelRelease: string;
}

export function defaultKernelPaths(kernelRelease = release()): KernelPaths {
  return {
    procModules: '/proc/modules',
    sysModuleIpip: '/sys/module/ipip',
    procNetDev: '/proc/net/dev',
    procConfigGz: '/proc/config.gz',
    bootConfig: `/boot/config-${kernelRelease}`,
    modulesDir: `/lib/modules/${kernelRelease}`,
    kernelRelease,
  };
}

function readText(path: string): string | undefined {
  try {
    const buf = readFileSync(path);
    return path.endsWith('.gz') ? gunzipSync(buf).toString('utf8') : buf.toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * Checks in order from the most direct to the least. The first conclusive answer wins:
 * 1. `/proc/modules` lists `ipip` → loaded;
 * 2. `/sys/module/ipip` exists → loaded or built in (a built-in module with parameters, as ipip has
 *    `log_ecn_error`, also appears there);
 * 3. `/proc/net/dev` has `tunl0` → the ipip driver is live (it creates the fallback device `tunl0` in every
 *    network namespace once loaded: kernel net/ipv4/ipip.c);
 * 4. the kernel config says `CONFIG_NET_IPIP=y` (built in), `=m` (a module: look for it), or "is not set"
 *    (absent: conclusive);
 * 5. `modules.builtin` / `modules.dep` under /lib/modules/<release>, then `modinfo ipip`.
 * Without any answer the support is `unknown`, which is treated as not available unless the user says
 * otherwise (`--assume-ipip`): a skipped cell says why, a cell that fails for lack of a module misleads.
 */
export async function detectIpip(
  paths: KernelPaths = defaultKernelPaths(),
  runner?: ProcessRunner,
  assume = false,
): Promise<IpipSupport> {
  const evidence: string[] = [];
  const done = (support: KernelSupport, extra = ''): IpipSupport => {
    const available = support === 'loaded' || support === 'built-in' || support === 'loadable' || assume;
    const reason = available
      ? ''
      : support === 'absent'
        ? `the host kernel (${paths.kernelRelease}) has no ipip support${extra}; IPIP cells need the host's ipip module because kind nodes share the host kernel`
        : `could not confirm ipip support in the host kernel (${paths.kernelRelease})${extra}; pass --assume-ipip to run IPIP cells anyway`;
    if (assume && support !== 'loaded' && support !== 'built-in' && support !== 'loadable')
      evidence.push(`--assume-ipip: running IPIP cells although the kernel check said ${support}`);
    return { available, support, evidence, reason };
  };

  const modules = readText(paths.procModules);
  if (modules === undefined) evidence.push(`${paths.procModules}: not readable`);
  else if (/^ipip\s/m.test(modules)) {
    evidence.push(`${paths.procModules}: ipip is loaded`);
    return done('loaded');
  } else evidence.push(`${paths.procModules}: ipip not loaded`);

  if (existsSync(paths.sysModuleIpip)) {
    evidence.push(`${paths.sysModuleIpip}: present`);
    return done('loaded');
  }
  evidence.push(`${paths.sysModuleIpip}: absent`);

  const netDev = readText(paths.procNetDev);
  if (netDev !== undefined && /^\s*tunl0:/m.test(netDev)) {
    evidence.push(`${paths.procNetDev}: tunl0 present (the ipip driver is live)`);
    return done('loaded');
  }

  const config = readText(paths.procConfigGz) ?? readText(paths.bootConfig);
  let configSaysModule = false;
  if (config !== undefined) {
    const m = /^CONFIG_NET_IPIP=([ym])\s*$/m.exec(config);
    if (m?.[1] === 'y') {
      evidence.push('kernel config: CONFIG_NET_IPIP=y');
      return done('built-in');
    }
    if (m?.[1] === 'm') {
      evidence.push('kernel config: CONFIG_NET_IPIP=m');
      configSaysModule = true;
    } else if (/^# CONFIG_NET_IPIP is not set/m.test(config)) {
      evidence.push('kernel config: CONFIG_NET_IPIP is not set');
      return done('absent', ' (CONFIG_NET_IPIP is not set)');
    }
  } else evidence.push(`kernel config: neither ${paths.procConfigGz} nor ${paths.bootConfig} readable`);

  const builtin = readText(`${paths.modulesDir}/modules.builtin`);
  if (builtin !== undefined && /(^|\/)ipip\.ko\s*$/m.test(builtin)) {
    evidence.push(`${paths.modulesDir}/modules.builtin: ipip.ko`);
    return done('built-in');
  }
  const dep = readText(`${paths.modulesDir}/modules.dep`);
  if (dep !== undefined) {
    if (/(^|\/)ipip\.ko(\.[gx]z|\.zst)?:/m.test(dep)) {
      evidence.push(`${paths.modulesDir}/modules.dep: ipip module present (calico-node loads it on demand)`);
      return done('loadable');
    }
    evidence.push(`${paths.modulesDir}/modules.dep: no ipip module`);
  } else evidence.push(`${paths.modulesDir}: not readable`);

  if (runner) {
    const r = await runner.run('modinfo', ['-n', 'ipip'], { timeoutMs: 10_000 });
    if (r.exitCode === 0 && r.stdout.trim()) {
      evidence.push(`modinfo -n ipip: ${r.stdout.trim()}`);
      return done(r.stdout.trim() === '(builtin)' ? 'built-in' : 'loadable');
    }
    evidence.push(
      `modinfo -n ipip: ${r.exitCode === 127 ? 'modinfo not available' : `exit ${r.exitCode} ${r.stderr.trim()}`}`,
    );
    if (r.exitCode === 1 && configSaysModule)
      return done('absent', ' (CONFIG_NET_IPIP=m but no module file)');
  }
  if (dep !== undefined) return done('absent', ' (no ipip module in modules.dep)');
  return done('unknown');
}
