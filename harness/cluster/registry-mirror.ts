/**
 * Registry mirror on the kind nodes: containerd on current node images reads per-registry host files from
 * /etc/containerd/certs.d (config_path; kind ≥ v0.27, kind site/content/docs/user/private-registries.md), so
 * pointing a registry at a mirror is one `hosts.toml` per node, written after the nodes exist and before any
 * Calico image is pulled. containerd reads these files on every pull: no restart. The file's content comes
 * from kind-config.ts (mirrorHostsToml); this module only puts it on each node through its NodeShell.
 */
import { dirname } from 'node:path';
import { mirrorHostsToml } from './kind-config.js';
import type { NodeShell } from './node-shell.js';

export class NodeCommandError extends Error {
  constructor(
    readonly node: string,
    doing: string,
    detail: string,
  ) {
    super(`${node}: ${doing}: ${detail}`);
    this.name = 'NodeCommandError';
  }
}

/** Writes the mirror's hosts.toml on every node; returns the path written. Throws naming the node that failed. */
export async function writeRegistryMirror(
  nodes: readonly NodeShell[],
  registry: string,
  mirror: string,
): Promise<string> {
  const { path, content } = mirrorHostsToml(registry, mirror);
  await Promise.all(
    nodes.map(async (n) => {
      const mk = await n.exec(['mkdir', '-p', dirname(path)], { timeoutMs: 30_000 });
      if (mk.exitCode !== 0)
        throw new NodeCommandError(n.node, `creating ${dirname(path)}`, (mk.stderr || mk.stdout).trim());
      // `tee` takes the content on stdin: no shell, no quoting of the file's text
      const w = await n.exec(['tee', path], { input: content, timeoutMs: 30_000 });
      if (w.exitCode !== 0)
        throw new NodeCommandError(n.node, `writing ${path}`, (w.stderr || w.stdout).trim());
    }),
  );
  return path;
}
