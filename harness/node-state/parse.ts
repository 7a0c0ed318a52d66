/**
 * Parsers for the node dump files (pure). The same code reads a live collection and a saved dump, for the
 * audit, the mode verification and the cluster's topology checks.
 * JSON shapes are iproute2's `-j` output (`ip -d -j link`, `ip -j addr`, `ip -j route`).
 */

export interface IpLink {
  ifindex?: number;
  ifname: string;
  flags: string[];
  mtu?: number;
  qdisc?: string;
  operstate?: string;
  link_type?: string;
  /** the peer/parent name (`veth`/`ipip`), null for tunl0@NONE */
  link?: string | null;
  /** the link-layer address (`ee:ee:ee:ee:ee:ee` on the host side of every Calico CNI veth) */
  address?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

export interface IpAddrInfo {
  family: 'inet' | 'inet6' | string;
  local: string;
  prefixlen: number;
  scope?: string;
}

export interface IpAddrLink {
  ifname: string;
  flags: string[];
  operstate?: string;
  addr_info: IpAddrInfo[];
}

export interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  table?: string;
  flags: string[];
  metric?: number;
}

function parseJsonArray<T>(text: string, file: string): T[] {
  const t = text.trim();
  if (t === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (err) {
    throw new Error(`${file}: not the JSON of iproute2 -j: ${(err as Error).message}`);
  }
  if (!Array.isArray(v)) throw new Error(`${file}: expected a JSON array`);
  return v as T[];
}

export function parseIpLinks(text: string): IpLink[] {
  return parseJsonArray<IpLink>(text, 'ip-link.json').map((l) => ({ ...l, flags: l.flags ?? [] }));
}

export function parseIpAddrs(text: string): IpAddrLink[] {
  return parseJsonArray<IpAddrLink>(text, 'ip-addr.json').map((l) => ({
    ...l,
    flags: l.flags ?? [],
    addr_info: l.addr_info ?? [],
  }));
}

export function parseIpRoutes(text: string, file = 'ip-route.json'): IpRoute[] {
  return parseJsonArray<IpRoute>(text, file).map((r) => ({ ...r, flags: r.flags ?? [] }));
}

/**
 * iproute2 prints protocol 12 as "bird" where /etc/iproute2/rt_protos names it (Debian, kind's Ubuntu base),
 * else as "12"; Felix's protocol 80 has no name ("80"); Calico's own route tests (projectcalico/calico
 * node/tests/k8st cluster_routes_test.go) classify routes by these two numbers.
 */
export function routeProtocolNumber(protocol: string | undefined): number | undefined {
  if (protocol === undefined) return undefined;
  const named: Record<string, number> = { kernel: 2, boot: 3, static: 4, bird: 12, dhcp: 16 };
  if (protocol in named) return named[protocol];
  return /^\d+$/.test(protocol) ? Number(protocol) : undefined;
}

export interface SaveChain {
  table: string;
  name: string;
}

export interface SaveRule {
  table: string;
  chain: string;
  /** the rule after `-A ` (as iptables-save prints it, shell-quoted) */
  spec: string;
}

export interface IptablesSave {
  chains: SaveChain[];
  rules: SaveRule[];
}

/** iptables-save format: `*table`, `:CHAIN POLICY [p:b]`, `-A CHAIN spec…`, `COMMIT`. */
export function parseIptablesSave(text: string): IptablesSave {
  const out: IptablesSave = { chains: [], rules: [] };
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) out.chains.push({ table, name: line.slice(1).split(/\s+/)[0]! });
    else if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      out.rules.push({ table, chain: sp < 0 ? rest : rest.slice(0, sp), spec: rest });
    }
  }
  return out;
}

/** `nft list tables`: lines `table <family> <name>`. */
export function parseNftTables(text: string): { family: string; name: string }[] {
  const out: { family: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*table\s+(\S+)\s+(\S+)/.exec(line);
    if (m) out.push({ family: m[1]!, name: m[2]! });
  }
  return out;
}

/** `ipset list -n`: one set name per line. */
export function parseIpsetNames(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

export interface FileEntry {
  /** find's %y: f file, d directory, l symlink, s socket, … */
  type: string;
  path: string;
}

/** find -printf '%y %p\n' */
export function parseFileList(text: string): FileEntry[] {
  const out: FileEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S)\s(.+)$/.exec(line.trimEnd());
    if (m) out.push({ type: m[1]!, path: m[2]! });
  }
  return out;
}

export interface MountEntry {
  /** where it is mounted, as the node sees it (octal escapes of mountinfo decoded) */
  mountPoint: string;
  /** the filesystem type after the ` - ` separator (bpf, cgroup2, tmpfs, …) */
  fsType: string;
  source: string;
}

/**
 * `/proc/self/mountinfo` (proc(5)): `id parent major:minor root mountpoint options [optional…] - fstype
 * source superoptions`. Read through `docker exec`, it is the node container's own mount namespace.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const decode = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const sep = fields.indexOf('-');
    if (fields.length < 7 || sep < 6) continue;
    out.push({
      mountPoint: decode(fields[4]!),
      fsType: fields[sep + 1] ?? '',
      source: decode(fields[sep + 2] ?? ''),
    });
  }
  return out;
}

/** sha256sum output: `<hex>  <path>` (a `*` before the path in binary mode). */
export function parseSha256(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

/** A route as `ip route` prints it (type, dst, via, dev, proto, scope, table, flags): evidence text. */
export function formatRoute(r: IpRoute): string {
  return [
    r.type && r.type !== 'unicast' ? r.type : '',
    r.dst,
    r.gateway ? `via ${r.gateway}` : '',
    r.dev ? `dev ${r.dev}` : '',
    r.protocol ? `proto ${r.protocol}` : '',
    r.scope ? `scope ${r.scope}` : '',
    r.table ? `table ${r.table}` : '',
    ...r.flags,
  ]
    .filter(Boolean)
    .join(' ');
}
