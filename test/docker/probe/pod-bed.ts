/**
 * A miniature cluster for the probe engine, on real kernel state: test node containers stand in for kind
 * nodes, and "pods" are network namespaces inside them, wired the way Calico wires a workload (a veth with a
 * /32 on the pod side, a /32 route on the node side, a default route via 169.254.1.1 — here resolved with a
 * static neighbour entry instead of proxy ARP, since /proc/sys is read-only in a container). Nodes route
 * each other's pod /24 natively (Calico's "None" encapsulation). Servers answer with their own name on TCP
 * (HTTP /hostname, /clientip, /upload) and UDP (datagram "hostname"), like agnhost netexec.
 *
 * Used by the docker-backed probe tests and by bench/probes.bench.ts.
 */

import type { ProbeTopology, TopologyNode, TopologyPod } from '../../../harness/probe/checks.js';
import { DockerPodExecutor, type PodRef } from '../../../harness/probe/executor.js';
import { buildProbeWorkloads } from '../../../harness/probe/workloads.js';
import { DockerTestBed, type NetworkHandle, type TestNode } from '../../support/docker.js';

/** Python (python3-minimal has socket and threading, not socketserver/http.server) name-answering server. */
export const NAME_SERVER_PY = String.raw`
import socket, sys, threading
name = sys.argv[1]
ports = [int(p) for p in sys.argv[2].split(',')]
udp_binds = (sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else '0.0.0.0').split(',')
def handle(c, addr):
    try:
        c.settimeout(60)
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = c.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        parts = lines[0].split(' ')
        path = parts[1] if len(parts) > 1 else '/'
        length = 0
        for l in lines[1:]:
            k, _, v = l.partition(':')
            k = k.strip().lower()
            if k == 'content-length':
                length = int(v.strip())
            if k == 'expect' and '100' in v:
                c.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
        got = len(body)
        while got < length:
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        if path.startswith('/clientip'):
            out = '%s:%d' % addr
        elif path.startswith('/upload'):
            out = 'received %d' % got
        else:
            out = name
        b = out.encode()
        status = b'201 Created' if path.startswith('/upload') else b'200 OK'
        c.sendall(b'HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % (status, len(b)) + b)
    except Exception:
        pass
    finally:
        c.close()
def tcp(p):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', p))
    s.listen(256)
    while True:
        c, a = s.accept()
        threading.Thread(target=handle, args=(c, a), daemon=True).start()
def udp(p, addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, p))
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(('%s:%d' % a if d.startswith(b'clientip') else name).encode(), a)
for p in ports:
    threading.Thread(target=tcp, args=(p,), daemon=True).start()
    for addr in udp_binds:
        threading.Thread(target=udp, args=(p, addr), daemon=True).start()
print('serving', name, ports, flush=True)
threading.Event().wait()
`;

/**
 * The UDP addresses agnhost netexec binds with the args of the harness's own hostNetwork container
 * (workloads.ts), after kubelet's `$(VAR)` expansion with the node IP as `status.hostIP`: the bed's host
 * server answers UDP exactly as that container would (`0.0.0.0` when the args do not bind).
 */
export function hostServerUdpBinds(nodeIp: string): string {
  const host = buildProbeWorkloads({ namespace: 'bed', nodes: ['node'] }).find(
    (o) => o.kind === 'Pod' && (o.spec as { hostNetwork?: boolean }).hostNetwork,
  );
  if (!host) throw new Error('the probe workloads have no hostNetwork pod');
  const container = (
    host.spec as {
      containers: {
        args: string[];
        env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
      }[];
    }
  ).containers[0];
  if (!container) throw new Error('the probe workloads have no hostNetwork container');
  const env = new Map(
    (container.env ?? []).map((e) => [
      e.name,
      e.valueFrom?.fieldRef?.fieldPath === 'status.hostIP' ? nodeIp : (e.value ?? ''),
    ]),
  );
  const flag = container.args.find((a) => a.startsWith('--udp-listen-addresses='));
  if (!flag) return '0.0.0.0';
  return flag
    .slice('--udp-listen-addresses='.length)
    .replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env.get(v) ?? m);
}

