/**
 * The node rules (pure): one node dump in, findings out. Every finding carries the evidence, why it matters,
 * the exact command that removes it (run inside the node) and the same command as argv steps (`fix`), which
 * the complete uninstall runs. Facts, with their upstream sources, are in docs/calico-facts.md ("What an
 * uninstall leaves", "tunl0", "Node-side paths") unless noted.
 */

import { shellWord } from '../exec/process.js';
import type { Finding, FindingCategory, FixStep, NotChecked } from '../model/audit.js';
import { BASELINE_FILE, type DumpFile, type NodeDump } from '../node-state/dump.js';
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
  parseMountInfo,
  parseNftTables,
  parseSha256,
  routeProtocolNumber,
} from '../node-state/parse.js';
import type { AuditRule } from './rule.js';

export interface NodeAuditOptions {
  /** the kind node image, named as the other place original CNI binaries can be restored from */
  nodeImage?: string;
}

export interface PartialAudit {
  findings: Finding[];
  notChecked: NotChecked[];
}

/**
 * Where the baseline phase keeps a copy of the node's own /opt/cni/bin (inside the node), so the complete
 * uninstall can restore the plugins Calico's install-cni overwrote without anything from the host.
 */
export const CNI_BACKUP_DIR = '/var/lib/calico-conformance/cni-bin-baseline';

/** The MAC the Calico CNI plugin gives the host side of every workload veth (cni-plugin dataplane/linux). */
export const CALICO_VETH_MAC = 'ee:ee:ee:ee:ee:ee';

