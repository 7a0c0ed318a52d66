/**
 * The leftover rules (pure): node dump + API state in, findings out. Every finding carries the evidence,
 * why it matters and the exact command that removes it. Facts are from calico-tests-uninstall.md (§2.4
 * inventory, §3 tunl0, §5 checker) unless noted.
 */
import type { ClusterState } from './cluster-state.js';
import { BASELINE_FILE, type DumpFile, type NodeDump } from './dump.js';
import type { AuditReport, Finding, FindingCategory, NotChecked, Uncollected } from './finding.js';
import {
  formatRoute,
  type IpAddrLink,
  type IpLink,
  type IpRoute,
  parseFileList,
  parseIpAddrs,
  parseIpLinks,
  parseIpRoutes,
  parseIpsetNames,
  parseIptablesSave,
  parseNftTables,
  parseSha256,
  routeProtocolNumber,
} from './parse.js';

export interface AuditOptions {
  /**
   * Findings to allow: a rule id (`node-annotations`, `network-unavailable`, …), `by-design` for every
   * leftover Calico keeps on purpose, or a finding name (`*` matches any run of characters).
   */
  allow?: readonly string[];
  /** the kind node image, to name where original CNI binaries can be restored from */
  nodeImage?: string;
}

export interface PartialAudit {
  findings: Finding[];
  notChecked: NotChecked[];
}

/** Rules whose findings Calico leaves by design (§2.4: annotations and the NetworkUnavailable condition). */
export const BY_DESIGN_RULES = ['node-annotations', 'network-unavailable'] as const;

const DEVICE_WHY: Record<string, string> = {
  'vxlan.calico':
    'Felix deletes vxlan.calico only when VXLAN is disabled while it runs; a stale one survives re-installs and has been seen stuck DOWN or with a wrong MAC (projectcalico/calico#6383, #4468)',
  'vxlan-v6.calico': 'Felix deletes vxlan-v6.calico only when IPv6 VXLAN is disabled while it runs',
  'wireguard.cali':
    'WireGuard device left by Felix; its routing rules and table stay with it (rancher/rke2#4962)',
  'wg-v6.cali': 'IPv6 WireGuard device left by Felix',
  'bpfin.cali': 'eBPF dataplane special device; Felix removes it only when it starts in iptables mode',
  'bpfout.cali': 'eBPF dataplane special device; Felix removes it only when it starts in iptables mode',
};

const ROUTE_PROTO_NAMES: Record<number, string> = { 12: 'bird', 80: '80 (Felix)' };

/** iptables tool per dump file: remediation runs the same backend the evidence came from. */
const IPTABLES_FILES: { file: DumpFile; tool: string }[] = [
  { file: 'iptables-legacy-save.txt', tool: 'iptables-legacy' },
  { file: 'iptables-nft-save.txt', tool: 'iptables-nft' },
  { file: 'ip6tables-legacy-save.txt', tool: 'ip6tables-legacy' },
  { file: 'ip6tables-nft-save.txt', tool: 'ip6tables-nft' },
];

function notChecked(dump: NodeDump, file: DumpFile, category: FindingCategory, what: string): NotChecked {
  return {
    node: dump.node,
    category,
    what,
    reason: `${file}: ${dump.notes.unavailable?.[file] ?? 'absent from the dump (the command was not available on the node)'}`,
  };
}

