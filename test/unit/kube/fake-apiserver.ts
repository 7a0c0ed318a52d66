/**
 * A fake Kubernetes API server on 127.0.0.1 (node:http): serves discovery, get/list/create/patch/delete of objects
 * kept in memory, deletion with finalizers, and pod exec over a minimal v5.channel.k8s.io websocket — the few
 * endpoints the harness's Kubernetes layer calls. Tests drive it by changing the store and by reactors that see
 * every request (a rollout that finishes after N polls, a finalizer that never clears, a 409, …).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface ResourceInfo {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const RESOURCES: ResourceInfo[] = [
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false },
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
  { apiVersion: 'operator.tigera.io/v1', kind: 'Installation', plural: 'installations', namespaced: false },
  { apiVersion: 'operator.tigera.io/v1', kind: 'APIServer', plural: 'apiservers', namespaced: false },
  { apiVersion: 'operator.tigera.io/v1', kind: 'TigeraStatus', plural: 'tigerastatuses', namespaced: false },
  { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', plural: 'ippools', namespaced: false },
];

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  body: unknown;
}

export type Obj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

export interface ExecReply {
  stdout?: string;
  stderr?: string;
  /** exit code sent on the status channel; undefined sends Success */
  code?: number;
  delayMs?: number;
  /** close the socket without a status frame */
  noStatus?: boolean;
  /** a status failure that is not an exit code (container not found…) */
  failure?: string;
}

type Reactor = (req: Recorded, fake: FakeApiServer) => { status: number; body: unknown } | undefined;

export class FakeApiServer {
  readonly requests: Recorded[] = [];
  readonly store = new Map<string, Obj>();
  /** apiVersions whose discovery answers 404 (a CRD group that is not installed) */
  readonly unserved = new Set<string>();
  reactors: Reactor[] = [];
  /**
   * answers an exec the API server accepted; `container` is the one the API server resolved. May be async,
   * e.g. to run the command in a real container and answer with its real output and exit code.
   */
  execHandler: (argv: string[], pod: string, container: string) => ExecReply | Promise<ExecReply> = () => ({
    code: 0,
  });
  /** the argv of every exec the API server accepted */
  execCommands: string[][] = [];
  /** every exec request, accepted or refused, as the API server saw it (`container` '' when not given) */
  execRequests: { namespace: string; pod: string; container: string; argv: string[]; refused?: string }[] =
    [];
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  port = 0;

  static key(apiVersion: string, kind: string, name: string, namespace?: string): string {
    return `${apiVersion}|${kind}|${namespace ?? ''}|${name}`;
  }

  put(obj: Obj): Obj {
    this.store.set(
      FakeApiServer.key(obj.apiVersion, obj.kind, obj.metadata.name, obj.metadata.namespace),
      obj,
    );
    return obj;
  }