export const NODE_RULES = [
  {
    id: 'tunl0-configured',
    scope: 'node',
    category: 'interface',
    matches:
      "tunl0 with an IPv4 address, UP, or routes through it; the kernel's fallback tunl0 (DOWN, no address) is never flagged, and MTU plays no part",
    why: 'Felix configured tunl0 (address, UP) and nothing un-configures it on uninstall; a re-install in another mode, or another CNI, then inherits a live IPIP tunnel and its routes. Never `modprobe -r ipip` on kind: the nodes share the host kernel',
    remediation:
      'ip addr flush dev tunl0 && ip link set tunl0 down (the device itself belongs to the kernel)',
    source:
      'felix/dataplane/linux/route_mgr.go configureTunnelDevice (HEAD), ipip_mgr.go (v3.29); kernel net/ipv4/ip_tunnel.c (fallback device); projectcalico/calico#1375',
  },
  {
    id: 'calico-device',
    scope: 'node',
    category: 'interface',
    matches: '`vxlan.calico`, `vxlan-v6.calico`, `wireguard.cali`, `wg-v6.cali`, `bpfin.cali`/`bpfout.cali`',
    why: 'Felix deletes its devices only when their feature is disabled while it runs; after an uninstall they stay, and a stale one breaks the next install',
    remediation: 'ip link del <device> (routes through it go with it)',
    source:
      'felix vxlan_mgr.go cleanUpVXLANDevice, int_dataplane.go RemoveBPFSpecialDevices; projectcalico/calico#6383, #4468; rancher/rke2#4962',
  },
  {
    id: 'cali-veth',
    scope: 'node',
    category: 'interface',
    matches: `a link named cali* with Calico's fixed host-side MAC ${CALICO_VETH_MAC}, whatever the length of the suffix`,
    why: 'host side of a pod veth wired by the Calico CNI plugin: the pod still runs with a Calico address and no Calico to route or police it',
    remediation: 'ip link del <veth> (the pod keeps no network until it is recreated under the next CNI)',
    source:
      'cni-plugin internal/pkg/utils (host veth MAC ee:ee:ee:ee:ee:ee, name cali + hash); docs/calico-facts.md "What an uninstall leaves" (pods running through the uninstall keep their veths)',
  },
  {
    id: 'calico-route',
    scope: 'node',
    category: 'route',
    matches:
      'routes of protocol bird (12) or 80 (Felix), and any route on vxlan.calico / vxlan-v6.calico (v3.32 programs those with protocol boot), IPv4 and IPv6',
    why: 'BIRD keeps its routes in the kernel on exit by design (`persist`) and Felix never removes its own on shutdown; they steer traffic to pod blocks that no longer exist',
    remediation: 'ip route del <the route>',
    source:
      'confd bird.cfg.template `persist` (v3.29.0); felix route_mgr.go (RouteProtoFelix 80); node/tests/k8st ipip_graceful_upgrade_test.go; kubespray roles/network_plugin/calico/tasks/reset.yml',
  },
  {
    id: 'blackhole-route',
    scope: 'node',
    category: 'route',
    matches: 'blackhole routes, IPv4 and IPv6',
    why: "a node's own IPAM block is installed as a blackhole by BIRD/Felix; it has no device, so it outlives every tunnel and silently drops traffic to that range",
    remediation: 'ip route del blackhole <block>',
    source: 'confd bird_aggr.cfg.template `route <block> blackhole`; felix route_mgr.go blackholeRoutes',
  },
  {
    id: 'cali-iptables',
    scope: 'node',
    category: 'iptables',
    matches:
      '`cali-` chains and `cali:`-tagged rules or jumps to cali- chains, per backend (legacy, nft) × family × table',
    why: 'Felix\'s chains and the cali: hooks in the built-in chains stay after uninstall; the dispatch chains end in DROP "Unknown interface", so they keep policing traffic with no Calico behind them',
    remediation:
      '<tool> -t <table> -D <hook> …, -F <cali chain> …, -X <cali chain> … (the same backend the evidence came from)',
    source:
      'felix/rules/rule_defs.go ChainNamePrefix "cali-", felix/rules/dispatch.go; projectcalico/calico#5100',
  },
  {
    id: 'calico-nft-table',
    scope: 'node',
    category: 'nftables',
    matches: '`table ip calico`, `table ip6 calico`',
    why: "Felix's nftables dataplane programs everything into `table ip|ip6 calico` and never deletes it on shutdown",
    remediation: 'nft delete table <family> calico',
    source: 'felix int_dataplane.go nftables.NewTable("calico", …) (HEAD)',
  },
  {
    id: 'calico-ipset',
    scope: 'node',
    category: 'ipset',
    matches: '`cali40*`, `cali60*`, `cali4t*`, `cali6t*`',
    why: 'Felix names its ipsets cali + 4|6 + 0 (main) or t (temporary); they stay in the kernel after uninstall and keep feeding any leftover cali- rule',
    remediation:
      'ipset destroy <set> after the iptables rules that use it are gone (on kind: the ipset of a helper container in the node netns)',
    source: 'felix/ipsets/ipset_defs.go IPSetNamePrefix "cali"',
  },
  {
    id: 'calico-bpf-pin',
    scope: 'node',
    category: 'bpf',
    matches: '`cali*`/`calico*`/`xdp_cali*` entries under `/sys/fs/bpf`',
    why: "pinned BPF objects keep Calico's eBPF programs and maps alive after calico-node is gone",
    remediation: 'rm -rf <pin> (or `calico-bpf cleanup` where its image is at hand)',
    source: 'felix int_dataplane.go tc.CleanUpProgramsAndPins (only when Felix starts in iptables mode)',
  },
  {
    id: 'calico-bpffs-mount',
    scope: 'node',
    category: 'mount',
    matches: 'a bpf filesystem mounted on /sys/fs/bpf in the node',
    why: "calico-node's init container (`calico-node -init -best-effort`: mount-bpffs up to v3.30, ebpf-bootstrap from v3.31) mounts bpffs on the node's /sys/fs/bpf; kind does not, and nothing unmounts it",
    remediation: 'umount /sys/fs/bpf inside the node (its own mount namespace; never on the host)',
    source:
      'calico.yaml initContainers mount-bpffs / ebpf-bootstrap and hostPath bpffs /sys/fs/bpf (docs/calico-facts.md "Node-side paths")',
  },
  {
    id: 'calico-cgroup-mount',
    scope: 'node',
    category: 'mount',
    matches: 'a cgroup2 filesystem mounted on /run/calico/cgroup in the node',
    why: 'the same init container mounts cgroup2 at /run/calico/cgroup (inside the var-run-calico hostPath) and nothing unmounts it; a plain `rm -rf /var/run/calico` would recurse into the live cgroup tree',
    remediation:
      'umount /run/calico/cgroup inside the node, before removing /var/run/calico with rm --one-file-system',
    source:
      'calico.yaml hostPath var-run-calico (it holds the cgroup mount the init container makes; docs/calico-facts.md "Node-side paths")',
  },
  {
    id: 'calico-state-dir',
    scope: 'node',
    category: 'file',
    matches: '`/var/lib/calico`, `/var/run/calico`, `/var/log/calico`, `/var/run/nodeagent`',
    why: 'hostPath directories of calico-node outlive the pods that wrote them',
    remediation: 'rm -rf --one-file-system <dir> (after unmounting /run/calico/cgroup)',
    source:
      'calico.yaml hostPath volumes var-lib-calico, var-run-calico, cni-log-dir, policysync (docs/calico-facts.md "Node-side paths"); operator pkg/render/node.go',
  },
  {
    id: 'calico-cni-config',
    scope: 'node',
    category: 'file',
    matches: '`/etc/cni/net.d/*calico*` (10-calico.conflist, calico-kubeconfig, calico-tls)',
    why: 'the runtime uses the first CNI config in lexical order: a leftover 10-calico.conflist keeps new pods on a CNI that is gone; calico-kubeconfig holds a token',
    remediation: 'rm -rf --one-file-system <path>',
    source:
      'cni-plugin/pkg/install/install.go (CNI_CONF_NAME 10-calico.conflist, calico-kubeconfig, calico-tls)',
  },
  {
    id: 'calico-cni-binary',
    scope: 'node',
    category: 'file',
    matches: '`/opt/cni/bin/calico`, `/opt/cni/bin/calico-ipam`',
    why: 'install-cni copies its plugins into /opt/cni/bin and has no removal path',
    remediation: 'rm -f <path>',
    source: 'cni-plugin/pkg/install/install.go (copies every binary of the image), cni-plugin/Makefile',
  },
  {
    id: 'calico-cni-state',
    scope: 'node',
    category: 'file',
    matches: "Calico's network state under `/var/lib/cni` (k8s-pod-network)",
    why: "CNI state kept for Calico's network (k8s-pod-network)",
    remediation: 'rm -rf --one-file-system <path>',
    source: 'calico.yaml hostPath host-local-net-dir /var/lib/cni/networks (upgrade-ipam)',
  },
  {
    id: 'calico-csi',
    scope: 'node',
    category: 'file',
    matches:
      '`/var/lib/kubelet/plugins/csi.tigera.io`, `/var/lib/kubelet/plugins_registry/csi.tigera.io-reg.sock`',
    why: "the operator's csi-node-driver registers Calico's CSI driver with the kubelet through these host paths; they stay after the DaemonSet is gone",
    remediation: 'rm -rf --one-file-system <path>',
    source: 'tigera/operator pkg/render/csi.go (kubelet plugin dir csi.tigera.io, registration socket)',
  },
  {
    id: 'cni-bin-added',
    scope: 'node',
    category: 'file',
    matches:
      'a binary in /opt/cni/bin that was not there right after cluster creation (cni-bin-baseline.sha256)',
    why: 'install-cni copies every plugin in its image into /opt/cni/bin (tuning, flannel, bandwidth, …) and never removes them',
    remediation: 'rm -f <path>',
    source: 'cni-plugin/pkg/install/install.go; cni-plugin/Makefile build-cni-bins',
  },
  {
    id: 'cni-bin-changed',
    scope: 'node',
    category: 'file',
    matches: 'a binary in /opt/cni/bin whose sha256 differs from cni-bin-baseline.sha256',
    why: "install-cni overwrites same-named plugins (UPDATE_CNI_BINARIES defaults to true): kind's own host-local/loopback/portmap are now Calico's builds",
    remediation: `cp -a ${CNI_BACKUP_DIR}/<name> /opt/cni/bin/<name> (the copy the baseline phase took inside the node)`,
    source: 'cni-plugin/pkg/install/install.go (UPDATE_CNI_BINARIES, default true)',
  },
] as const satisfies readonly AuditRule[];