function q(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function hasInet(addrs: IpAddrLink[] | undefined, ifname: string): string[] {
  return (addrs ?? [])
    .filter((a) => a.ifname === ifname)
    .flatMap((a) => a.addr_info.filter((i) => i.family === 'inet').map((i) => `${i.local}/${i.prefixlen}`));
}

function routeDelete(r: IpRoute, v6: boolean): string {
  const parts = ['ip', ...(v6 ? ['-6'] : []), 'route', 'del'];
  if (r.type && r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dst === 'default' ? 'default' : r.dst);
  if (r.gateway) parts.push('via', r.gateway);
  // a blackhole has no device (iproute2 shows IPv6 ones on lo); deleting it names none
  if (r.dev && !isTypeOnly(r)) parts.push('dev', r.dev);
  if (r.protocol) parts.push('proto', r.protocol);
  if (r.table && r.table !== 'main') parts.push('table', r.table);
  return parts.map(q).join(' ');
}

function isTypeOnly(r: IpRoute): boolean {
  return r.type === 'blackhole' || r.type === 'unreachable' || r.type === 'prohibit';
}

function tunnelRoutes(routes: IpRoute[], dev: string): IpRoute[] {
  return routes.filter(
    (r) => r.dev === dev && r.table !== 'local' && r.type !== 'local' && r.type !== 'broadcast',
  );
}

function auditInterfaces(
  dump: NodeDump,
  links: IpLink[],
  addrs: IpAddrLink[] | undefined,
  routes: IpRoute[],
): Finding[] {
  const out: Finding[] = [];
  const tunl0 = links.find((l) => l.ifname === 'tunl0');
  if (tunl0) {
    // The kernel creates a fallback tunl0 (DOWN, no address, qdisc noop) in every netns once `ipip` is
    // loaded, and it cannot be deleted (§3.1); Calico re-configures that same device (§3.2). So the
    // leftover is its configuration: an IPv4 address, UP, or routes through it (§3.4). MTU is no
    // discriminator: Felix's 1480 on a 1500 eth0 equals the fallback's.
    const inet = hasInet(addrs, 'tunl0');
    const up = tunl0.flags.includes('UP');
    const via = tunnelRoutes(routes, 'tunl0');
    if (inet.length > 0 || up || via.length > 0) {
      out.push({
        node: dump.node,
        category: 'interface',
        rule: 'tunl0-configured',
        name: 'tunl0',
        detail: [
          `flags <${tunl0.flags.join(',')}> state ${tunl0.operstate ?? '?'} qdisc ${tunl0.qdisc ?? '?'} mtu ${tunl0.mtu ?? '?'}`,
          inet.length ? `inet ${inet.join(', ')}` : 'no IPv4 address',
          ...via.map((r) => `route ${formatRoute(r)}`),
        ].join('; '),
        why: 'Felix configured tunl0 (address, UP) and nothing un-configures it on uninstall; a re-install in another mode, or another CNI, then inherits a live IPIP tunnel and its routes. Never `modprobe -r ipip` on kind: the nodes share the host kernel (calico-tests-uninstall.md §3.3)',
        remediation: 'ip addr flush dev tunl0 && ip link set tunl0 down',
      });
    }
  }
  const reported = new Set<string>();
  for (const l of [...links].sort((a, b) => a.ifname.localeCompare(b.ifname))) {
    const why = DEVICE_WHY[l.ifname];
    // a veth pair (bpfin.cali/bpfout.cali) goes with one `ip link del`: report it once, naming the peer
    if (why && l.link && reported.has(l.link)) continue;
    if (why) {
      reported.add(l.ifname);
      out.push({
        node: dump.node,
        category: 'interface',
        rule: 'calico-device',
        name: l.ifname,
        detail: `${l.linkinfo?.info_kind ?? l.link_type ?? 'device'} flags <${l.flags.join(',')}> state ${l.operstate ?? '?'}${
          l.linkinfo?.info_data && 'id' in l.linkinfo.info_data
            ? ` vni ${String(l.linkinfo.info_data.id)}`
            : ''
        }${hasInet(addrs, l.ifname).length ? ` inet ${hasInet(addrs, l.ifname).join(', ')}` : ''}${
          l.link && DEVICE_WHY[l.link] ? `; veth peer ${l.link} (removed with it)` : ''
        }`,
        why,
        remediation: `ip link del ${q(l.ifname)}`,
      });
    } else if (/^cali[0-9a-f]{11}$/.test(l.ifname)) {
      // the CNI plugin names the host side "cali" + 11 hex characters of a hash of the workload id (15 = IFNAMSIZ-1)
      out.push({
        node: dump.node,
        category: 'interface',
        rule: 'cali-veth',
        name: l.ifname,
        detail: `${l.linkinfo?.info_kind ?? 'link'} ${l.ifname}${l.link ? `@${l.link}` : ''} state ${l.operstate ?? '?'}`,
        why: 'host side of a pod veth wired by the Calico CNI plugin: the pod still runs with a Calico address and no Calico to route or police it (§2.4)',
        remediation: `ip link del ${q(l.ifname)}`,
      });
    }
  }
  return out;
}

function auditRoutes(dump: NodeDump, routes: IpRoute[], v6: boolean): Finding[] {
  const out: Finding[] = [];
  for (const r of routes) {
    if (r.table === 'local' || r.type === 'local' || r.type === 'broadcast') continue;
    const proto = routeProtocolNumber(r.protocol);
    const calicoProto = proto === 12 || proto === 80;
    const blackhole = r.type === 'blackhole';
    if (!calicoProto && !blackhole) continue;
    out.push({
      node: dump.node,
      category: 'route',
      rule: blackhole ? 'blackhole-route' : 'calico-route',
      name: `${v6 ? 'ipv6 ' : ''}${blackhole ? 'blackhole ' : ''}${r.dst}${r.dev && !isTypeOnly(r) ? ` dev ${r.dev}` : ''}`,
      detail: formatRoute(r),
      why: blackhole
        ? "a node's own IPAM block is installed as a blackhole by BIRD/Felix; it has no device, so it outlives every tunnel and silently drops traffic to that range"
        : `route owned by ${ROUTE_PROTO_NAMES[proto!] ?? r.protocol}: BIRD keeps its routes in the kernel on exit by design (\`persist\`), Felix never removes its own on shutdown; they steer traffic to pod blocks that no longer exist`,
      remediation: routeDelete(r, v6),
    });
  }
  return out;
}

function auditIptables(dump: NodeDump, file: DumpFile, tool: string, text: string): Finding[] {
  const save = parseIptablesSave(text);
  const tables = [...new Set([...save.chains.map((c) => c.table), ...save.rules.map((r) => r.table)])];
  const out: Finding[] = [];
  for (const table of tables) {
    const chains = save.chains
      .filter((c) => c.table === table && c.name.startsWith('cali-'))
      .map((c) => c.name);
    const chainSet = new Set(chains);
    // rules outside Calico's chains that Calico put there: tagged `cali:` or jumping to a cali- chain
    const hooks = save.rules.filter(
      (r) =>
        r.table === table &&
        !chainSet.has(r.chain) &&
        (/--comment "?cali:/.test(r.spec) || /\s-[jg] cali-/.test(r.spec)),
    );
    const tagged = save.rules.filter((r) => r.table === table && /--comment "?cali:/.test(r.spec)).length;
    if (chains.length === 0 && hooks.length === 0) continue;
    const commands = [
      ...hooks.map((h) => `${tool} -t ${table} -D ${h.spec}`),
      ...chains.map((c) => `${tool} -t ${table} -F ${c}`),
      ...chains.map((c) => `${tool} -t ${table} -X ${c}`),
    ];
    out.push({
      node: dump.node,
      category: 'iptables',
      rule: 'cali-iptables',
      name: `${tool} ${table}`,
      detail: [
        `${chains.length} cali- chain${chains.length === 1 ? '' : 's'}${chains.length ? ` (${chains.slice(0, 12).join(', ')}${chains.length > 12 ? ', …' : ''})` : ''}`,
        `${tagged} rule${tagged === 1 ? '' : 's'} tagged cali:`,
        ...hooks.slice(0, 6).map((h) => `-A ${h.spec}`),
      ].join('; '),
      why: `Felix's chains and the cali: hooks in the built-in chains stay after uninstall (projectcalico/calico#5100); the dispatch chains end in DROP "Unknown interface", so they keep policing traffic with no Calico behind them. Evidence from ${file}; kind picks the iptables backend per node, so both backends are checked`,
      remediation: commands.join(' && '),
    });
  }
  return out;
}

function auditFiles(dump: NodeDump, text: string): Finding[] {
  const entries = parseFileList(text);
  const out: Finding[] = [];
  const stateDirs: Record<string, string> = {
    '/var/lib/calico':
      'calico-node state (nodename, mtu); its presence makes a later CNI ADD believe Calico is installed',
    '/var/run/calico': 'calico-node runtime state: bird.ctl, status and endpoint-status files',
    '/var/log/calico': 'Calico and CNI plugin logs',
  };
  for (const [dir, why] of Object.entries(stateDirs)) {
    const inside = entries.filter((e) => e.path.startsWith(`${dir}/`));
    if (entries.some((e) => e.path === dir) || inside.length > 0) {
      out.push({
        node: dump.node,
        category: 'file',
        rule: 'calico-state-dir',
        name: dir,
        detail: `${inside.length} entr${inside.length === 1 ? 'y' : 'ies'} inside${
          inside.length
            ? `: ${inside
                .slice(0, 6)
                .map((e) => `${e.type} ${e.path}`)
                .join(', ')}`
            : ''
        }`,
        why: `${why}; hostPath directories outlive the pods that wrote them (§2.4)`,
        remediation: `rm -rf ${dir}`,
      });
    }
  }
  for (const e of entries) {
    const base = e.path.slice(e.path.lastIndexOf('/') + 1);
    const parent = e.path.slice(0, e.path.lastIndexOf('/'));
    if (parent === '/etc/cni/net.d' && /calico/.test(base)) {
      out.push({
        node: dump.node,
        category: 'file',
        rule: 'calico-cni-config',
        name: e.path,
        detail: `${e.type} ${e.path}`,
        why: base.endsWith('.conflist')
          ? 'the runtime uses the first CNI config in lexical order: a leftover 10-calico.conflist keeps new pods on a CNI that is gone (pods stuck ContainerCreating, §4.4–4.5)'
          : 'Calico CNI credentials (calico-kubeconfig holds a token) left on the host',
        remediation: `rm -rf ${q(e.path)}`,
      });
    } else if (parent === '/opt/cni/bin' && (base === 'calico' || base === 'calico-ipam')) {
      out.push({
        node: dump.node,
        category: 'file',
        rule: 'calico-cni-binary',
        name: e.path,
        detail: `${e.type} ${e.path}`,
        why: 'install-cni copies its plugins into /opt/cni/bin and has no removal path',
        remediation: `rm -f ${q(e.path)}`,
      });
    } else if (parent.startsWith('/var/lib/cni') && /k8s-pod-network|calico/.test(base)) {
      out.push({
        node: dump.node,
        category: 'file',
        rule: 'calico-cni-state',
        name: e.path,
        detail: `${e.type} ${e.path}`,
        why: "CNI state kept for Calico's network (k8s-pod-network)",
        remediation: `rm -rf ${q(e.path)}`,
      });
    } else if (e.path.startsWith('/sys/fs/bpf/') && /^(cali|calico|xdp_cali)/.test(base)) {
      const flaggedAncestor = out.some((f) => f.category === 'bpf' && e.path.startsWith(`${f.name}/`));
      if (!flaggedAncestor) {
        out.push({
          node: dump.node,
          category: 'bpf',
          rule: 'calico-bpf-pin',
          name: e.path,
          detail: `${e.type} ${e.path}`,
          why: "pinned BPF objects keep Calico's eBPF programs and maps alive after calico-node is gone (§2.4); `calico-bpf cleanup` is the upstream tool when its image is at hand",
          remediation: `rm -rf ${q(e.path)}`,
        });
      }
    }
  }
  return out;
}

function auditCniBaseline(dump: NodeDump, opts: AuditOptions): PartialAudit {
  const now = dump.files['cni-bin.sha256'];
  const base = dump.files['cni-bin-baseline.sha256'];
  if (now === undefined) {
    return {
      findings: [],
      notChecked: [notChecked(dump, 'cni-bin.sha256', 'file', 'CNI binaries against the baseline')],
    };
  }
  if (base === undefined) {
    return {
      findings: [],
      notChecked: [
        {
          node: dump.node,
          category: 'file',
          what: 'CNI binaries against the baseline',
          reason:
            'no cni-bin-baseline.sha256 (taken right after the cluster was created, before Calico) in the dump',
        },
      ],
    };
  }
  const before = parseSha256(base);
  const after = parseSha256(now);
  const findings: Finding[] = [];
  const image = opts.nodeImage ?? '<kind node image>';
  for (const [path, sum] of after) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const was = before.get(path);
    if (was === undefined) {
      // calico and calico-ipam are reported by their own rule from files.txt
      if (name === 'calico' || name === 'calico-ipam') continue;
      findings.push({
        node: dump.node,
        category: 'file',
        rule: 'cni-bin-added',
        name: path,
        detail: `not in the baseline; sha256 ${sum}`,
        why: 'install-cni copies every plugin in its image into /opt/cni/bin (tuning, flannel, bandwidth, …) and never removes them',
        remediation: `rm -f ${q(path)}`,
      });
    } else if (was !== sum) {
      findings.push({
        node: dump.node,
        category: 'file',
        rule: 'cni-bin-changed',
        name: path,
        detail: `sha256 ${sum}, baseline ${was}`,
        why: "install-cni overwrites same-named plugins (UPDATE_CNI_BINARIES defaults to true): kind's own host-local/loopback/portmap are now Calico's builds",
        remediation: `c=$(docker create ${q(image)}) && docker cp "$c:${path}" - | docker cp - ${q(dump.node)}:${path.slice(0, path.lastIndexOf('/'))}/ ; docker rm "$c"`,
      });
    }
  }
  return { findings, notChecked: [] };
}

export function auditNodeDump(dump: NodeDump, opts: AuditOptions = {}): PartialAudit {
  const findings: Finding[] = [];
  const missing: NotChecked[] = [];
  const f = dump.files;

  // `ip -j route show table all` without -4 also dumps IPv6 routes (seen on iproute2 6.1): the IPv4 file
  // keeps IPv4 only, and IPv6 routes are judged once, from ip6-route.json
  const routes =
    f['ip-route.json'] !== undefined
      ? parseIpRoutes(f['ip-route.json']).filter((r) => !r.dst.includes(':'))
      : undefined;
  const routes6 =
    f['ip6-route.json'] !== undefined ? parseIpRoutes(f['ip6-route.json'], 'ip6-route.json') : undefined;
  const addrs = f['ip-addr.json'] !== undefined ? parseIpAddrs(f['ip-addr.json']) : undefined;

  // findings come in an order their remediations can run in: routes before the devices they use
  if (routes) findings.push(...auditRoutes(dump, routes, false));
  else missing.push(notChecked(dump, 'ip-route.json', 'route', 'IPv4 bird/Felix and blackhole routes'));
  if (routes6) findings.push(...auditRoutes(dump, routes6, true));
  else missing.push(notChecked(dump, 'ip6-route.json', 'route', 'IPv6 bird/Felix and blackhole routes'));
  if (f['ip-link.json'] !== undefined) {
    findings.push(...auditInterfaces(dump, parseIpLinks(f['ip-link.json']), addrs, routes ?? []));
    if (addrs === undefined)
      missing.push(notChecked(dump, 'ip-addr.json', 'interface', 'tunl0 and device addresses'));
  } else {
    missing.push(
      notChecked(
        dump,
        'ip-link.json',
        'interface',
        'tunl0, vxlan.calico, wireguard.cali, bpf devices, cali* veths',
      ),
    );
  }

  for (const { file, tool } of IPTABLES_FILES) {
    const text = f[file];
    if (text === undefined)
      missing.push(notChecked(dump, file, 'iptables', `cali- chains and cali: rules (${tool})`));
    else findings.push(...auditIptables(dump, file, tool, text));
  }

  if (f['nft-tables.txt'] === undefined) {
    missing.push(notChecked(dump, 'nft-tables.txt', 'nftables', 'nftables tables named calico'));
  } else {
    for (const t of parseNftTables(f['nft-tables.txt']).filter((t) => t.name === 'calico')) {
      findings.push({
        node: dump.node,
        category: 'nftables',
        rule: 'calico-nft-table',
        name: `table ${t.family} calico`,
        detail: `nft list tables: table ${t.family} calico`,
        why: "Felix's nftables dataplane programs everything into `table ip|ip6 calico` and never deletes it on shutdown",
        remediation: `nft delete table ${t.family} calico`,
      });
    }
  }

  if (f['ipset-list.txt'] === undefined) {
    missing.push(
      notChecked(dump, 'ipset-list.txt', 'ipset', 'Calico ipsets cali40*/cali60*/cali4t*/cali6t*'),
    );
  } else {
    const helper = dump.notes.ipsetVia === 'helper-container' && dump.notes.ipsetHelperImage;
    for (const name of parseIpsetNames(f['ipset-list.txt']).filter((n) => /^cali[46][0t]/.test(n))) {
      findings.push({
        node: dump.node,
        category: 'ipset',
        rule: 'calico-ipset',
        name,
        detail: `ipset list -n: ${name}${helper ? ` (listed by a helper container in the node's netns, image ${helper})` : ''}`,
        why: 'Felix names its ipsets cali + 4|6 + 0 (main) or t (temporary) (felix/ipsets/ipset_defs.go); they stay in the kernel after uninstall and keep feeding any leftover cali- rule. Destroy after removing the iptables rules that reference them',
        remediation: helper
          ? `docker run --rm --network container:${q(dump.node)} --cap-add NET_ADMIN --entrypoint ipset ${q(helper)} destroy ${q(name)}`
          : `ipset destroy ${q(name)}`,
      });
    }
  }

  if (f['files.txt'] === undefined) {
    missing.push(notChecked(dump, 'files.txt', 'file', 'CNI config, binaries and Calico state directories'));
    missing.push(notChecked(dump, 'files.txt', 'bpf', 'BPF pins under /sys/fs/bpf'));
  } else {
    findings.push(...auditFiles(dump, f['files.txt']));
  }
  const cni = auditCniBaseline(dump, opts);
  findings.push(...cni.findings);
  missing.push(...cni.notChecked);

  return { findings: findings.map((x) => applyAllow(x, opts)), notChecked: missing };
}

const CALICO_NAMESPACES = new Set(['calico-system', 'calico-apiserver', 'tigera-operator']);

function isCalicoCrd(name: string): boolean {
  return name.endsWith('.projectcalico.org') || name.endsWith('.operator.tigera.io');
}

function isCalicoRbac(name: string): boolean {
  return /^(calico-|tigera-)/.test(name) || name === 'calico-node' || name === 'tigera-operator';
}

export function auditClusterState(state: ClusterState, opts: AuditOptions = {}): PartialAudit {
  const out: Finding[] = [];
  const node = 'cluster';
  const groups = new Map<string, string[]>();
  for (const c of state.crds.filter(isCalicoCrd)) {
    const group = c.slice(c.indexOf('.') + 1);
    groups.set(group, [...(groups.get(group) ?? []), c]);
  }
  for (const [group, crds] of groups) {
    out.push({
      node,
      category: 'api',
      rule: 'calico-crds',
      name: `CRDs ${group}`,
      detail: `${crds.length} CRD${crds.length === 1 ? '' : 's'}: ${crds.join(', ')}`,
      why:
        group === 'operator.tigera.io'
          ? 'the operator CRDs stay unless operator-crds.yaml (≥ v3.30) is deleted; an Installation left behind drives the next install'
          : "Calico's data (IPPools, IPAM blocks, FelixConfiguration) lives in these CRDs: a re-install adopts the old pool and its encapsulation (tigera/operator#2340)",
      remediation: `kubectl delete crd ${crds.join(' ')}`,
    });
  }
  const apiServiceBroken = state.apiServices.some((a) => a.endsWith('projectcalico.org'));
  for (const ns of state.namespaces.filter((n) => CALICO_NAMESPACES.has(n.name))) {
    const problems = (ns.conditions ?? []).filter((c) => c.status === 'True');
    const terminating = ns.phase === 'Terminating';
    const discovery = problems.some(
      (c) => /Discovery/i.test(c.type) && /projectcalico/.test(c.message ?? ''),
    );
    out.push({
      node,
      category: 'api',
      rule: 'calico-namespace',
      name: `namespace ${ns.name}`,
      detail: `phase ${ns.phase ?? '?'}${problems.length ? `; ${problems.map((c) => `${c.type}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`).join('; ')}` : ''}${ns.finalizers?.length ? `; finalizers ${ns.finalizers.join(',')}` : ''}`,
      why: terminating
        ? discovery || apiServiceBroken
          ? 'stuck Terminating: the aggregated v3.projectcalico.org APIService outlived its backend, so namespace deletion fails discovery (tigera/operator#4103, projectcalico/calico#7555)'
          : 'stuck Terminating: objects with finalizers remain inside (tigera/operator#2031, #3413; projectcalico/calico#8695)'
        : 'Calico namespace still exists after uninstall',
      remediation:
        terminating && (discovery || apiServiceBroken)
          ? 'kubectl delete apiservice v3.projectcalico.org'
          : terminating
            ? `kubectl get all,serviceaccounts -n ${ns.name} -o name | xargs -r kubectl patch -n ${ns.name} --type=merge -p '{"metadata":{"finalizers":null}}'`
            : `kubectl delete namespace ${ns.name}`,
    });
  }
  for (const a of state.apiServices.filter(
    (x) => x.endsWith('projectcalico.org') || x.endsWith('tigera.io'),
  )) {
    out.push({
      node,
      category: 'api',
      rule: 'calico-apiservice',
      name: `apiservice ${a}`,
      detail: `APIService ${a} present`,
      why: 'an aggregated API without its calico-apiserver backend breaks discovery: namespace deletions hang and kubectl prints stale GroupVersion errors',
      remediation: `kubectl delete apiservice ${a}`,
    });
  }
  for (const w of state.webhooks.filter((x) => /projectcalico\.org|tigera|calico/.test(x.name))) {
    out.push({
      node,
      category: 'api',
      rule: 'calico-webhook',
      name: `${w.kind}webhookconfiguration ${w.name}`,
      detail: `${w.kind === 'validating' ? 'ValidatingWebhookConfiguration' : 'MutatingWebhookConfiguration'} ${w.name}`,
      why: 'a webhook whose service is gone fails (or blocks) every matching API request',
      remediation: `kubectl delete ${w.kind}webhookconfiguration ${w.name}`,
    });
  }
  for (const [kind, names] of [
    ['clusterrole', state.clusterRoles.filter(isCalicoRbac)],
    ['clusterrolebinding', state.clusterRoleBindings.filter(isCalicoRbac)],
  ] as const) {
    if (names.length === 0) continue;
    out.push({
      node,
      category: 'api',
      rule: 'calico-rbac',
      name: `${kind}s calico/tigera`,
      detail: names.join(', '),
      why: 'cluster-scoped RBAC of Calico survives when a namespace deletion or a finalizer hangs',
      remediation: `kubectl delete ${kind} ${names.join(' ')}`,
    });
  }
  for (const p of state.ipPools) {
    out.push({
      node,
      category: 'api',
      rule: 'calico-ippool',
      name: `ippool ${p.name}`,
      detail: `IPPool ${p.name}${p.cidr ? ` ${p.cidr}` : ''}`,
      why: 'IPPools have no owner reference and survive Installation deletion (tigera/operator pool_controller.go); the next install reuses the old pool and its encapsulation',
      remediation: `kubectl delete ippools.crd.projectcalico.org ${p.name}`,
    });
  }
  for (const n of state.nodes) {
    const keys = Object.keys(n.annotations).filter((k) => k.startsWith('projectcalico.org/'));
    if (keys.length > 0) {
      out.push({
        node: n.name,
        category: 'api',
        rule: 'node-annotations',
        name: `node ${n.name} annotations projectcalico.org/*`,
        detail: keys.map((k) => `${k}=${n.annotations[k]}`).join(', '),
        why: 'calico-node stores its Calico Node on the Kubernetes Node; nothing removes these (kept by design). A re-install re-reads the old tunnel addresses',
        remediation: `kubectl annotate node ${n.name} ${keys.map((k) => `${k}-`).join(' ')}`,
        byDesign: true,
      });
    }
    const cond = n.conditions.find(
      (c) => c.type === 'NetworkUnavailable' && c.status === 'True' && c.reason === 'CalicoIsDown',
    );
    if (cond) {
      out.push({
        node: n.name,
        category: 'api',
        rule: 'network-unavailable',
        name: `node ${n.name} condition NetworkUnavailable=CalicoIsDown`,
        detail: `NetworkUnavailable=True reason CalicoIsDown${cond.message ? ` message "${cond.message}"` : ''}`,
        why: "calico-node's preStop shutdown sets it (by design) and nothing clears it: the node stays tainted and unschedulable, also under another CNI (projectcalico/calico#7816, #7112)",
        remediation: `kubectl patch node ${n.name} --subresource=status --type=strategic -p '{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"CalicoUninstalled","message":"cleared after Calico uninstall"}]}}'`,
        byDesign: true,
      });
    }
    for (const t of n.taints.filter((x) => x.key === 'node.kubernetes.io/network-unavailable')) {
      out.push({
        node: n.name,
        category: 'api',
        rule: 'network-unavailable',
        name: `node ${n.name} taint ${t.key}:${t.effect}`,
        detail: `taint ${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}${cond ? ' (follows the CalicoIsDown condition)' : ''}`,
        why: 'the node lifecycle controller taints nodes whose NetworkUnavailable is True; it goes away once the condition is cleared',
        remediation: `kubectl taint node ${n.name} ${t.key}:${t.effect}-`,
        byDesign: Boolean(cond),
      });
    }
  }
  return { findings: out.map((x) => applyAllow(x, opts)), notChecked: [] };
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(text);
}

function applyAllow(f: Finding, opts: AuditOptions): Finding {
  const allow = opts.allow ?? [];
  const allowed = allow.some(
    (a) => a === f.rule || (a === 'by-design' && f.byDesign === true) || globMatch(a, f.name),
  );
  return allowed ? { ...f, allowed: true } : f;
}

/** Every rule id the audit knows, for `--allow` validation and help. */
export const RULE_IDS = [
  'tunl0-configured',
  'calico-device',
  'cali-veth',
  'calico-route',
  'blackhole-route',
  'cali-iptables',
  'calico-nft-table',
  'calico-ipset',
  'calico-state-dir',
  'calico-cni-config',
  'calico-cni-binary',
  'calico-cni-state',
  'calico-bpf-pin',
  'cni-bin-added',
  'cni-bin-changed',
  'calico-crds',
  'calico-namespace',
  'calico-apiservice',
  'calico-webhook',
  'calico-rbac',
  'calico-ippool',
  'node-annotations',
  'network-unavailable',
  'by-design',
] as const;

export function auditReport(
  parts: { dumps?: readonly NodeDump[]; cluster?: ClusterState },
  opts: AuditOptions = {},
): AuditReport {
  const findings: Finding[] = [];
  const notCheckedAll: NotChecked[] = [];
  const uncollected: Uncollected[] = [];
  for (const d of parts.dumps ?? []) {
    const u = nothingCollected(d);
    if (u) uncollected.push(u);
    const r = auditNodeDump(d, opts);
    findings.push(...r.findings);
    notCheckedAll.push(...r.notChecked);
  }
  if (parts.cluster) findings.push(...auditClusterState(parts.cluster, opts).findings);
  else
    notCheckedAll.push({
      node: 'cluster',
      category: 'api',
      what: 'API-level leftovers (CRDs, namespaces, RBAC, webhooks, APIService, IPPools, node annotations/conditions)',
      reason: 'no cluster.json (API state) available',
    });
  // nothing audited at all (no node, no API state) is not "clean": the audit could not look (DESIGN.md:
  // an unavailable command is "not checked", never clean)
  const nothingAudited = (parts.dumps ?? []).length === 0 && !parts.cluster;
  return {
    clean: !nothingAudited && uncollected.length === 0 && findings.every((f) => f.allowed === true),
    findings,
    notChecked: notCheckedAll,
    complete: !nothingAudited && uncollected.length === 0,
    uncollected,
  };
}

/**
 * A node whose dump holds no command output at all (every `docker exec` failed: container gone, daemon
 * down): its checks would all be "not checked", and an audit of it must not read as clean. The baseline
 * is not counted: it was taken earlier, not from the node now.
 */
export function nothingCollected(d: NodeDump): Uncollected | undefined {
  const collected = Object.keys(d.files).filter(
    (f) => f !== BASELINE_FILE && d.files[f as DumpFile] !== undefined,
  );
  if (collected.length > 0) return undefined;
  const reasons = [...new Set(Object.values(d.notes.unavailable ?? {}).filter(Boolean))];
  return {
    node: d.node,
    reason: reasons.length
      ? reasons.slice(0, 3).join('; ')
      : 'the dump holds no command output (no file of the node dump contract)',
  };
}
