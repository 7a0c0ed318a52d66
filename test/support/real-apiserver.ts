/**
 * A real kube-apiserver on etcd, started by a test from the lab's binaries (harness/lab, `npm run lab:build`),
 * on loopback only: etcd's client and peer URLs and the API server's secure port are 127.0.0.1 ports chosen
 * free, nothing is exposed on another address and no host networking is touched. Certificates (a CA, the
 * serving certificate for 127.0.0.1, an admin client certificate with O=system:masters, and any extra client
 * certificates a test asks for) are made with openssl; the service-account key pair with node:crypto.
 * Everything lives in one temporary directory, removed by stop(), which is also what a failed start runs
 * before it rethrows.
 *
 * Optionally a kube-controller-manager runs a few named controllers against it (e.g. the garbage collector
 * and the namespace controller: without them nothing deletes dependents of a deleted owner or the content
 * of a deleted namespace). There is never a kubelet or a scheduler here.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { sleep } from '../../harness/time/clock.js';
import { pollUntil } from '../../harness/time/poll.js';

export interface RealApiServerOptions {
  etcd: string;
  kubeApiserver: string;
  /** with controllers: the kube-controller-manager binary */
  kubeControllerManager?: string;
  /** kube-controller-manager controllers to run (its --controllers names); none: no controller manager */
  controllers?: readonly string[];
  /** the service CIDR the API server allocates ClusterIPs from (nothing routes it; it is only bookkeeping) */
  serviceClusterIpRange?: string;
  /** how long each component may take to become ready (default 120 s: this machine is shared with builds) */
  startTimeoutMs?: number;
}

export interface ClientCredentials {
  /** PEM */
  cert: string;
  /** PEM */
  key: string;
}

export interface StartupTimings {
  /** from spawning etcd to its /health answering true */
  etcdMs: number;
  /** from spawning kube-apiserver to /readyz answering ok */
  apiserverMs: number;
  /** certificates and keys */
  certsMs: number;
  /** from spawning kube-controller-manager to its first controller's visible work; 0 without one */
  controllerManagerMs: number;
  totalMs: number;
}

interface Child {
  name: string;
  proc: ResultPromise;
  log: string;
  exited?: string;
}

const DEFAULT_START_MS = 120_000;