/** Wires one pod namespace: mode-independent, arguments only ($1 netns, $2 ip, $3 host veth, $4 mtu). */
const ADD_POD_SH = String.raw`
set -e
ns=$1; ip=$2; hv=$3; mtu=$4
ip netns add "$ns"
ip link add "$hv" mtu "$mtu" type veth peer name eth0 netns "$ns"
ip link set "$hv" address ee:ee:ee:ee:ee:ee up
ip -n "$ns" link set lo up
ip -n "$ns" addr add "$ip/32" dev eth0
ip -n "$ns" link set eth0 mtu "$mtu" up
ip -n "$ns" route add 169.254.1.1 dev eth0 scope link
ip -n "$ns" neigh replace 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent
ip -n "$ns" route add default via 169.254.1.1 dev eth0
ip route add "$ip/32" dev "$hv"
mkdir -p "/etc/netns/$ns"
printf '127.0.0.1 localhost\n' >"/etc/netns/$ns/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"/etc/netns/$ns/resolv.conf"
`;

export const POD_NAMESPACE = 'probes';
export const SERVICE_DOMAIN = `${POD_NAMESPACE}.svc.cluster.local`;

export interface BedNode {
  index: number;
  node: TestNode;
  ip: string;
  podCidr: string;
}

export interface PodBedOptions {
  nodes: number;
  /** server pods per node (each also usable as a probe source) */
  serversPerNode?: number;
  /** extra client-only pods per node (default 1) */
  clientsPerNode?: number;
  ports?: number[];
  hostPort?: number;
  mtu?: number;
  /** give every server a ClusterIP Service (DNAT on every node) and a DNS name in the clients' hosts files */
  services?: boolean;
}

export class PodBed {
  readonly bed = new DockerTestBed();
  readonly executor = new DockerPodExecutor();
  network!: NetworkHandle;
  nodes: BedNode[] = [];
  servers: TopologyPod[] = [];
  clients: TopologyPod[] = [];
  services: ProbeTopology['services'] = [];
  topoNodes: TopologyNode[] = [];
  readonly ports: number[];
  readonly hostPort: number;

  constructor(readonly opts: PodBedOptions) {
    this.ports = opts.ports ?? [80, 81];
    this.hostPort = opts.hostPort ?? 18080;
  }

  podIp(node: number, i: number): string {
    return `10.244.${node}.${10 + i}`;
  }

  async start(): Promise<this> {
    this.network = await this.bed.network('probe');
    const mtu = this.opts.mtu ?? 1500;
    for (let n = 0; n < this.opts.nodes; n++) {
      const ip = `${this.network.prefix}.${10 + n}`;
      const node = await this.bed.node(`node${n}`, { networks: [{ network: this.network, ip }] });
      this.nodes.push({ index: n, node, ip, podCidr: `10.244.${n}.0/24` });
    }
    await Promise.all(this.nodes.map((bn) => this.setUpNode(bn, mtu)));
    if (this.opts.services) await this.addServices();
    return this;
  }

  private async setUpNode(bn: BedNode, mtu: number): Promise<void> {
    const { node, index: n } = bn;
    for (const other of this.nodes) {
      if (other.index !== n) await node.sh(['ip', 'route', 'add', other.podCidr, 'via', other.ip]);
    }
    // hostNetwork "pod": the node's own namespace, answering with the node's name
    await this.serve(node, undefined, node.name, [this.hostPort], hostServerUdpBinds(bn.ip));
    const hostPod: TopologyPod = {
      pod: { namespace: 'host', name: node.name },
      node: node.name,
      ip: bn.ip,
      answersAs: node.name,
    };
    this.executor.register(hostPod.pod, { container: node.container });
    this.topoNodes.push({ name: node.name, internalIP: bn.ip, hostPod });
    const servers = this.opts.serversPerNode ?? 1;
    const clients = this.opts.clientsPerNode ?? 1;
    for (let i = 0; i < servers + clients; i++) {
      const isServer = i < servers;
      const name = isServer ? `server-n${n}-${i}` : `client-n${n}-${i - servers}`;
      const ip = this.podIp(n, i);
      await node.sh(['sh', '-c', ADD_POD_SH, 'addpod', name, ip, `cali${n}x${i}`, String(mtu)]);
      const pod: PodRef = { namespace: POD_NAMESPACE, name };
      this.executor.register(pod, { container: node.container, netns: name });
      const tp: TopologyPod = { pod, node: node.name, ip, answersAs: name };
      if (isServer) {
        await this.serve(node, name, name, this.ports);
        this.servers.push(tp);
      } else this.clients.push(tp);
    }
  }