export type NodeRuleId = (typeof NODE_RULES)[number]['id'];

const RULE: Record<NodeRuleId, AuditRule> = Object.fromEntries(NODE_RULES.map((r) => [r.id, r])) as Record<
  NodeRuleId,
  AuditRule
>;

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

const VXLAN_DEVICES = new Set(['vxlan.calico', 'vxlan-v6.calico']);

const ROUTE_PROTO_NAMES: Record<number, string> = { 12: 'bird', 80: '80 (Felix)' };

/** iptables tool per dump file: remediation runs the same backend the evidence came from. */
const IPTABLES_FILES: { file: DumpFile; tool: string }[] = [
  { file: 'iptables-legacy-save.txt', tool: 'iptables-legacy' },
  { file: 'iptables-nft-save.txt', tool: 'iptables-nft' },
  { file: 'ip6tables-legacy-save.txt', tool: 'ip6tables-legacy' },
  { file: 'ip6tables-nft-save.txt', tool: 'ip6tables-nft' },
];

/** Calico's state directories (calico-state-dir), with what each holds. */
const STATE_DIRS: Record<string, string> = {
  '/var/lib/calico':
    'calico-node state (nodename, mtu); its presence makes a later CNI ADD believe Calico is installed',
  '/var/run/calico': 'calico-node runtime state: bird.ctl, status and endpoint-status files',
  '/var/log/calico': 'Calico and CNI plugin logs',
  '/var/run/nodeagent': "the policysync directory (Felix's policy sync API socket for workloads)",
};