/** `count` distinct free TCP ports on 127.0.0.1, all held open at once so that none repeats. */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => {
      const a = s.address();
      if (!a || typeof a === 'string') throw new Error('a loopback listener has no port');
      return a.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export class RealApiServer {
  /** https://127.0.0.1:<port> */
  url = '';
  etcdUrl = '';
  kubeconfigPath = '';
  readonly timings: StartupTimings = {
    etcdMs: 0,
    apiserverMs: 0,
    certsMs: 0,
    controllerManagerMs: 0,
    totalMs: 0,
  };
  private readonly children: Child[] = [];
  private caCert = '';
  private caKeyPath = '';
  private admin: ClientCredentials = { cert: '', key: '' };
  private stopped = false;

  private constructor(
    readonly dir: string,
    private readonly opts: RealApiServerOptions,
  ) {}

  /** Starts etcd, kube-apiserver and (with controllers) kube-controller-manager; on any failure stops them all. */
  static async start(opts: RealApiServerOptions): Promise<RealApiServer> {
    const server = new RealApiServer(mkdtempSync(join(tmpdir(), 'cc-real-apiserver-')), opts);
    try {
      await server.boot();
      return server;
    } catch (err) {
      const logs = server.logTails();
      await server.stop();
      if (err instanceof Error && logs) err.message += `\n${logs}`;
      throw err;
    }
  }

  /** A client for the admin (O=system:masters) user. */
  kubeConfig(): KubeConfig {
    return this.kubeConfigFor('admin', this.admin);
  }

  /** A client for any user whose certificate this server's CA signed (see clientCertificate). */
  kubeConfigFor(user: string, creds: ClientCredentials): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(this.kubeconfigYaml(user, creds));
    return kc;
  }

  /**
   * A client certificate for `user` in `groups`, signed by this server's CA: how a test gets an identity RBAC
   * does not allow everything (a real 403 on demand).
   */
  async clientCertificate(user: string, groups: readonly string[] = []): Promise<ClientCredentials> {
    const safe = user.replace(/[^A-Za-z0-9_.-]/g, '_');
    const subject = `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`;
    return this.signClient(safe, subject);
  }

  /**
   * Freezes a component (SIGSTOP) until thaw: with etcd frozen the API server still takes requests but
   * answers none until its own 60 s request timeout — a real slow answer, on demand.
   */
  freeze(component: 'etcd' | 'kube-apiserver' | 'kube-controller-manager'): void {
    const c = this.child(component);
    // a frozen process ignores the SIGTERM the worker's exit sends its children: thaw it on exit first
    if (this.frozen.size === 0) process.on('exit', this.thawAll);
    this.frozen.add(c);
    c.proc.kill('SIGSTOP');
  }

  thaw(component: 'etcd' | 'kube-apiserver' | 'kube-controller-manager'): void {
    const c = this.child(component);
    c.proc.kill('SIGCONT');
    this.frozen.delete(c);
    if (this.frozen.size === 0) process.off('exit', this.thawAll);
  }

  private readonly frozen = new Set<Child>();
  private readonly thawAll = () => {
    for (const c of this.frozen) c.proc.kill('SIGCONT');
  };

  private child(name: string): Child {
    const c = this.children.find((x) => x.name === name);
    if (!c || c.exited) throw new Error(`${name} is not running`);
    return c;
  }

  /** The last lines of every component's log, for a failure message. */
  logTails(lines = 15): string {
    return this.children
      .map((c) => {
        let text = '';
        try {
          text = readFileSync(c.log, 'utf8');
        } catch {
          return '';
        }
        const tail = text.trimEnd().split('\n').slice(-lines).join('\n  ');
        return `${c.name}${c.exited ? ` (${c.exited})` : ''}, last lines of ${c.log}:\n  ${tail}`;
      })
      .filter(Boolean)
      .join('\n');
  }

  /** Stops every component (controller manager, API server, etcd, in that order) and removes the directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.thawAll();
    this.frozen.clear();
    process.off('exit', this.thawAll);
    for (const c of [...this.children].reverse()) {
      if (!c.exited) {
        c.proc.kill('SIGCONT'); // a frozen one would not see the SIGTERM
        c.proc.kill('SIGTERM');
        const killed = await Promise.race([c.proc.then(() => true), sleep(10_000).then(() => false)]);
        if (!killed) {
          c.proc.kill('SIGKILL');
          await c.proc;
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async boot(): Promise<void> {
    const t0 = Date.now();
    const timeoutMs = this.opts.startTimeoutMs ?? DEFAULT_START_MS;
    const [etcdClient, etcdPeer, securePort] = await freeLoopbackPorts(3);
    this.etcdUrl = `http://127.0.0.1:${etcdClient}`;
    this.url = `https://127.0.0.1:${securePort}`;

    // etcd first; the certificates are made while it starts
    const tEtcd = Date.now();
    const etcd = this.spawn('etcd', this.opts.etcd, [
      '--name=cc',
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=${this.etcdUrl}`,
      `--advertise-client-urls=${this.etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=cc=http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster-state=new',
      // a test's etcd: losing it in a crash loses nothing, and fsync on a disk shared with builds is slow
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);

    const tCerts = Date.now();
    await this.makeCertificates();
    this.timings.certsMs = Date.now() - tCerts;

    await this.waitFor(etcd, `etcd ${this.etcdUrl}/health to answer health=true`, timeoutMs, async () => {
      const r = await fetch(`${this.etcdUrl}/health`, { signal: AbortSignal.timeout(5000) });
      const body = await r.text();
      return { done: r.ok && /"health":\s*"true"/.test(body), seen: `HTTP ${r.status} ${body.trim()}` };
    });
    this.timings.etcdMs = Date.now() - tEtcd;

    const tApi = Date.now();
    const apiserver = this.spawn('kube-apiserver', this.opts.kubeApiserver, [
      `--etcd-servers=${this.etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${securePort}`,
      `--cert-dir=${join(this.dir, 'apiserver')}`,
      `--tls-cert-file=${join(this.dir, 'serving.crt')}`,
      `--tls-private-key-file=${join(this.dir, 'serving.key')}`,
      `--client-ca-file=${join(this.dir, 'ca.crt')}`,
      `--service-cluster-ip-range=${this.opts.serviceClusterIpRange ?? '10.0.0.0/24'}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
      '--authorization-mode=RBAC',
      // calico-node and its init containers are privileged, as kubeadm and kind allow
      '--allow-privileged=true',
      '--profiling=false',
    ]);
    await this.waitFor(apiserver, `kube-apiserver ${this.url}/readyz to answer ok`, timeoutMs, async () => {
      const r = await this.api('GET', '/readyz?verbose');
      const failing = r.text
        .split('\n')
        .filter((l) => l.startsWith('[-]'))
        .join(', ');
      return {
        done: r.status === 200,
        seen: `HTTP ${r.status}${failing ? `: ${failing}` : `: ${r.text.trim().split('\n').at(-1) ?? ''}`}`,
      };
    });
    this.timings.apiserverMs = Date.now() - tApi;

    this.kubeconfigPath = join(this.dir, 'admin.kubeconfig');
    writeFileSync(this.kubeconfigPath, this.kubeconfigYaml('admin', this.admin), { mode: 0o600 });

    const controllers = this.opts.controllers ?? [];
    if (controllers.length > 0) {
      if (!this.opts.kubeControllerManager)
        throw new Error('controllers were asked for without a kube-controller-manager binary');
      const tKcm = Date.now();
      const kcm = this.spawn('kube-controller-manager', this.opts.kubeControllerManager, [
        `--kubeconfig=${this.kubeconfigPath}`,
        `--controllers=${controllers.join(',')}`,
        '--leader-elect=false',
        // no HTTPS endpoint at all: nothing listens for it
        '--secure-port=0',
        '--use-service-account-credentials=false',
      ]);
      // Ready when a controller's work shows in the API: the serviceaccount controller's default/default;
      // without that controller, when it is still running after 2 s (a bad flag ends it at once).
      if (controllers.includes('serviceaccount-controller')) {
        await this.waitFor(
          kcm,
          "kube-controller-manager's serviceaccount-controller to create ServiceAccount default/default",
          timeoutMs,
          async () => {
            const r = await this.api('GET', '/api/v1/namespaces/default/serviceaccounts/default');
            return { done: r.status === 200, seen: `HTTP ${r.status}` };
          },
        );
      } else {
        await this.waitFor(kcm, 'kube-controller-manager to keep running for 2 s', 10_000, async () => ({
          done: Date.now() - tKcm >= 2000,
          seen: 'running',
        }));
      }
      this.timings.controllerManagerMs = Date.now() - tKcm;
    }
    this.timings.totalMs = Date.now() - t0;
  }

  private spawn(name: string, bin: string, args: string[]): Child {
    const log = join(this.dir, `${name}.log`);
    const proc = execa(bin, args, {
      stdin: 'ignore',
      stdout: { file: log, append: true },
      stderr: { file: log, append: true },
      reject: false,
      // the child dies with the test worker even when teardown never runs
      cleanup: true,
    });
    const child: Child = { name, proc, log };
    void proc.then((r) => {
      child.exited = r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`;
    });
    this.children.push(child);
    return child;
  }

  /** Polls until `look` is done; fails at once when the component exits, with its log tail. */
  private async waitFor(
    child: Child,
    waitingFor: string,
    timeoutMs: number,
    look: () => Promise<{ done: boolean; seen: string }>,
  ): Promise<void> {
    const ac = new AbortController();
    const onExit = (r: { exitCode?: number; signal?: string }) =>
      ac.abort(
        new Error(
          `${child.name} ${r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`} while waiting for ${waitingFor}`,
        ),
      );
    void child.proc.then(onExit);
    await pollUntil(waitingFor, look, { timeoutMs, intervalMs: 250, signal: ac.signal });
  }

  /**
   * One request as the admin, outside @kubernetes/client-node: what a test uses to play a controller or a
   * kubelet (write a status subresource, strip a finalizer) and to read an object exactly as stored.
   * `body` is sent as JSON with `contentType` (default a JSON merge patch); the answer's body is parsed as
   * JSON where it is JSON.
   */
  api(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/merge-patch+json',
  ): Promise<{ status: number; body: unknown; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${path}`,
        {
          method,
          ca: this.caCert,
          cert: this.admin.cert,
          key: this.admin.key,
          timeout: 10_000,
          headers: {
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => {
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* not JSON (/readyz answers text) */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`no answer to ${method} ${this.url}${path} within 10 s`)),
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** `api`, failing unless the answer is 2xx; returns the parsed body. */
  async apiOk<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const r = await this.api(method, path, body, contentType);
    if (r.status < 200 || r.status > 299)
      throw new Error(`${method} ${path}: HTTP ${r.status} ${r.text.slice(0, 500)}`);
    return r.body as T;
  }

  private kubeconfigYaml(user: string, creds: ClientCredentials): string {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'real', cluster: { server: this.url, 'certificate-authority-data': b64(this.caCert) } },
      ],
      users: [
        {
          name: user,
          user: { 'client-certificate-data': b64(creds.cert), 'client-key-data': b64(creds.key) },
        },
      ],
      contexts: [{ name: user, context: { cluster: 'real', user } }],
      'current-context': user,
    });
  }

  // ---- certificates -------------------------------------------------------------------------------------

  private async openssl(args: string[]): Promise<void> {
    await execa('openssl', args, { cwd: this.dir, stdin: 'ignore', timeout: 60_000 });
  }

  private async makeCertificates(): Promise<void> {
    const d = (f: string) => join(this.dir, f);
    // The extensions each certificate needs, in a config of our own (not the system's openssl.cnf).
    writeFileSync(
      d('openssl.cnf'),
      [
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        '[ca]',
        'basicConstraints = critical, CA:TRUE',
        'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
        'subjectKeyIdentifier = hash',
        '[serving]',
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature, keyEncipherment',
        'extendedKeyUsage = serverAuth',
        'subjectAltName = IP:127.0.0.1, IP:10.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc',
        '[client]',
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature, keyEncipherment',
        'extendedKeyUsage = clientAuth',
        '',
      ].join('\n'),
    );
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    this.caKeyPath = d('ca.key');
    await this.openssl([
      'req',
      '-x509',
      ...ec,
      '-config',
      d('openssl.cnf'),
      '-extensions',
      'ca',
      '-subj',
      '/CN=calico-conformance-test-ca',
      '-days',
      '2',
      '-keyout',
      this.caKeyPath,
      '-out',
      d('ca.crt'),
    ]);
    this.caCert = readFileSync(d('ca.crt'), 'utf8');
    await this.signLeaf('serving', '/CN=kube-apiserver', 'serving');
    this.admin = await this.signClient('admin', '/CN=calico-conformance-admin/O=system:masters');
    // service-account token signing: RSA, as kubeadm makes it
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(d('sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(d('sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
  }

  private async signClient(name: string, subject: string): Promise<ClientCredentials> {
    await this.signLeaf(`client-${name}`, subject, 'client');
    return {
      cert: readFileSync(join(this.dir, `client-${name}.crt`), 'utf8'),
      key: readFileSync(join(this.dir, `client-${name}.key`), 'utf8'),
    };
  }

  private async signLeaf(file: string, subject: string, extensions: 'serving' | 'client'): Promise<void> {
    const d = (f: string) => join(this.dir, f);
    await this.openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-config',
      d('openssl.cnf'),
      '-subj',
      subject,
      '-keyout',
      d(`${file}.key`),
      '-out',
      d(`${file}.csr`),
    ]);
    await this.openssl([
      'x509',
      '-req',
      '-in',
      d(`${file}.csr`),
      '-CA',
      d('ca.crt'),
      '-CAkey',
      this.caKeyPath,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      d('openssl.cnf'),
      '-extensions',
      extensions,
      '-out',
      d(`${file}.crt`),
    ]);
  }
}