  /** Starts the name server in a namespace (or the node's own) and waits until it listens. */
  async serve(
    node: TestNode,
    netns: string | undefined,
    name: string,
    ports: number[],
    udpBinds = '0.0.0.0',
  ): Promise<void> {
    const inNs = netns ? ['ip', 'netns', 'exec', netns] : [];
    const r = await node.shell.exec(
      // detached: the exec returns at once, the server keeps running in the container
      [
        'sh',
        '-c',
        '"$@" >/dev/null 2>&1 &',
        'serve',
        ...inNs,
        'python3',
        '-c',
        NAME_SERVER_PY,
        name,
        ports.join(','),
        udpBinds,
      ],
      { timeoutMs: 20_000 },
    );
    if (r.exitCode !== 0) throw new Error(`starting server ${name} in ${node.name}: ${r.stderr}`);
    await this.waitListening(node, netns, ports);
  }

  async waitListening(node: TestNode, netns: string | undefined, ports: number[]): Promise<void> {
    const inNs = netns ? ['ip', 'netns', 'exec', netns] : [];
    let last = '';
    for (let i = 0; i < 100; i++) {
      const r = await node.shell.exec([...inNs, 'ss', '-Hltn'], { timeoutMs: 10_000 });
      last = r.stdout;
      if (ports.every((p) => new RegExp(`:${p}\\s`).test(r.stdout))) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(
      `server in ${node.name}/${netns ?? 'host'} never listened on ${ports.join(',')}; ss: ${last}`,
    );
  }

  /** Stops a pod's server (its listening sockets close: TCP answers RST, UDP ICMP port unreachable). */
  async stopServer(pod: TopologyPod): Promise<void> {
    const bn = this.nodes.find((b) => b.node.name === pod.node);
    if (!bn) throw new Error(`no node ${pod.node}`);
    // the python server is the only process in that namespace: find its pid by namespace, end it by pid
    const pids = await bn.node.sh(['ip', 'netns', 'pids', pod.pod.name]);
    for (const pid of pids
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean)) {
      await bn.node.shell.exec(['kill', pid]);
    }
  }

  private async addServices(): Promise<void> {
    const hosts: string[] = [];
    this.servers.forEach((s, i) => {
      const name = `svc-${s.pod.name}`;
      const clusterIP = `10.96.77.${10 + i}`;
      const dnsName = `${name}.${SERVICE_DOMAIN}`;
      this.services.push({ name, clusterIP, dnsName, backend: s.answersAs });
      hosts.push(`${clusterIP} ${dnsName}`);
    });
    for (const bn of this.nodes) {
      for (const svc of this.services) {
        const backend = this.servers.find((s) => s.answersAs === svc.backend);
        if (!backend) continue;
        for (const proto of ['tcp', 'udp']) {
          for (const p of this.ports) {
            await bn.node.sh([
              'iptables',
              '-t',
              'nat',
              '-A',
              'PREROUTING',
              '-d',
              svc.clusterIP,
              '-p',
              proto,
              '--dport',
              String(p),
              '-j',
              'DNAT',
              '--to-destination',
              `${backend.ip}:${p}`,
            ]);
          }
        }
      }
      for (const c of [...this.clients, ...this.servers].filter((p) => p.node === bn.node.name)) {
        await bn.node.sh(['sh', '-c', 'printf "%s\\n" "$@" >>"/etc/netns/$0/hosts"', c.pod.name, ...hosts]);
      }
    }
  }

  topology(extra: Partial<ProbeTopology> = {}): ProbeTopology {
    return {
      nodes: this.topoNodes,
      servers: this.servers,
      clients: this.clients,
      services: this.services,
      ports: this.ports.flatMap((port) => [
        { port, protocol: 'TCP' as const },
        { port, protocol: 'UDP' as const },
      ]),
      hostPort: this.hostPort,
      natOutgoing: false,
      tunnelMtu: this.opts.mtu ?? 1500,
      missingName: `no-such-service.${SERVICE_DOMAIN}`,
      ...extra,
    };
  }

  nodeOf(pod: TopologyPod): TestNode {
    const bn = this.nodes.find((b) => b.node.name === pod.node);
    if (!bn) throw new Error(`no node ${pod.node}`);
    return bn.node;
  }

  async dispose(): Promise<string[]> {
    return this.bed.dispose();
  }
}