const CSI_PATHS = [
  '/var/lib/kubelet/plugins/csi.tigera.io',
  '/var/lib/kubelet/plugins_registry/csi.tigera.io-reg.sock',
];

/** What calico-node's init container mounts (mount point → file system type). */
const CALICO_MOUNTS: { rule: NodeRuleId; mountPoint: string; fsType: string }[] = [
  { rule: 'calico-bpffs-mount', mountPoint: '/sys/fs/bpf', fsType: 'bpf' },
  { rule: 'calico-cgroup-mount', mountPoint: '/run/calico/cgroup', fsType: 'cgroup2' },
  { rule: 'calico-cgroup-mount', mountPoint: '/var/run/calico/cgroup', fsType: 'cgroup2' },
];

/**
 * The order the remediations can run in: routes before the devices they use, iptables rules before the
 * ipsets they reference, BPF pins before their file system is unmounted, mounts before the directories
 * holding them are removed.
 */
const REMEDIATION_ORDER: FindingCategory[] = [
  'route',
  'interface',
  'iptables',
  'nftables',
  'ipset',
  'bpf',
  'mount',
  'file',
];

function notChecked(dump: NodeDump, file: DumpFile, category: FindingCategory, what: string): NotChecked {
  return {
    node: dump.node,
    category,
    what,
    reason: `${file}: ${dump.notes.unavailable?.[file] ?? 'absent from the dump (the command was not available on the node)'}`,
  };
}

const shellText = (steps: FixStep[]) => steps.map((s) => s.argv.map(shellWord).join(' ')).join(' && ');

function hasInet(addrs: IpAddrLink[] | undefined, ifname: string): string[] {
  return (addrs ?? [])
    .filter((a) => a.ifname === ifname)
    .flatMap((a) => a.addr_info.filter((i) => i.family === 'inet').map((i) => `${i.local}/${i.prefixlen}`));
}

function routeDeleteArgv(r: IpRoute, v6: boolean): string[] {
  const parts = ['ip', ...(v6 ? ['-6'] : []), 'route', 'del'];
  if (r.type && r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dst === 'default' ? 'default' : r.dst);
  if (r.gateway) parts.push('via', r.gateway);
  // a blackhole has no device (iproute2 shows IPv6 ones on lo); deleting it names none
  if (r.dev && !isTypeOnly(r)) parts.push('dev', r.dev);
  if (r.protocol) parts.push('proto', r.protocol);
  if (r.table && r.table !== 'main') parts.push('table', r.table);
  return parts;
}

function isTypeOnly(r: IpRoute): boolean {
  return r.type === 'blackhole' || r.type === 'unreachable' || r.type === 'prohibit';
}

function isLocal(r: IpRoute): boolean {
  return r.table === 'local' || r.type === 'local' || r.type === 'broadcast' || r.type === 'multicast';
}

