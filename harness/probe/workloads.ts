/**
 * Pure builders of the probe workloads of a cell (plain Kubernetes objects; applying them is harness/kube's
 * job): on every node a server pod answering with its own name on TCP and UDP ports 80 and 81, a client
 * pod, a hostNetwork pod, and a ClusterIP Service per server.
 *
 * agnhost `netexec` serves HTTP on one port and UDP on one port and answers `/hostname` (HTTP) and
 * `hostname` (UDP) with the pod's hostname, i.e. its name (test/images/agnhost/netexec); one container per
 * port pair therefore gives TCP+UDP on 80 and 81 from a single pod (containers share the pod's network).
 */

/**
 * The probe pods' image: upstream agnhost, or CALICO_CONFORMANCE_AGNHOST_IMAGE (set by `run --lab` to the
 * lab's agnhost, built from the Kubernetes module it runs; also for a mirror).
 */
export const AGNHOST_IMAGE =
  process.env.CALICO_CONFORMANCE_AGNHOST_IMAGE || 'registry.k8s.io/e2e-test-images/agnhost:2.53';
export const PROBE_PORTS = [80, 81] as const;
/** where the hostNetwork pod listens (TCP+UDP) on each node: free on kind nodes (kubelet 10250, kube-proxy 10249/10256) */
export const HOST_PROBE_PORT = 18080;
export const LABEL_ROLE = 'calico-conformance/probe-role';
export const LABEL_NODE = 'calico-conformance/probe-node';

/**
 * The container names of the probe pods. Every exec names its container: the API server refuses an exec
 * without one on a pod with several (kubernetes pkg/registry/core/pod/strategy.go), and a server pod has one
 * container per port.
 */
export const PROBE_CONTAINERS = {
  client: 'client',
  host: 'serve-host',
  server: (port: number) => `serve-${port}`,
} as const;

export interface WorkloadOptions {
  namespace: string;
  nodes: string[];
  image?: string;
  /** image pull policy; kind clusters load images in, so IfNotPresent */
  pullPolicy?: 'IfNotPresent' | 'Always' | 'Never';
}

export type KubeObject = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

export interface ProbeWorkloadNames {
  server: string;
  client: string;
  host: string;
  service: string;
}

/** Names by node index: short DNS labels, independent of the (long) kind node names. */
export function workloadNames(index: number): ProbeWorkloadNames {
  const n = `n${index}`;
  return { server: `server-${n}`, client: `client-${n}`, host: `host-${n}`, service: `svc-${n}` };
}

/**
 * The hostNetwork server binds its UDP socket to the node IP (`--udp-listen-addresses=$(HOST_IP)`, the
 * downward API's status.hostIP; kubelet expands `$(VAR)` in args), as the Kubernetes e2e does for hostNetwork
 * endpoints (test/e2e/framework/network/utils.go). A socket on 0.0.0.0 answers from the address the kernel
 * picks for the route back to the client: for a pod on the same node (a route via its cali veth, which has
 * no address) the first global address of the node, which is tunl0's when IPIP gave it one and tunl0 sits
 * before eth0; for a pod on another node without natOutgoing, the tunnel address of tunl0/vxlan.calico. A
 * client's connected UDP socket drops an answer from any address but the one it sent to.
 */
export const HOST_IP_ENV = 'HOST_IP';

function netexec(
  name: string,
  port: number,
  image: string,
  pullPolicy: string,
  bindUdpToHostIp = false,
): Record<string, unknown> {
  return {
    name,
    image,
    imagePullPolicy: pullPolicy,
    args: [
      'netexec',
      `--http-port=${port}`,
      `--udp-port=${port}`,
      ...(bindUdpToHostIp ? [`--udp-listen-addresses=$(${HOST_IP_ENV})`] : []),
    ],
    ...(bindUdpToHostIp
      ? { env: [{ name: HOST_IP_ENV, valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }] }
      : {}),
    ports: [
      { name: `tcp-${port}`, containerPort: port, protocol: 'TCP' },
      { name: `udp-${port}`, containerPort: port, protocol: 'UDP' },
    ],
    readinessProbe: { httpGet: { path: '/healthz', port }, periodSeconds: 2 },
  };
}

function pod(
  name: string,
  namespace: string,
  node: string,
  role: string,
  spec: Record<string, unknown>,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { [LABEL_ROLE]: role, [LABEL_NODE]: node, pod: name } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      // probes must land on every node, control plane included
      tolerations: [{ operator: 'Exists' }],
      ...spec,
    },
  };
}

/** Every object of the probe workloads, namespace first. */
export function buildProbeWorkloads(opts: WorkloadOptions): KubeObject[] {
  const image = opts.image ?? AGNHOST_IMAGE;
  const pull = opts.pullPolicy ?? 'IfNotPresent';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(opts.namespace) || opts.namespace.length > 63) {
    throw new Error(`namespace: ${JSON.stringify(opts.namespace)} is not a DNS label`);
  }
  if (opts.nodes.length === 0) throw new Error('nodes: at least one node is needed for probe workloads');
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: opts.namespace, labels: { 'calico-conformance/purpose': 'probes' } },
    },
  ];
  opts.nodes.forEach((node, i) => {
    const names = workloadNames(i);
    objects.push(
      pod(names.server, opts.namespace, node, 'server', {
        containers: PROBE_PORTS.map((p) => netexec(PROBE_CONTAINERS.server(p), p, image, pull)),
      }),
      pod(names.client, opts.namespace, node, 'client', {
        containers: [{ name: PROBE_CONTAINERS.client, image, imagePullPolicy: pull, args: ['pause'] }],
      }),
      pod(names.host, opts.namespace, node, 'host', {
        hostNetwork: true,
        containers: [netexec(PROBE_CONTAINERS.host, HOST_PROBE_PORT, image, pull, true)],
      }),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: names.service, namespace: opts.namespace },
        spec: {
          type: 'ClusterIP',
          selector: { pod: names.server },
          ports: PROBE_PORTS.flatMap((p) => [
            { name: `tcp-${p}`, port: p, targetPort: p, protocol: 'TCP' },
            { name: `udp-${p}`, port: p, targetPort: p, protocol: 'UDP' },
          ]),
        },
      },
    );
  });
  return objects;
}

/** The cluster DNS name of a Service (kind's default cluster domain). */
export function serviceDnsName(service: string, namespace: string, domain = 'cluster.local'): string {
  return `${service}.${namespace}.svc.${domain}`;
}