  /** a scheduled pod with these containers (what an exec needs to find) */
  putPod(namespace: string, name: string, containers: string[], nodeName = 'kind-worker'): Obj {
    return this.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace },
      spec: { nodeName, containers: containers.map((c) => ({ name: c, image: 'agnhost' })) },
    });
  }

  getObj(apiVersion: string, kind: string, name: string, namespace?: string): Obj | undefined {
    return this.store.get(FakeApiServer.key(apiVersion, kind, name, namespace));
  }

  /** the requests of one method, as `METHOD path` */
  calls(method?: string): string[] {
    return this.requests.filter((r) => !method || r.method === method).map((r) => `${r.method} ${r.path}`);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req, socket) => this.upgrade(req, socket as Socket));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'test' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
      currentContext: 'fake',
    });
    return kc;
  }

  kubeconfigYaml(): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake\n  cluster:\n    server: http://127.0.0.1:${this.port}\n    insecure-skip-tls-verify: true`,
      'users:',
      '- name: u\n  user:\n    token: test',
      'contexts:',
      '- name: fake\n  context:\n    cluster: fake\n    user: u',
      'current-context: fake',
      '',
    ].join('\n');
  }

  private resourceFor(apiVersion: string, plural: string): ResourceInfo | undefined {
    return RESOURCES.find((r) => r.apiVersion === apiVersion && r.plural === plural);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const rec: Recorded = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      contentType: req.headers['content-type'],
      body,
    };
    this.requests.push(rec);
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    for (const r of this.reactors) {
      const out = r(rec, this);
      if (out) return send(out.status, out.body);
    }
    const out = this.route(rec);
    send(out.status, out.body);
  }

  private status(code: number, reason: string, message: string) {
    return {
      status: code,
      body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code },
    };
  }

  private route(rec: Recorded): { status: number; body: unknown } {
    const parts = rec.path.split('/').filter(Boolean);
    let apiVersion: string;
    let rest: string[];
    if (parts[0] === 'api') {
      apiVersion = parts[1] ?? '';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis') {
      apiVersion = `${parts[1]}/${parts[2]}`;
      rest = parts.slice(3);
    } else return this.status(404, 'NotFound', `no route ${rec.path}`);
    if (rest.length === 0) {
      if (this.unserved.has(apiVersion))
        return this.status(404, 'NotFound', `the server could not find ${rec.path}`);
      const resources = RESOURCES.filter((r) => r.apiVersion === apiVersion);
      if (!resources.length) return this.status(404, 'NotFound', `the server could not find ${rec.path}`);
      return {
        status: 200,
        body: {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: apiVersion,
          resources: resources.map((r) => ({
            name: r.plural,
            singularName: '',
            kind: r.kind,
            namespaced: r.namespaced,
            verbs: [],
          })),
        },
      };
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const res = this.resourceFor(apiVersion, rest[0] ?? '');
    if (!res || this.unserved.has(apiVersion))
      return this.status(404, 'NotFound', `the server could not find the requested resource`);
    const name = rest[1];
    const key = name ? FakeApiServer.key(apiVersion, res.kind, name, namespace) : '';
    const existing = name ? this.store.get(key) : undefined;
    switch (rec.method) {
      case 'GET': {
        if (name)
          return existing
            ? { status: 200, body: existing }
            : this.status(404, 'NotFound', `${res.plural} "${name}" not found`);
        const sel = parseSelector(rec.query.get('labelSelector'));
        const items = [...this.store.values()].filter(
          (o) =>
            o.apiVersion === apiVersion &&
            o.kind === res.kind &&
            (namespace === undefined || o.metadata.namespace === namespace) &&
            matches(o, sel),
        );
        return { status: 200, body: { apiVersion, kind: `${res.kind}List`, metadata: {}, items } };
      }
      case 'PATCH': {
        const b = (rec.body ?? {}) as Obj;
        const merged = existing
          ? { ...existing, ...b, metadata: { ...existing.metadata, ...b.metadata } }
          : b;
        this.put(merged as Obj);
        return { status: existing ? 200 : 201, body: merged };
      }
      case 'POST': {
        const b = rec.body as Obj;
        const k = FakeApiServer.key(apiVersion, res.kind, b.metadata.name, namespace ?? b.metadata.namespace);
        if (this.store.has(k))
          return this.status(409, 'AlreadyExists', `${res.plural} "${b.metadata.name}" already exists`);
        this.store.set(k, b);
        return { status: 201, body: b };
      }
      case 'DELETE': {
        if (!existing) return this.status(404, 'NotFound', `${res.plural} "${name}" not found`);
        if (existing.metadata.finalizers?.length) {
          existing.metadata.deletionTimestamp ??= '2026-01-01T00:00:00Z';
          return { status: 202, body: existing };
        }
        this.store.delete(key);
        return { status: 200, body: { kind: 'Status', apiVersion: 'v1', status: 'Success' } };
      }
      default:
        return this.status(405, 'MethodNotAllowed', rec.method);
    }
  }

  /**
   * Which container an exec runs in, decided as the API server decides it before it talks to the kubelet
   * (kubernetes pkg/registry/core/pod/strategy.go: streamLocation → getPod, validateContainer, the node
   * check): the pod must exist (404); without a container name a pod with exactly one container means that
   * one, a pod with several is refused with HTTP 400 listing every container (init, regular, ephemeral, in
   * that order, as Go's %s of a []string); a name that is none of them is refused; so is a pod without a node.
   */
  execLocation(
    namespace: string,
    podName: string,
    container: string,
  ): { container: string } | { refused: ApiStatus } {
    const pod = this.getObj('v1', 'Pod', podName, namespace) as
      | (Obj & {
          spec?: {
            nodeName?: string;
            containers?: { name: string }[];
            initContainers?: { name: string }[];
            ephemeralContainers?: { name: string }[];
          };
        })
      | undefined;
    if (!pod) return failure(404, 'NotFound', `pods "${podName}" not found`);
    const spec = pod.spec ?? {};
    const regular = spec.containers ?? [];
    const all = [...(spec.initContainers ?? []), ...regular, ...(spec.ephemeralContainers ?? [])].map(
      (c) => c.name,
    );
    let chosen = container;
    if (chosen === '') {
      if (regular.length === 0)
        return failure(400, 'BadRequest', `a container name must be specified for pod ${podName}`);
      if (regular.length > 1)
        return failure(
          400,
          'BadRequest',
          `a container name must be specified for pod ${podName}, choose one of: [${all.join(' ')}]`,
        );
      chosen = regular[0]?.name ?? '';
    } else if (!all.includes(chosen)) {
      return failure(400, 'BadRequest', `container ${chosen} is not valid for pod ${podName}`);
    }
    if (!spec.nodeName) return failure(400, 'BadRequest', `pod ${podName} does not have a host assigned`);
    return { container: chosen };
  }

  private upgrade(req: IncomingMessage, socket: Socket): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    const key = req.headers['sec-websocket-key'];
    if (!m || typeof key !== 'string') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    const namespace = decodeURIComponent(m[1] ?? '');
    const podName = decodeURIComponent(m[2] ?? '');
    const argv = url.searchParams.getAll('command');
    const resolved = this.execLocation(namespace, podName, url.searchParams.get('container') ?? '');
    this.execRequests.push({
      namespace,
      pod: podName,
      container: url.searchParams.get('container') ?? '',
      argv,
      ...('refused' in resolved ? { refused: resolved.refused.message } : {}),
    });
    if ('refused' in resolved) {
      // the API server refuses before any upgrade: a plain HTTP answer with a Status body
      const body = JSON.stringify(resolved.refused);
      const text = resolved.refused.code === 404 ? 'Not Found' : 'Bad Request';
      socket.end(
        `HTTP/1.1 ${resolved.refused.code} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n`,
    );
    socket.on('data', () => {
      /* client frames (close) are not interpreted */
    });
    socket.on('error', () => {});
    this.execCommands.push(argv);
    const frame = (channel: number, text: string) =>
      wsFrame(0x2, Buffer.concat([Buffer.from([channel]), Buffer.from(text)]));
    void Promise.resolve()
      .then(() => this.execHandler(argv, podName, resolved.container))
      .then(
        (reply) => this.answerExec(socket, reply, frame),
        (e: unknown) => this.answerExec(socket, { failure: `exec handler failed: ${String(e)}` }, frame),
      );
  }

  private answerExec(
    socket: Socket,
    reply: ExecReply,
    frame: (channel: number, text: string) => Buffer,
  ): void {
    setTimeout(() => {
      if (socket.destroyed) return;
      if (reply.stdout) socket.write(frame(1, reply.stdout));
      if (reply.stderr) socket.write(frame(2, reply.stderr));
      if (!reply.noStatus) {
        const status = reply.failure
          ? { status: 'Failure', reason: 'InternalError', message: reply.failure }
          : reply.code === undefined || reply.code === 0
            ? { status: 'Success' }
            : {
                status: 'Failure',
                reason: 'NonZeroExitCode',
                message: `command terminated with non-zero exit code: ${reply.code}`,
                details: { causes: [{ reason: 'ExitCode', message: String(reply.code) }] },
              };
        socket.write(frame(3, JSON.stringify(status)));
      }
      socket.write(wsFrame(0x8, Buffer.from([0x03, 0xe8])));
      socket.end();
    }, reply.delayMs ?? 5);
  }
}

type ApiStatus = {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
};

function failure(code: 400 | 404, reason: string, message: string): { refused: ApiStatus } {
  return {
    refused: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
  };
}

function wsFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
        : (() => {
            const b = Buffer.alloc(10);
            b[0] = 0x80 | opcode;
            b[1] = 127;
            b.writeBigUInt64BE(BigInt(len), 2);
            return b;
          })();
  return Buffer.concat([head, payload]);
}

function parseSelector(s: string | null): [string, string][] {
  if (!s) return [];
  return s.split(',').map((kv) => kv.split('=') as [string, string]);
}

function matches(o: Obj, sel: [string, string][]): boolean {
  const labels = (o.metadata.labels ?? {}) as Record<string, string>;
  return sel.every(([k, v]) => labels[k] === v);
}