function tunnelRoutes(routes: IpRoute[], dev: string): IpRoute[] {
  return routes.filter((r) => r.dev === dev && !isLocal(r));
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
    // loaded, and it cannot be deleted (kernel net/ipv4/ipip.c, ip_tunnel.c); Calico re-configures that same
    // device (Felix route_mgr.go). So the leftover is its configuration: an IPv4 address, UP, or routes
    // through it (docs/calico-facts.md, "tunl0"). MTU is no discriminator: Felix's 1480 on a 1500 eth0
    // equals the fallback's.
    const inet = hasInet(addrs, 'tunl0');
    const up = tunl0.flags.includes('UP');
    const via = tunnelRoutes(routes, 'tunl0');
    if (inet.length > 0 || up || via.length > 0) {
      const fix: FixStep[] = [
        { argv: ['ip', 'addr', 'flush', 'dev', 'tunl0'] },
        { argv: ['ip', 'link', 'set', 'tunl0', 'down'] },
      ];
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
        why: `${RULE['tunl0-configured'].why} (docs/calico-facts.md "tunl0")`,
        remediation: shellText(fix),
        fix,
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
      const fix: FixStep[] = [{ argv: ['ip', 'link', 'del', l.ifname] }];
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
        remediation: shellText(fix),
        fix,
      });
    } else if (l.ifname.startsWith('cali') && l.address?.toLowerCase() === CALICO_VETH_MAC) {
      // the CNI plugin gives the host side of every workload veth the fixed MAC ee:ee:ee:ee:ee:ee; its name is
      // the interface prefix (cali) + a hash, whose length depends on the orchestrator and version
      const fix: FixStep[] = [{ argv: ['ip', 'link', 'del', l.ifname] }];
      out.push({
        node: dump.node,
        category: 'interface',
        rule: 'cali-veth',
        name: l.ifname,
        detail: `${l.linkinfo?.info_kind ?? 'link'} ${l.ifname}${l.link ? `@${l.link}` : ''} link/ether ${l.address} state ${l.operstate ?? '?'}`,
        why: `${RULE['cali-veth'].why} (docs/calico-facts.md "What an uninstall leaves")`,
        remediation: shellText(fix),
        fix,
      });
    }
  }
  return out;
}

function auditRoutes(dump: NodeDump, routes: IpRoute[], v6: boolean): Finding[] {
  const out: Finding[] = [];
  for (const r of routes) {
    if (isLocal(r)) continue;
    const proto = routeProtocolNumber(r.protocol);
    const calicoProto = proto === 12 || proto === 80;
    const blackhole = r.type === 'blackhole';
    // v3.32 programs the VXLAN tunnel routes with protocol boot (3): the protocol alone does not tell them
    const onVxlan = r.dev !== undefined && VXLAN_DEVICES.has(r.dev);
    if (!calicoProto && !blackhole && !onVxlan) continue;
    const fix: FixStep[] = [{ argv: routeDeleteArgv(r, v6) }];
    out.push({
      node: dump.node,
      category: 'route',
      rule: blackhole ? 'blackhole-route' : 'calico-route',
      name: `${v6 ? 'ipv6 ' : ''}${blackhole ? 'blackhole ' : ''}${r.dst}${r.dev && !isTypeOnly(r) ? ` dev ${r.dev}` : ''}`,
      detail: formatRoute(r),
      why: blackhole
        ? RULE['blackhole-route'].why
        : calicoProto
          ? `route owned by ${ROUTE_PROTO_NAMES[proto!] ?? r.protocol}: ${RULE['calico-route'].why}`
          : `route on Calico's ${r.dev} (protocol ${r.protocol ?? 'boot'}: v3.32 programs VXLAN routes with protocol boot); it goes with the device, which nothing removes on uninstall`,
      remediation: shellText(fix),
      fix,
    });
  }
  return out;
}

function restoreCommand(tool: string): string {
  // iptables-legacy → iptables-legacy-restore, ip6tables-nft → ip6tables-nft-restore
  return `${tool}-restore`;
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
    // the same commands as one iptables-restore transaction of that backend (the save format is its input:
    // the hooks' specs go back exactly as iptables-save quoted them)
    const script = [
      `*${table}`,
      ...hooks.map((h) => `-D ${h.spec}`),
      ...chains.map((c) => `-F ${c}`),
      ...chains.map((c) => `-X ${c}`),
      'COMMIT',
      '',
    ].join('\n');
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
      why: `${RULE['cali-iptables'].why} (projectcalico/calico#5100). Evidence from ${file}; kind picks the iptables backend per node, so both backends are checked`,
      remediation: commands.join(' && '),
      fix: [{ argv: [restoreCommand(tool), '--noflush'], input: script }],
    });
  }
  return out;
}

function fileFinding(
  dump: NodeDump,
  rule: NodeRuleId,
  path: string,
  detail: string,
  why: string,
  argv: string[],
  category: FindingCategory = 'file',
): Finding {
  const fix: FixStep[] = [{ argv }];
  return {
    node: dump.node,
    category,
    rule,
    name: path,
    detail,
    why,
    remediation: shellText(fix),
    fix,
  };
}

const rmTree = (path: string) => ['rm', '-rf', '--one-file-system', path];

function auditFiles(dump: NodeDump, text: string): Finding[] {
  const entries = parseFileList(text);
  const out: Finding[] = [];
  for (const [dir, what] of Object.entries(STATE_DIRS)) {
    const inside = entries.filter((e) => e.path.startsWith(`${dir}/`));
    if (entries.some((e) => e.path === dir) || inside.length > 0) {
      out.push(
        fileFinding(
          dump,
          'calico-state-dir',
          dir,
          `${inside.length} entr${inside.length === 1 ? 'y' : 'ies'} inside${
            inside.length
              ? `: ${inside
                  .slice(0, 6)
                  .map((e) => `${e.type} ${e.path}`)
                  .join(', ')}`
              : ''
          }`,
          `${what}; ${RULE['calico-state-dir'].why} (docs/calico-facts.md "What an uninstall leaves")`,
          rmTree(dir),
        ),
      );
    }
  }
  for (const p of CSI_PATHS) {
    const e = entries.find((x) => x.path === p);
    if (e) out.push(fileFinding(dump, 'calico-csi', p, `${e.type} ${p}`, RULE['calico-csi'].why, rmTree(p)));
  }
  for (const e of entries) {
    const base = e.path.slice(e.path.lastIndexOf('/') + 1);
    const parent = e.path.slice(0, e.path.lastIndexOf('/'));
    if (parent === '/etc/cni/net.d' && /calico/.test(base)) {
      out.push(
        fileFinding(
          dump,
          'calico-cni-config',
          e.path,
          `${e.type} ${e.path}`,
          base.endsWith('.conflist')
            ? 'the runtime uses the first CNI config in lexical order: a leftover 10-calico.conflist keeps new pods on a CNI that is gone (pods stuck ContainerCreating; docs/calico-facts.md "What an uninstall leaves")'
            : 'Calico CNI credentials (calico-kubeconfig holds a token) left on the host',
          rmTree(e.path),
        ),
      );
    } else if (parent === '/opt/cni/bin' && (base === 'calico' || base === 'calico-ipam')) {
      out.push(
        fileFinding(dump, 'calico-cni-binary', e.path, `${e.type} ${e.path}`, RULE['calico-cni-binary'].why, [
          'rm',
          '-f',
          e.path,
        ]),
      );
    } else if (parent.startsWith('/var/lib/cni') && /k8s-pod-network|calico/.test(base)) {
      out.push(
        fileFinding(
          dump,
          'calico-cni-state',
          e.path,
          `${e.type} ${e.path}`,
          RULE['calico-cni-state'].why,
          rmTree(e.path),
        ),
      );
    } else if (e.path.startsWith('/sys/fs/bpf/') && /^(cali|calico|xdp_cali)/.test(base)) {
      const flaggedAncestor = out.some((f) => f.category === 'bpf' && e.path.startsWith(`${f.name}/`));
      if (!flaggedAncestor) {
        out.push(
          fileFinding(
            dump,
            'calico-bpf-pin',
            e.path,
            `${e.type} ${e.path}`,
            `${RULE['calico-bpf-pin'].why} (docs/calico-facts.md "What an uninstall leaves"); \`calico-bpf cleanup\` is the upstream tool when its image is at hand`,
            ['rm', '-rf', e.path],
            'bpf',
          ),
        );
      }
    }
  }
  return out;
}

function auditMounts(dump: NodeDump, text: string): Finding[] {
  const out: Finding[] = [];
  for (const m of parseMountInfo(text)) {
    const known = CALICO_MOUNTS.find((c) => c.mountPoint === m.mountPoint && c.fsType === m.fsType);
    if (!known) continue;
    const fix: FixStep[] = [{ argv: ['umount', m.mountPoint] }];
    out.push({
      node: dump.node,
      category: 'mount',
      rule: known.rule,
      name: m.mountPoint,
      detail: `${m.fsType} (source ${m.source || '-'}) mounted on ${m.mountPoint}`,
      why: RULE[known.rule].why,
      remediation: shellText(fix),
      fix,
    });
  }
  return out;
}

function auditCniBaseline(dump: NodeDump, opts: NodeAuditOptions): PartialAudit {
  const now = dump.files['cni-bin.sha256'];
  const base = dump.files[BASELINE_FILE];
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
  const image = opts.nodeImage ?? 'the kind node image';
  for (const [path, sum] of after) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const was = before.get(path);
    if (was === undefined) {
      // calico and calico-ipam are reported by their own rule from files.txt
      if (name === 'calico' || name === 'calico-ipam') continue;
      findings.push(
        fileFinding(
          dump,
          'cni-bin-added',
          path,
          `not in the baseline; sha256 ${sum}`,
          RULE['cni-bin-added'].why,
          ['rm', '-f', path],
        ),
      );
    } else if (was !== sum) {
      findings.push(
        fileFinding(
          dump,
          'cni-bin-changed',
          path,
          `sha256 ${sum}, baseline ${was}`,
          `${RULE['cni-bin-changed'].why}. The baseline phase keeps kind's originals in ${CNI_BACKUP_DIR} inside the node; without that copy, take the file from ${image}`,
          ['cp', '-a', `${CNI_BACKUP_DIR}/${name}`, path],
        ),
      );
    }
  }
  return { findings, notChecked: [] };
}

/** The node rules over one node dump; findings in an order their remediations (and `fix` steps) can run in. */
export function auditNodeDump(dump: NodeDump, opts: NodeAuditOptions = {}): PartialAudit {
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

  if (routes) findings.push(...auditRoutes(dump, routes, false));
  else
    missing.push(
      notChecked(dump, 'ip-route.json', 'route', 'IPv4 bird/Felix, VXLAN-device and blackhole routes'),
    );
  if (routes6) findings.push(...auditRoutes(dump, routes6, true));
  else
    missing.push(
      notChecked(dump, 'ip6-route.json', 'route', 'IPv6 bird/Felix, VXLAN-device and blackhole routes'),
    );
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
      const fix: FixStep[] = [{ argv: ['nft', 'delete', 'table', t.family, 'calico'] }];
      findings.push({
        node: dump.node,
        category: 'nftables',
        rule: 'calico-nft-table',
        name: `table ${t.family} calico`,
        detail: `nft list tables: table ${t.family} calico`,
        why: RULE['calico-nft-table'].why,
        remediation: shellText(fix),
        fix,
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
        why: `${RULE['calico-ipset'].why}. Destroy after removing the iptables rules that reference them`,
        remediation: helper
          ? `docker run --rm --network container:${shellWord(dump.node)} --cap-add NET_ADMIN --entrypoint ipset ${shellWord(helper)} destroy ${shellWord(name)}`
          : `ipset destroy ${shellWord(name)}`,
        fix: [{ argv: ['ipset', 'destroy', name], via: 'ipset' }],
      });
    }
  }

  if (f['mounts.txt'] === undefined) {
    missing.push(
      notChecked(
        dump,
        'mounts.txt',
        'mount',
        'the bpffs on /sys/fs/bpf and the cgroup2 at /run/calico/cgroup',
      ),
    );
  } else {
    findings.push(...auditMounts(dump, f['mounts.txt']));
  }

  if (f['files.txt'] === undefined) {
    missing.push(
      notChecked(dump, 'files.txt', 'file', 'CNI config, binaries, Calico state directories and CSI paths'),
    );
    missing.push(notChecked(dump, 'files.txt', 'bpf', 'BPF pins under /sys/fs/bpf'));
  } else {
    findings.push(...auditFiles(dump, f['files.txt']));
  }
  const cni = auditCniBaseline(dump, opts);
  findings.push(...cni.findings);
  missing.push(...cni.notChecked);

  // stable: within a category the order above stays (e.g. IPv4 routes before IPv6)
  const rank = (x: Finding) => REMEDIATION_ORDER.indexOf(x.category);
  return {
    findings: findings
      .map((x, i) => ({ x, i }))
      .sort((a, b) => rank(a.x) - rank(b.x) || a.i - b.i)
      .map((e) => e.x),
    notChecked: missing,
  };
}
