/**
 * The Kubernetes layer (harness/kube) against a REAL kube-apiserver on a real etcd, both the lab's binaries,
 * started by this file on 127.0.0.1 (test/support/real-apiserver.ts). Everything the fake API server
 * (test/unit/kube/fake-apiserver.ts) believes about server semantics is proven here instead: server-side
 * apply of every catalogued manifest of the lab's Calico version with real CRD schemas and a CRD over the
 * 256 KiB client-side annotation limit, CRD establishment (and a CRD that never becomes Established),
 * admission and validation errors, RBAC refusals, finalizers, owner references and propagation policies,
 * namespace termination (also with a stale aggregated API group), the waiters over objects whose status the
 * test writes through the real status subresources, and the exec refusals the API server itself makes.
 *
 * What runs besides the API server, decided here: a kube-controller-manager with exactly three controllers,
 * garbage-collector-controller (without it no dependent of a deleted owner is ever deleted, and Foreground
 * and Orphan deletions never finish), namespace-controller (without it a deleted namespace stays Terminating
 * forever) and serviceaccount-controller (the ServiceAccount admission plugin refuses pods in a namespace
 * without its `default` ServiceAccount). No workload controller runs (no Deployment, DaemonSet or ReplicaSet
 * controller), no scheduler and no kubelet: workload status is what the test writes, as a controller would.
 * So exec exit codes cannot be shown here (no kubelet runs a command); the fake API server's exec tests
 * cover the status channel, and the refusals the API server makes before it would reach a kubelet run here.
 *
 * Gating: runs where the lab's etcd, kube-apiserver, kube-controller-manager and kubectl exist; required
 * (failing, not skipped) under REQUIRE_LAB=1; elsewhere skipped with one line saying how to build the lab.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KubernetesObject, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { CATALOGUE, type CalicoVersion, findVersion } from '../../harness/config/catalogue.js';
import { WaitTimeoutError } from '../../harness/errors.js';
import { ClientNodeKube, FIELD_MANAGER, KubeRequestError } from '../../harness/kube/client.js';
import { type ObjectRef, parseManifest } from '../../harness/kube/yaml.js';
import { readLabLock } from '../../harness/lab/lock.js';
import { pollUntil } from '../../harness/time/poll.js';
import { FIXTURES_DIR, fixturePath } from '../support/fixtures.js';
import { describeLab, labBinaries } from '../support/lab.js';
import { RealApiServer } from '../support/real-apiserver.js';

/** The client-side apply annotation limit (apimachinery's TotalAnnotationSizeLimitB). */
const ANNOTATION_LIMIT = 256 * 1024;
const HOLD = 'conformance.test/hold';

/**
 * The manifests of the lab's Calico version: the lab's own (`manifests` step of lab:build), else the newest
 * catalogued release of the same minor from ../shared/fixtures (same CRDs and objects, later patch release).
 */
function labManifests(): { version: string; entry: CalicoVersion; path: (f: string) => string } | undefined {
  const labVersion = readLabLock().calico.version;
  const lab = findVersion(labVersion);
  if (lab?.files.every((f) => existsSync(fixturePath(labVersion, f))))
    return { version: labVersion, entry: lab, path: (f) => fixturePath(labVersion, f) };
  const minor = labVersion.split('.').slice(0, 2).join('.');
  const sameMinor = CATALOGUE.filter(
    (e) => e.manifestOrigin === 'github' && e.version.startsWith(`${minor}.`),
  ).at(-1);
  if (sameMinor?.files.every((f) => existsSync(join(FIXTURES_DIR, sameMinor.version, f))))
    return {
      version: sameMinor.version,
      entry: sameMinor,
      path: (f) => join(FIXTURES_DIR, sameMinor.version, f),
    };
  return undefined;
}

const bins = labBinaries();

describeLab(
  'harness/kube against a real kube-apiserver + etcd on 127.0.0.1',
  () => [bins.etcd, bins.kubeApiserver, bins.kubeControllerManager, bins.kubectl],
  () => {
    let server: RealApiServer;
    let kube: ClientNodeKube;
    let objects: KubernetesObjectApi;
    let seq = 0;
    /** a fresh DNS-1123 name per use, so tests never see each other's objects */
    const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;

    beforeAll(async () => {
      server = await RealApiServer.start({
        etcd: bins.etcd,
        kubeApiserver: bins.kubeApiserver,
        kubeControllerManager: bins.kubeControllerManager,
        controllers: ['garbage-collector-controller', 'namespace-controller', 'serviceaccount-controller'],
      });
      const t = server.timings;
      console.info(
        `real API server up in ${t.totalMs} ms: etcd ${t.etcdMs} ms, certificates ${t.certsMs} ms (during etcd's start), ` +
          `kube-apiserver ${t.apiserverMs} ms to /readyz, kube-controller-manager ${t.controllerManagerMs} ms`,
      );
      kube = new ClientNodeKube(server.kubeConfig(), { intervalMs: 200 });
      objects = KubernetesObjectApi.makeApiClient(server.kubeConfig());
    }, 300_000);
    afterAll(async () => {
      await server?.stop();
    }, 60_000);

    /** A fresh namespace, once its `default` ServiceAccount exists (pods are refused before that). */
    async function namespace(prefix: string): Promise<string> {
      return ensureNamespace(fresh(prefix));
    }

    /** The namespace `name` (created unless it exists), once its `default` ServiceAccount exists. */
    async function ensureNamespace(name: string): Promise<string> {
      await kube.create([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }]);
      await pollUntil(
        `ServiceAccount ${name}/default (the serviceaccount-controller's)`,
        async () => {
          const sa = await kube.get({
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            namespace: name,
            name: 'default',
          });
          return { done: !!sa, seen: sa ? 'present' : 'absent' };
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      return name;
    }

    /** The object as etcd holds it, read without the client's typed models. */
    async function raw<T = Record<string, unknown>>(path: string): Promise<T> {
      return server.apiOk<T>('GET', path);
    }

    /** Writes a pod's status through its status subresource, as a kubelet would. */
    async function podStatus(ns: string, name: string, status: object): Promise<void> {
      await server.apiOk('PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { status });
    }

    /** Removes every finalizer from an object (what the controller that owns a finalizer does at the end). */
    async function clearFinalizers(path: string): Promise<void> {
      await server.apiOk('PATCH', path, { metadata: { finalizers: null } });
    }

    // through parseManifest, as every manifest the harness applies: client-node's typed serializer would drop
    // x-kubernetes-int-or-string from a CRD built in code (harness/kube/yaml.ts)
    const testCrd = (plural: string, kind: string, group = 'conformance.test', extra: object = {}) =>
      crdDoc({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${plural}.${group}` },
        spec: {
          group,
          names: { kind, plural, singular: plural.replace(/s$/, '') },
          scope: 'Cluster',
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: {
                      type: 'object',
                      properties: {
                        mode: { type: 'string', enum: ['Always', 'Never'] },
                        // as Calico's CRDs write an int-or-string (a structural schema needs the anyOf)
                        port: {
                          anyOf: [{ type: 'integer' }, { type: 'string' }],
                          'x-kubernetes-int-or-string': true,
                        },
                      },
                    },
                    status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  },
                },
              },
            },
          ],
          ...extra,
        },
      });

    describe('the real API server helper', () => {
      it('a start that fails (here kube-apiserver exits at once) says so with the log, stops etcd and removes its directory', async () => {
        const err = await RealApiServer.start({
          etcd: bins.etcd,
          // kubectl refuses the API server's flags and exits 1: a component that dies during start
          kubeApiserver: bins.kubectl,
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        const msg = (err as Error).message;
        expect(msg).toMatch(
          /kube-apiserver exited with code 1 while waiting for kube-apiserver https:\/\/127\.0\.0\.1:\d+\/readyz to answer ok/,
        );
        expect(msg).toMatch(/unknown flag: --etcd-servers/);
        const dir = /last lines of (\/\S+)\/etcd\.log/.exec(msg)?.[1];
        expect(dir, msg).toBeDefined();
        expect(existsSync(dir!), `${dir} removed`).toBe(false);
        // no process of that start is left: none has the directory on its command line
        const left = readdirSync('/proc')
          .filter((p) => /^\d+$/.test(p))
          .filter((p) => {
            try {
              return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir!);
            } catch {
              return false;
            }
          });
        expect(left).toEqual([]);
      }, 180_000);
    });

    describe('server-side apply', () => {
      const manifests = labManifests();

      it.skipIf(!manifests && process.env.REQUIRE_LAB !== '1')(
        `every catalogued manifest of the lab's Calico version (${readLabLock().calico.version}; else the same minor's fixtures) applies, CRDs Established, every object stored under our field manager`,
        async () => {
          if (!manifests)
            throw new Error(
              `REQUIRE_LAB=1 but neither the lab's manifests (${fixturePath(readLabLock().calico.version, 'calico.yaml')}) nor the same minor's fixtures in ${FIXTURES_DIR} exist`,
            );
          let crdsSeen = 0;
          for (const file of manifests.entry.files) {
            const docs = parseManifest(readFileSync(manifests.path(file), 'utf8'), file);
            expect(docs.length, `${manifests.version}/${file} has objects`).toBeGreaterThan(0);
            const applied = await kube.applyServerSide(docs, { crdTimeoutMs: 120_000 });
            expect(applied, `${file}: every document applied once`).toHaveLength(docs.length);
            const written = rawDocs(manifests.path(file));
            for (const d of docs) {
              const stored = await kube.get(refOfDoc(d));
              expect(stored, `${file}: ${d.kind} ${d.metadata?.name} is stored`).toBeDefined();
              // our manager owns what the object sets; an object with nothing but its name owns no field, and
              // the real server then records no manager at all (a ServiceAccount of calico.yaml is one)
              const source = written.find(
                (w) =>
                  w.kind === d.kind &&
                  w.metadata.name === d.metadata?.name &&
                  w.metadata.namespace === d.metadata?.namespace,
              );
              const setsFields =
                Object.keys(source ?? {}).some((k) => !['apiVersion', 'kind', 'metadata'].includes(k)) ||
                Object.keys(source?.metadata ?? {}).some((k) => !['name', 'namespace'].includes(k));
              const managers = (stored?.metadata?.managedFields ?? []).map(
                (m) => `${m.manager}/${m.operation}`,
              );
              if (setsFields)
                expect(managers, `${file}: ${d.kind} ${d.metadata?.name}`).toContain(
                  `${FIELD_MANAGER}/Apply`,
                );
              else expect(managers, `${file}: ${d.kind} ${d.metadata?.name}`).toEqual([]);
            }
            // every CRD Established, and its schema in etcd exactly as the file writes it: client-node's typed
            // serializer drops keys such as x-kubernetes-int-or-string unless the object came from its own
            // loadYaml (harness/kube/yaml.ts), and the real server would store the mutilated schema silently
            const crds = rawDocs(manifests.path(file)).filter((d) => d.kind === 'CustomResourceDefinition');
            if (crds.length)
              await kube.waitCrdsEstablished(
                crds.map((c) => c.metadata.name),
                { timeoutMs: 5000 },
              );
            for (const c of crds) {
              crdsSeen++;
              const inEtcd = await raw<RawObject>(
                `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`,
              );
              const schemas = (o: RawObject) =>
                ((o.spec as { versions: { name: string; schema?: unknown }[] }).versions ?? []).map((v) => [
                  v.name,
                  v.schema,
                ]);
              expect(schemas(inEtcd), `${file}: ${c.metadata.name} schema as written`).toEqual(schemas(c));
              expect(Object.keys(inEtcd.metadata.annotations ?? {})).not.toContain(
                'kubectl.kubernetes.io/last-applied-configuration',
              );
            }
          }
          expect(crdsSeen).toBeGreaterThan(0);
          // at least one CRD a client-side apply could not store: its last-applied annotation (the object as
          // JSON) would exceed the 256 KiB limit on all annotations
          const big = biggestCrd(manifests.path('operator-crds.yaml'));
          expect(big.bytes, `${big.doc.metadata.name} is over the annotation limit`).toBeGreaterThan(
            ANNOTATION_LIMIT,
          );
          // and the custom resources of custom-resources.yaml passed the real operator CRD schemas
          expect(
            await kube.get({ apiVersion: 'operator.tigera.io/v1', kind: 'Installation', name: 'default' }),
          ).toBeDefined();
        },
        300_000,
      );

      it.skipIf(!manifests && process.env.REQUIRE_LAB !== '1')(
        'the same CRD by client-side apply (kubectl apply) is refused for the annotation limit: why the harness applies server-side',
        async () => {
          if (!manifests)
            throw new Error('REQUIRE_LAB=1 but no manifests of the lab Calico version (see above)');
          const big = biggestCrd(manifests.path('operator-crds.yaml'));
          expect(big.bytes).toBeGreaterThan(ANNOTATION_LIMIT);
          const dir = mkdtempSync(join(tmpdir(), 'cc-real-kubectl-'));
          try {
            // a copy in another group: a new object, so the refusal is about the annotation, not a conflict
            const group = 'csa.conformance.test';
            const copy = structuredClone(big.doc) as RawObject & {
              spec: { group: string; names: { plural: string } };
            };
            copy.spec.group = group;
            copy.metadata = { name: `${copy.spec.names.plural}.${group}` };
            writeFileSync(join(dir, 'crd.json'), JSON.stringify(copy));
            const kubectl = (args: string[]) =>
              execa(bins.kubectl, ['--kubeconfig', server.kubeconfigPath, ...args], {
                reject: false,
                timeout: 120_000,
              });
            const csa = await kubectl(['apply', '-f', join(dir, 'crd.json')]);
            expect(csa.exitCode, csa.stdout).not.toBe(0);
            expect(csa.stderr).toMatch(/metadata.annotations: Too long: .*262144 bytes/);
            const ssa = await kubectl(['apply', '--server-side', '-f', join(dir, 'crd.json')]);
            expect(ssa.exitCode, ssa.stderr).toBe(0);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
        180_000,
      );

      it('orders one manifest itself: CRDs (then Established) before Namespaces before the rest, whatever the document order', async () => {
        const ns = fresh('ordered');
        const plural = `${fresh('widgets').replace(/-/g, '')}s`;
        const crd = testCrd(plural, `W${plural.slice(1, -1)}`);
        // the worst order: the namespaced object, then its Namespace, then a custom resource, then its CRD
        const docs: KubernetesObject[] = [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'c', namespace: ns },
            data: { k: 'v' },
          } as never,
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
          {
            apiVersion: 'conformance.test/v1',
            kind: crd.spec.names.kind,
            metadata: { name: 'one' },
            spec: { mode: 'Always', port: 'http' },
          } as never,
          crd,
        ];
        const applied = await kube.applyServerSide(docs, { crdTimeoutMs: 60_000 });
        expect(applied.map((r) => r.kind)).toEqual([
          'CustomResourceDefinition',
          'Namespace',
          'ConfigMap',
          crd.spec.names.kind,
        ]);
        const cr = await raw<{ spec: unknown }>(`/apis/conformance.test/v1/${plural}/one`);
        // int-or-string survived both the client and the real schema
        expect(cr.spec).toEqual({ mode: 'Always', port: 'http' });
      });

      it('force: takes over fields another field manager owns (a conflict otherwise)', async () => {
        const ns = await namespace('force');
        const cm = (value: string) =>
          ({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'owned', namespace: ns },
            data: { k: value },
          }) as KubernetesObject;
        await objects.patch(
          cm('theirs'),
          undefined,
          undefined,
          'someone-else',
          false,
          PatchStrategy.ServerSideApply,
        );
        // without force the real server reports the conflict
        const conflict = await kube.applyServerSide([cm('ours')], { force: false }).catch((e: unknown) => e);
        expect(conflict).toBeInstanceOf(KubeRequestError);
        expect((conflict as KubeRequestError).code).toBe(409);
        expect((conflict as Error).message).toMatch(/conflict with "someone-else".*\.data\.k/s);
        await kube.applyServerSide([cm('ours')]);
        const stored = await raw<{
          data: Record<string, string>;
          metadata: { managedFields: { manager: string; fieldsV1?: unknown }[] };
        }>(`/api/v1/namespaces/${ns}/configmaps/owned`);
        expect(stored.data.k).toBe('ours');
        const ours = stored.metadata.managedFields.find((m) => m.manager === FIELD_MANAGER);
        expect(JSON.stringify(ours?.fieldsV1)).toContain('"f:k"');
        expect(
          JSON.stringify(
            stored.metadata.managedFields.find((m) => m.manager === 'someone-else')?.fieldsV1 ?? {},
          ),
        ).not.toContain('"f:k"');
      });

      it('an object the real schema rejects is HTTP 422 naming the object and the field, refused once, not retried', async () => {
        const plural = `${fresh('strict').replace(/-/g, '')}s`;
        const crd = testCrd(plural, `S${plural.slice(1, -1)}`);
        await kube.applyServerSide([crd]);
        const bad = {
          apiVersion: 'conformance.test/v1',
          kind: crd.spec.names.kind,
          metadata: { name: 'bad' },
          spec: { mode: 'Sometimes' },
        } as KubernetesObject;
        const started = Date.now();
        const err = await kube.applyServerSide([bad], { retryMs: 20_000 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KubeRequestError);
        expect((err as KubeRequestError).code).toBe(422);
        expect((err as Error).message).toMatch(
          new RegExp(
            `server-side apply of ${crd.spec.names.kind} bad: HTTP 422 .*spec.mode: Unsupported value: "Sometimes"`,
          ),
        );
        // a 422 is not transient: it came back at once, not after the 20 s retry budget
        expect(Date.now() - started).toBeLessThan(10_000);
      });
    });

    describe('CRD establishment', () => {
      it('waitCrdsEstablished: a CRD whose names conflict never becomes Established, and the timeout says why', async () => {
        const group = `${fresh('g')}.conformance.test`;
        const first = testCrd('gadgets', 'Gadget', group);
        await kube.applyServerSide([first]);
        // same kind, another plural: the real server refuses the names (KindConflict), so never Established
        const second = testCrd('gizmos', 'Gadget', group);
        const err = await kube.applyServerSide([second], { crdTimeoutMs: 3000 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WaitTimeoutError);
        const msg = (err as Error).message;
        expect(msg).toContain(`waiting for CRDs gizmos.${group} to be Established`);
        expect(msg).toMatch(
          /NamesAccepted=False \((List)?KindConflict: "Gadget(List)?" is already in use\), Established=False \(NotAccepted: not all names are accepted\)/,
        );
        // the first one is fine, and an absent one is named as not found
        await kube.waitCrdsEstablished([`gadgets.${group}`], { timeoutMs: 5000 });
        await expect(kube.waitCrdsEstablished([`absent.${group}`], { timeoutMs: 300 })).rejects.toThrow(
          new RegExp(`absent.${group.replace(/\./g, '\\.')}: not found`),
        );
      });
    });

    describe('what reaches the server is the manifest (client-node model names differ from wire names)', () => {
      // Found on the lab: client-node serialises a write with the kind's generated model, whose property for
      // a rule's `from` is `_from`; a NetworkPolicy parsed from YAML went out without its peers and the real
      // server stored "allow from everywhere". The object is read back raw (kubectl -o json), not through the
      // client under test.
      const rawGet = async (args: string[]) =>
        JSON.parse(
          (
            await execa(bins.kubectl, ['--kubeconfig', server.kubeconfigPath, 'get', '-o', 'json', ...args], {
              timeout: 60_000,
            })
          ).stdout,
        );
      const policy = (ns: string) => ({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'peers', namespace: ns },
        spec: {
          podSelector: { matchLabels: { pod: 'a' } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [
            { from: [{ podSelector: {} }] },
            {
              from: [
                {
                  namespaceSelector: { matchLabels: { ns: 'y' } },
                  podSelector: { matchLabels: { pod: 'b' } },
                },
              ],
            },
            {
              from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }],
              ports: [{ port: 'serve-80', protocol: 'TCP' }],
            },
          ],
          egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 53, endPort: 54, protocol: 'UDP' }] }],
        },
      });

      it.each(['applyServerSide', 'create'] as const)(
        '%s: a NetworkPolicy keeps every from/to peer, port and selector',
        async (how) => {
          const ns = fresh(`wire-${how.toLowerCase()}`);
          await kube.applyServerSide([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }]);
          const doc = policy(ns);
          if (how === 'applyServerSide') await kube.applyServerSide([doc]);
          else await kube.create([doc]);
          const stored = await rawGet(['-n', ns, 'networkpolicy', 'peers']);
          expect(stored.spec).toEqual(doc.spec);
        },
      );

      it('applyServerSide: a CRD keeps its x-kubernetes-* schema extensions', async () => {
        const group = 'wire.conformance.test';
        const crd = {
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: `gizmos.${group}` },
          spec: {
            group,
            scope: 'Cluster',
            names: { plural: 'gizmos', singular: 'gizmo', kind: 'Gizmo', listKind: 'GizmoList' },
            versions: [
              {
                name: 'v1',
                served: true,
                storage: true,
                schema: {
                  openAPIV3Schema: {
                    type: 'object',
                    properties: {
                      spec: {
                        type: 'object',
                        'x-kubernetes-preserve-unknown-fields': true,
                        properties: {
                          port: {
                            'x-kubernetes-int-or-string': true,
                            anyOf: [{ type: 'integer' }, { type: 'string' }],
                          },
                        },
                      },
                    },
                  },
                },
              },
            ],
          },
        };
        await kube.applyServerSide([crd]);
        const stored = await rawGet(['crd', crd.metadata.name]);
        expect(stored.spec.versions[0].schema).toEqual(crd.spec.versions[0]!.schema);
        // the same CRD as the install flow reads it (parseManifest: client-node's typed loadYaml), in another group
        const group2 = 'wire2.conformance.test';
        const typed = parseManifest(
          JSON.stringify({
            ...crd,
            metadata: { name: `gizmos.${group2}` },
            spec: { ...crd.spec, group: group2 },
          }),
        );
        expect(Object.getPrototypeOf(typed[0])).not.toBe(Object.prototype);
        await kube.applyServerSide(typed);
        const stored2 = await rawGet(['crd', `gizmos.${group2}`]);
        expect(stored2.spec.versions[0].schema).toEqual(crd.spec.versions[0]!.schema);
      });
    });

    describe('create, get, list', () => {
      it('create treats 409 AlreadyExists as done', async () => {
        const name = fresh('twice');
        const ns = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }];
        expect(await kube.create(ns)).toHaveLength(1);
        expect(await kube.create(ns)).toHaveLength(1);
        expect((await kube.get({ apiVersion: 'v1', kind: 'Namespace', name }))?.metadata?.name).toBe(name);
      });

      it('get is undefined for a missing object and for a group the server does not serve; list is []', async () => {
        expect(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: fresh('nope') })).toBeUndefined();
        const fresh2 = new ClientNodeKube(server.kubeConfig());
        expect(
          await fresh2.get({
            apiVersion: 'unserved.conformance.test/v1',
            kind: 'Installation',
            name: 'default',
          }),
        ).toBeUndefined();
        expect(await fresh2.list('unserved.conformance.test/v1', 'TigeraStatus')).toEqual([]);
      });

      it('list filters by label and by field selector as the real server does', async () => {
        const ns = await namespace('list');
        await kube.applyServerSide([
          pod(ns, 'on-w1', { app: 'a' }, 'w1'),
          pod(ns, 'on-w2', { app: 'a' }, 'w2'),
          pod(ns, 'other', { app: 'b' }, 'w1'),
        ]);
        const names = (l: KubernetesObject[]) => l.map((p) => p.metadata?.name).sort();
        expect(names(await kube.list('v1', 'Pod', { namespace: ns, labelSelector: 'app=a' }))).toEqual([
          'on-w1',
          'on-w2',
        ]);
        expect(
          names(await kube.list('v1', 'Pod', { namespace: ns, fieldSelector: 'spec.nodeName=w1' })),
        ).toEqual(['on-w1', 'other']);
      });

      it('fromFile: the kubeconfig with a client certificate talks TLS to the real server', async () => {
        const k = ClientNodeKube.fromFile(server.kubeconfigPath);
        expect(
          (await k.get({ apiVersion: 'v1', kind: 'Namespace', name: 'kube-system' }))?.metadata?.name,
        ).toBe('kube-system');
      });
    });

    describe('deletion: finalizers, owner references, propagation (garbage collector and namespace controller running)', () => {
      const cmRef = (namespace: string, name: string): ObjectRef => ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace,
        name,
      });
      const cmPath = (namespace: string, name: string) =>
        `/api/v1/namespaces/${namespace}/configmaps/${name}`;

      /** an owner ConfigMap and dependents that name it in ownerReferences (by its real uid) */
      async function family(
        ns: string,
        dependents: { name: string; finalizers?: string[]; blockOwnerDeletion?: boolean }[],
      ): Promise<void> {
        await kube.create([
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: ns } },
        ]);
        const owner = await raw<{ metadata: { uid: string } }>(cmPath(ns, 'owner'));
        await kube.create(
          dependents.map((d) => ({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: d.name,
              namespace: ns,
              ...(d.finalizers ? { finalizers: d.finalizers } : {}),
              ownerReferences: [
                {
                  apiVersion: 'v1',
                  kind: 'ConfigMap',
                  name: 'owner',
                  uid: owner.metadata.uid,
                  ...(d.blockOwnerDeletion ? { blockOwnerDeletion: true } : {}),
                },
              ],
            },
          })),
        );
      }

      it('delete counts 404 as absent and deletes what exists', async () => {
        const ns = await namespace('del');
        await kube.create([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: ns } }]);
        const r = await kube.delete([cmRef(ns, 'a'), cmRef(ns, 'b')]);
        expect(r.deleted.map((d) => d.name)).toEqual(['a']);
        expect(r.absent.map((d) => d.name)).toEqual(['b']);
        await kube.waitGone([cmRef(ns, 'a')], { timeoutMs: 10_000 });
      });

      it('delete fails loudly on a real RBAC refusal (403), naming the object and the user', async () => {
        const ns = await namespace('rbac');
        await kube.create([
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', namespace: ns } },
        ]);
        const nobody = new ClientNodeKube(
          server.kubeConfigFor('nobody', await server.clientCertificate('calico-conformance-nobody')),
        );
        const err = await nobody.delete([cmRef(ns, 'kept')]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KubeRequestError);
        expect((err as Error).message).toMatch(
          new RegExp(
            `deleting ConfigMap ${ns}/kept: HTTP 403 configmaps "kept" is forbidden: User "calico-conformance-nobody" cannot delete resource "configmaps"`,
          ),
        );
        expect(await kube.get(cmRef(ns, 'kept'))).toBeDefined();
      });

      it('waitGone names the finalizer that holds a deletion, and returns once it clears', async () => {
        const ns = await namespace('fin');
        await kube.create([
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'held', namespace: ns, finalizers: [HOLD] },
          },
        ]);
        expect((await kube.delete([cmRef(ns, 'held')])).deleted).toHaveLength(1);
        const err = await kube
          .waitGone([cmRef(ns, 'held')], { timeoutMs: 1500, intervalMs: 200 })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WaitTimeoutError);
        expect((err as Error).message).toMatch(
          new RegExp(
            `waiting for ConfigMap ${ns}/held to be deleted.*ConfigMap ${ns}/held: deleting since \\S+; finalizers blocking: \\[${HOLD}\\]`,
          ),
        );
        setTimeout(() => void clearFinalizers(cmPath(ns, 'held')), 500);
        await kube.waitGone([cmRef(ns, 'held')], { timeoutMs: 15_000, intervalMs: 200 });
      });

      it('Background: the garbage collector deletes the dependents after the owner', async () => {
        const ns = await namespace('bg');
        await family(ns, [{ name: 'd1' }, { name: 'd2' }]);
        await kube.delete([cmRef(ns, 'owner')], { propagation: 'Background' });
        await kube.waitGone([cmRef(ns, 'owner'), cmRef(ns, 'd1'), cmRef(ns, 'd2')], {
          timeoutMs: 60_000,
          intervalMs: 250,
        });
      }, 90_000);

      it('Foreground: the owner stays, finalizer foregroundDeletion, until a blocking dependent is gone', async () => {
        const ns = await namespace('fg');
        await family(ns, [{ name: 'free' }, { name: 'stuck', finalizers: [HOLD], blockOwnerDeletion: true }]);
        await kube.delete([cmRef(ns, 'owner')], { propagation: 'Foreground' });
        const err = await kube
          .waitGone([cmRef(ns, 'owner')], { timeoutMs: 4000, intervalMs: 250 })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WaitTimeoutError);
        expect((err as Error).message).toMatch(
          /ConfigMap \S+\/owner: deleting since \S+; finalizers blocking: \[foregroundDeletion\]/,
        );
        // the dependent without a finalizer is gone; the one with it is being deleted
        await kube.waitGone([cmRef(ns, 'free')], { timeoutMs: 60_000, intervalMs: 250 });
        expect(
          (await raw<{ metadata: { deletionTimestamp?: string } }>(cmPath(ns, 'stuck'))).metadata
            .deletionTimestamp,
        ).toBeDefined();
        await clearFinalizers(cmPath(ns, 'stuck'));
        await kube.waitGone([cmRef(ns, 'owner'), cmRef(ns, 'stuck')], { timeoutMs: 60_000, intervalMs: 250 });
      }, 150_000);

      it('Orphan: the owner goes, the dependents stay without their owner reference', async () => {
        const ns = await namespace('orphan');
        await family(ns, [{ name: 'kept' }]);
        await kube.delete([cmRef(ns, 'owner')], { propagation: 'Orphan' });
        await kube.waitGone([cmRef(ns, 'owner')], { timeoutMs: 60_000, intervalMs: 250 });
        const kept = await raw<{ metadata: { ownerReferences?: unknown[] } }>(cmPath(ns, 'kept'));
        expect(kept.metadata.ownerReferences ?? []).toEqual([]);
      }, 90_000);

      it('a namespace held by content with a finalizer: waitGone shows Terminating and the conditions that say why', async () => {
        const ns = await namespace('term');
        await kube.create([
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'held', namespace: ns, finalizers: [HOLD] },
          },
        ]);
        await kube.delete([{ apiVersion: 'v1', kind: 'Namespace', name: ns }]);
        const nsRef: ObjectRef = { apiVersion: 'v1', kind: 'Namespace', name: ns };
        // the namespace controller needs a moment to delete the content and write its conditions
        await pollUntil(
          `Namespace ${ns} to report NamespaceFinalizersRemaining`,
          async () => {
            const o = await raw<{ status?: { conditions?: { type: string; status: string }[] } }>(
              `/api/v1/namespaces/${ns}`,
            );
            const ok = o.status?.conditions?.some(
              (c) => c.type === 'NamespaceFinalizersRemaining' && c.status === 'True',
            );
            return { done: !!ok, seen: JSON.stringify(o.status?.conditions ?? []) };
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        const err = await kube
          .waitGone([nsRef], { timeoutMs: 500, intervalMs: 100 })
          .catch((e: unknown) => e);
        const msg = (err as Error).message;
        expect(msg).toMatch(new RegExp(`Namespace ${ns}: deleting since \\S+; phase=Terminating`));
        expect(msg).toContain(
          `NamespaceFinalizersRemaining=True (SomeFinalizersRemain: Some content in the namespace has finalizers remaining: ${HOLD} in 1 resource instances)`,
        );
        expect(msg).toMatch(/NamespaceContentRemaining=True \(SomeResourcesRemain: /);
        // a namespace's own finalizer is spec.finalizers ("kubernetes"), not metadata.finalizers: none is named
        expect(msg).not.toContain('finalizers blocking');
        await clearFinalizers(cmPath(ns, 'held'));
        await kube.waitGone([nsRef], { timeoutMs: 60_000, intervalMs: 250 });
      }, 150_000);

      it('a namespace behind an aggregated API group that does not answer (a removed calico-apiserver) stays Terminating with NamespaceDeletionDiscoveryFailure', async () => {
        const ns = await namespace('stale');
        const group = `${fresh('agg')}.conformance.test`;
        const apiService = {
          apiVersion: 'apiregistration.k8s.io/v1',
          kind: 'APIService',
          metadata: { name: `v3.${group}` },
          spec: {
            group,
            version: 'v3',
            groupPriorityMinimum: 1500,
            versionPriority: 200,
            insecureSkipTLSVerify: true,
            service: { namespace: ns, name: 'gone-api', port: 443 },
          },
        } as KubernetesObject;
        await kube.applyServerSide([apiService]);
        try {
          await kube.delete([{ apiVersion: 'v1', kind: 'Namespace', name: ns }]);
          const nsRef: ObjectRef = { apiVersion: 'v1', kind: 'Namespace', name: ns };
          await pollUntil(
            `Namespace ${ns} to report NamespaceDeletionDiscoveryFailure=True`,
            async () => {
              const o = await raw<{ status?: { conditions?: { type: string; status: string }[] } }>(
                `/api/v1/namespaces/${ns}`,
              );
              const ok = o.status?.conditions?.some(
                (c) => c.type === 'NamespaceDeletionDiscoveryFailure' && c.status === 'True',
              );
              return { done: !!ok, seen: JSON.stringify(o.status?.conditions ?? []) };
            },
            { timeoutMs: 90_000, intervalMs: 500 },
          );
          const err = await kube
            .waitGone([nsRef], { timeoutMs: 500, intervalMs: 100 })
            .catch((e: unknown) => e);
          const msg = (err as Error).message;
          expect(msg).toMatch(new RegExp(`Namespace ${ns}: deleting since \\S+; phase=Terminating`));
          // what the namespace controller writes when an aggregated group's discovery fails
          expect(msg).toContain(
            `NamespaceDeletionDiscoveryFailure=True (DiscoveryFailed: Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: ${group}/v3: stale GroupVersion discovery: ${group}/v3)`,
          );
          expect(msg).not.toContain('NamespaceContentRemaining=False');
          // remove the APIService (what a complete Calico uninstall does) and the namespace finishes
          await kube.delete([apiService]);
          await kube.waitGone([nsRef], { timeoutMs: 90_000, intervalMs: 500 });
        } finally {
          await kube.delete([apiService]);
        }
      }, 240_000);
    });

    describe('waiters over real objects whose status the test writes, as a controller or kubelet would', () => {
      const dsPath = (ns: string, name: string) => `/apis/apps/v1/namespaces/${ns}/daemonsets/${name}/status`;

      it('waitDaemonSetRolledOut follows a rollout written step by step to the end', async () => {
        const ns = await namespace('ds');
        await kube.applyServerSide([daemonSet(ns, 'calico-node')]);
        const gen = (
          await raw<{ metadata: { generation: number } }>(dsPath(ns, 'calico-node').replace(/\/status$/, ''))
        ).metadata.generation;
        const status = (s: Record<string, number>) =>
          server.apiOk('PATCH', dsPath(ns, 'calico-node'), {
            status: {
              currentNumberScheduled: 0,
              numberMisscheduled: 0,
              desiredNumberScheduled: 0,
              numberReady: 0,
              ...s,
            },
          });
        await status({ observedGeneration: gen - 1, desiredNumberScheduled: 3, currentNumberScheduled: 3 });
        let finalWriteAt = Number.POSITIVE_INFINITY;
        const steps = (async () => {
          await new Promise((r) => setTimeout(r, 600));
          await status({
            observedGeneration: gen,
            desiredNumberScheduled: 3,
            currentNumberScheduled: 3,
            updatedNumberScheduled: 1,
            numberReady: 1,
            numberAvailable: 1,
          });
          await new Promise((r) => setTimeout(r, 600));
          finalWriteAt = Date.now();
          await status({
            observedGeneration: gen,
            desiredNumberScheduled: 3,
            currentNumberScheduled: 3,
            updatedNumberScheduled: 3,
            numberReady: 3,
            numberAvailable: 3,
          });
        })();
        await kube.waitDaemonSetRolledOut(ns, 'calico-node', { timeoutMs: 30_000, intervalMs: 100 });
        const resolvedAt = Date.now();
        await steps;
        // it returned only once the last step was written: not at the stale generation, not at 1 of 3
        expect(resolvedAt).toBeGreaterThanOrEqual(finalWriteAt);
      });

      it('a DaemonSet stuck on ImagePullBackOff times out naming the image, the reason and the events', async () => {
        const ns = await namespace('pull');
        await kube.applyServerSide([daemonSet(ns, 'calico-node')]);
        const gen = (
          await raw<{ metadata: { generation: number } }>(
            `/apis/apps/v1/namespaces/${ns}/daemonsets/calico-node`,
          )
        ).metadata.generation;
        await server.apiOk('PATCH', dsPath(ns, 'calico-node'), {
          status: {
            observedGeneration: gen,
            desiredNumberScheduled: 2,
            currentNumberScheduled: 2,
            updatedNumberScheduled: 2,
            numberReady: 1,
            numberAvailable: 1,
            numberMisscheduled: 0,
          },
        });
        await kube.applyServerSide([
          pod(ns, 'calico-node-ok', { 'k8s-app': 'calico-node' }, 'w1'),
          pod(ns, 'calico-node-x1', { 'k8s-app': 'calico-node' }, 'w2'),
        ]);
        await podStatus(ns, 'calico-node-ok', running());
        await podStatus(ns, 'calico-node-x1', {
          phase: 'Pending',
          containerStatuses: [
            containerStatus('main', {
              waiting: {
                reason: 'ImagePullBackOff',
                message: 'Back-off pulling image "docker.io/calico/node:v3.24.0"',
              },
            }),
          ],
        });
        await server.apiOk(
          'POST',
          `/api/v1/namespaces/${ns}/events`,
          {
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { name: 'calico-node-x1.pull', namespace: ns },
            type: 'Warning',
            reason: 'Failed',
            message: 'Failed to pull image "docker.io/calico/node:v3.24.0": toomanyrequests',
            involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'calico-node-x1', namespace: ns },
            source: { component: 'kubelet', host: 'w2' },
            firstTimestamp: new Date().toISOString(),
            lastTimestamp: new Date().toISOString(),
            count: 3,
          },
          'application/json',
        );
        const err = await kube
          .waitDaemonSetRolledOut(ns, 'calico-node', { timeoutMs: 500, intervalMs: 100 })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WaitTimeoutError);
        const msg = (err as Error).message;
        expect(msg).toContain(`waiting for DaemonSet ${ns}/calico-node to roll out`);
        expect(msg).toContain('desired=2 updated=2 ready=1 available=1');
        expect(msg).toContain(
          'container main waiting: ImagePullBackOff (image docker.io/calico/node:v3.24.0)',
        );
        expect(msg).toContain('image pulls failing: docker.io/calico/node:v3.24.0: ImagePullBackOff');
        expect(msg).toContain('Warning Failed Pod/calico-node-x1 (x3)');
        expect(msg).not.toContain('calico-node-ok');
      });

      it('waitDeploymentAvailable needs the Available condition and the replicas', async () => {
        const ns = await namespace('deploy');
        await kube.applyServerSide([
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: 'tigera-operator', namespace: ns },
            spec: {
              replicas: 1,
              selector: { matchLabels: { name: 'tigera-operator' } },
              template: {
                metadata: { labels: { name: 'tigera-operator' } },
                spec: { containers: [{ name: 'main', image: 'quay.io/tigera/operator:v1.40.0' }] },
              },
            },
          } as KubernetesObject,
        ]);
        const path = `/apis/apps/v1/namespaces/${ns}/deployments/tigera-operator/status`;
        await server.apiOk('PATCH', path, {
          status: {
            observedGeneration: 1,
            replicas: 1,
            updatedReplicas: 1,
            availableReplicas: 0,
            unavailableReplicas: 1,
            conditions: [
              {
                type: 'Available',
                status: 'False',
                reason: 'MinimumReplicasUnavailable',
                message: 'Deployment does not have minimum availability.',
              },
            ],
          },
        });
        await expect(
          kube.waitDeploymentAvailable(ns, 'tigera-operator', { timeoutMs: 300, intervalMs: 100 }),
        ).rejects.toThrow(
          /Available=False \(MinimumReplicasUnavailable: Deployment does not have minimum availability.\)/,
        );
        await server.apiOk('PATCH', path, {
          status: {
            readyReplicas: 1,
            availableReplicas: 1,
            unavailableReplicas: 0,
            conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
          },
        });
        await kube.waitDeploymentAvailable(ns, 'tigera-operator', { timeoutMs: 5000, intervalMs: 100 });
      });

      it.skipIf(!labManifests() && process.env.REQUIRE_LAB !== '1')(
        'waitTigeraStatusAvailable over the real TigeraStatus CRD: every named status, the missing and degraded ones reported, an operator stuck on pulls named',
        async () => {
          const m = labManifests();
          if (!m) throw new Error('REQUIRE_LAB=1 but no manifests of the lab Calico version');
          const crd = parseManifest(readFileSync(m.path('operator-crds.yaml'), 'utf8')).filter(
            (d) => d.metadata?.name === 'tigerastatuses.operator.tigera.io',
          );
          expect(crd).toHaveLength(1);
          await kube.applyServerSide(crd);
          const names = { calico: fresh('calico'), apiserver: fresh('apiserver'), missing: fresh('ippools') };
          await kube.applyServerSide(
            [names.calico, names.apiserver].map(
              (name) =>
                ({
                  apiVersion: 'operator.tigera.io/v1',
                  kind: 'TigeraStatus',
                  metadata: { name },
                  spec: {},
                }) as KubernetesObject,
            ),
          );
          const write = (name: string, conditions: object[]) =>
            server.apiOk('PATCH', `/apis/operator.tigera.io/v1/tigerastatuses/${name}/status`, {
              status: { conditions },
            });
          const now = new Date().toISOString();
          await write(names.calico, [
            {
              type: 'Available',
              status: 'True',
              lastTransitionTime: now,
              reason: 'AllObjectsAvailable',
              message: 'All objects available',
            },
            {
              type: 'Degraded',
              status: 'False',
              lastTransitionTime: now,
              reason: 'AllObjectsAvailable',
              message: '',
            },
          ]);
          await write(names.apiserver, [
            {
              type: 'Available',
              status: 'False',
              lastTransitionTime: now,
              reason: 'ResourceNotReady',
              message: '',
            },
            {
              type: 'Degraded',
              status: 'True',
              lastTransitionTime: now,
              reason: 'ResourceNotReady',
              message: 'Waiting for calico-apiserver',
            },
          ]);
          const err = await kube
            .waitTigeraStatusAvailable([names.calico, names.apiserver, names.missing], {
              timeoutMs: 300,
              intervalMs: 100,
            })
            .catch((e: unknown) => e);
          const msg = (err as Error).message;
          expect(msg).toContain(
            `${names.apiserver}: Available=False (ResourceNotReady), Degraded=True (ResourceNotReady: Waiting for calico-apiserver)`,
          );
          expect(msg).toContain(`${names.missing}: not created yet`);
          await kube.waitTigeraStatusAvailable([names.calico], { timeoutMs: 5000, intervalMs: 100 });

          // the user guide's failure: the operator's calico-node cannot pull its images; the timeout names them
          const stuck = fresh('calico');
          await kube.applyServerSide([
            {
              apiVersion: 'operator.tigera.io/v1',
              kind: 'TigeraStatus',
              metadata: { name: stuck },
              spec: {},
            } as never,
          ]);
          await write(stuck, [
            {
              type: 'Available',
              status: 'False',
              lastTransitionTime: now,
              reason: 'ResourceNotReady',
              message: '',
            },
            {
              type: 'Progressing',
              status: 'True',
              lastTransitionTime: now,
              reason: 'ResourceNotReady',
              message: 'DaemonSet "calico-system/calico-node" is not available',
            },
          ]);
          await ensureNamespace('calico-system');
          const podName = fresh('calico-node');
          await kube.applyServerSide([
            {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: podName, namespace: 'calico-system', labels: { 'k8s-app': 'calico-node' } },
              spec: {
                nodeName: 'w1',
                automountServiceAccountToken: false,
                initContainers: [{ name: 'install-cni', image: 'docker.io/calico/cni:v3.29.7' }],
                containers: [{ name: 'calico-node', image: 'docker.io/calico/node:v3.29.7' }],
              },
            } as KubernetesObject,
          ]);
          await podStatus('calico-system', podName, {
            phase: 'Pending',
            initContainerStatuses: [
              {
                ...containerStatus('install-cni', {
                  waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' },
                }),
                image: 'docker.io/calico/cni:v3.29.7',
              },
            ],
            containerStatuses: [
              {
                ...containerStatus('calico-node', { waiting: { reason: 'PodInitializing' } }),
                image: 'docker.io/calico/node:v3.29.7',
              },
            ],
          });
          const pulls = await kube
            .waitTigeraStatusAvailable([stuck], { timeoutMs: 300, intervalMs: 100 })
            .catch((e: unknown) => e);
          const said = (pulls as Error).message;
          expect(said).toContain(
            `${stuck}: Available=False (ResourceNotReady), Progressing=True (ResourceNotReady: DaemonSet "calico-system/calico-node" is not available)`,
          );
          expect(said).toContain(
            `calico-system/${podName}: phase=Pending; node=w1; init container install-cni waiting: ImagePullBackOff (image docker.io/calico/cni:v3.29.7)`,
          );
          expect(said).toMatch(
            /image pulls failing: docker.io\/calico\/cni:v3.29.7: ImagePullBackOff \(try --image-registry/,
          );
        },
        60_000,
      );

      it('waitPodsReady needs at least one pod and all of them Ready', async () => {
        const ns = await namespace('pods');
        await expect(
          kube.waitPodsReady(ns, 'k8s-app=kube-dns', { timeoutMs: 300, intervalMs: 100 }),
        ).rejects.toThrow(/no pods match yet/);
        await kube.applyServerSide([pod(ns, 'coredns-1', { 'k8s-app': 'kube-dns' }, 'w1')]);
        await podStatus(ns, 'coredns-1', running());
        await kube.waitPodsReady(ns, 'k8s-app=kube-dns', { timeoutMs: 5000, intervalMs: 100 });
        // an unscheduled pod (no nodeName: the scheduler would set PodScheduled=False)
        await kube.applyServerSide([pod(ns, 'coredns-2', { 'k8s-app': 'kube-dns' })]);
        await podStatus(ns, 'coredns-2', {
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/2 nodes are available',
              lastTransitionTime: new Date().toISOString(),
            },
          ],
        });
        await expect(
          kube.waitPodsReady(ns, 'k8s-app=kube-dns', { timeoutMs: 300, intervalMs: 100 }),
        ).rejects.toThrow(
          new RegExp(
            `1/2 Ready; ${ns}/coredns-2: phase=Pending; PodScheduled=False \\(Unschedulable: 0/2 nodes are available\\)`,
          ),
        );
      });

      it('waitNodesReady reports the NotReady nodes with the kubelet reason (Node objects without kubelets)', async () => {
        const [cp, w1] = [fresh('cp'), fresh('w1')];
        // the nodes of other tests would count too: wait for "count" of a fresh set by name only in the message
        await kube.create([
          { apiVersion: 'v1', kind: 'Node', metadata: { name: cp } },
          { apiVersion: 'v1', kind: 'Node', metadata: { name: w1 } },
        ]);
        const now = new Date().toISOString();
        const ready = (name: string, status: 'True' | 'False', reason: string, message: string) =>
          server.apiOk('PATCH', `/api/v1/nodes/${name}/status`, {
            status: {
              conditions: [
                { type: 'Ready', status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now },
                {
                  type: 'NetworkUnavailable',
                  status: 'False',
                  reason: 'CalicoIsUp',
                  message: '',
                  lastHeartbeatTime: now,
                  lastTransitionTime: now,
                },
              ],
            },
          });
        try {
          await ready(cp, 'True', 'KubeletReady', 'kubelet is posting ready status');
          await ready(
            w1,
            'False',
            'KubeletNotReady',
            'container runtime network not ready: cni plugin not initialized',
          );
          const err = await kube.waitNodesReady({ timeoutMs: 300, intervalMs: 100 }).catch((e: unknown) => e);
          expect((err as Error).message).toMatch(
            new RegExp(
              `1/2 Ready; ${w1}: Ready=False \\(KubeletNotReady: container runtime network not ready: cni plugin not initialized\\), NetworkUnavailable=False \\(CalicoIsUp\\)`,
            ),
          );
          await expect(kube.waitNodesReady({ timeoutMs: 300, intervalMs: 100, count: 3 })).rejects.toThrow(
            /3 nodes to be Ready/,
          );
          await ready(w1, 'True', 'KubeletReady', 'kubelet is posting ready status');
          await kube.waitNodesReady({ timeoutMs: 5000, intervalMs: 100, count: 2 });
        } finally {
          await kube.delete([
            { apiVersion: 'v1', kind: 'Node', name: cp },
            { apiVersion: 'v1', kind: 'Node', name: w1 },
          ]);
        }
      });

      it('a waiter stops at once when its signal aborts', async () => {
        const ac = new AbortController();
        setTimeout(() => ac.abort(new Error('interrupted')), 300);
        const started = Date.now();
        await expect(
          kube.waitNodesReady({ timeoutMs: 60_000, count: 99, signal: ac.signal }),
        ).rejects.toThrow(/interrupted/);
        expect(Date.now() - started).toBeLessThan(5000);
      });
    });

    describe('an API server that takes requests and answers none (its etcd frozen)', () => {
      it('a waiter still ends at its timeout (plus the look grace), saying the API server did not answer', async () => {
        // its own server: freezing the shared one's etcd would stall every other test
        const hung = await RealApiServer.start({ etcd: bins.etcd, kubeApiserver: bins.kubeApiserver });
        try {
          const k = new ClientNodeKube(hung.kubeConfig());
          await k.waitNodesReady({ timeoutMs: 300, intervalMs: 100 }).catch(() => undefined); // discovery cached
          hung.freeze('etcd');
          // the server really hangs: a plain request gets no answer in 10 s (it would answer after 60 s)
          await expect(hung.api('GET', '/api/v1/nodes')).rejects.toThrow(/no answer to GET .* within 10 s/);
          const started = Date.now();
          const err = await k.waitNodesReady({ timeoutMs: 2000, intervalMs: 200 }).catch((e: unknown) => e);
          const took = Date.now() - started;
          expect(err).toBeInstanceOf(WaitTimeoutError);
          expect((err as Error).message).toMatch(
            /timed out after 2s waiting for all nodes to be Ready; last seen: no answer from the API server \(a request still pending after/,
          );
          // the deadline (2 s) or the 5 s grace for one look, never the API server's 60 s request timeout
          expect(took).toBeLessThan(9000);
        } finally {
          await hung.stop();
        }
      }, 120_000);
    });

    describe('exec: what the API server decides before it would reach a kubelet', () => {
      it('no container named on a two-container pod, a container the pod lacks: HTTP 400; no such pod: HTTP 404 — failures, not exit codes', async () => {
        const ns = await namespace('exec');
        await kube.applyServerSide([pod(ns, 'a', {}, 'w1', ['cont-80', 'cont-81'])]);
        const none = await kube.exec({ namespace: ns, name: 'a' }, ['true'], { timeoutMs: 5000 });
        expect(none).toMatchObject({ exitCode: -1, timedOut: false });
        expect(none.failure).toMatch(/HTTP 400/);
        const wrong = await kube.exec({ namespace: ns, name: 'a', container: 'client' }, ['true'], {
          timeoutMs: 5000,
        });
        expect(wrong).toMatchObject({ exitCode: -1, timedOut: false });
        expect(wrong.failure).toMatch(/HTTP 400/);
        const gone = await kube.exec({ namespace: ns, name: 'nope' }, ['true'], { timeoutMs: 5000 });
        expect(gone).toMatchObject({ exitCode: -1, timedOut: false });
        expect(gone.failure).toMatch(/HTTP 404/);
        // and what the API server says in words (the Status the websocket refusal hides from the client)
        const say = async (q: string) =>
          (await server.api('GET', `/api/v1/namespaces/${ns}/pods/${q}`)).body as { message?: string };
        expect((await say('a/exec?command=true&stdout=true')).message).toBe(
          'a container name must be specified for pod a, choose one of: [cont-80 cont-81]',
        );
        expect((await say('a/exec?command=true&stdout=true&container=client')).message).toBe(
          'container client is not valid for pod a',
        );
      });

      it('a pod that is not scheduled, or whose node does not exist, is a failure (-1), never an exit code', async () => {
        const ns = await namespace('exec2');
        await kube.applyServerSide([pod(ns, 'unscheduled', {}), pod(ns, 'lost', {}, fresh('no-such-node'))]);
        for (const name of ['unscheduled', 'lost']) {
          const r = await kube.exec({ namespace: ns, name }, ['true'], { timeoutMs: 5000 });
          expect(r, name).toMatchObject({ exitCode: -1, timedOut: false });
          expect(r.failure, name).toMatch(/HTTP \d{3}/);
        }
      });

      // Exit codes, the in-pod timeout and streams need a kubelet, which this API server has none of: the
      // fake API server tests the status channel (test/unit/kube/client.test.ts), and the real tier's first
      // cell execs every probe through real kubelets (test/real/first-cell.test.ts).
    });
  },
);

/** A CRD written in code, as the harness would get it from a manifest (parseManifest of its YAML). */
function crdDoc<T extends object>(crd: T): T & KubernetesObject {
  const [doc] = parseManifest(stringify(crd), 'test CRD');
  return doc as T & KubernetesObject;
}

interface RawObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: unknown;
}

/** A manifest's objects exactly as written (the yaml package, not client-node's typed models). */
function rawDocs(path: string): RawObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as RawObject | null)
    .filter((o): o is RawObject => !!o && typeof o === 'object' && !!o.kind);
}

/** The biggest CRD of a file and the size of its JSON (what kubectl's last-applied annotation would hold). */
function biggestCrd(path: string): { doc: RawObject; bytes: number } {
  const all = rawDocs(path)
    .filter((d) => d.kind === 'CustomResourceDefinition')
    .map((doc) => ({ doc, bytes: Buffer.byteLength(JSON.stringify(doc)) }))
    .sort((a, b) => b.bytes - a.bytes);
  if (!all[0]) throw new Error(`${path} has no CustomResourceDefinition`);
  return all[0];
}

function refOfDoc(d: KubernetesObject): ObjectRef {
  return {
    apiVersion: d.apiVersion ?? '',
    kind: d.kind ?? '',
    name: d.metadata?.name ?? '',
    ...(d.metadata?.namespace ? { namespace: d.metadata.namespace } : {}),
  };
}

function pod(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  nodeName?: string,
  containers: string[] = ['main'],
): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      automountServiceAccountToken: false,
      containers: containers.map((c) => ({ name: c, image: 'docker.io/calico/node:v3.24.0' })),
    },
  } as KubernetesObject;
}

function daemonSet(namespace: string, name: string): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { 'k8s-app': name } },
      template: {
        metadata: { labels: { 'k8s-app': name } },
        spec: { containers: [{ name: 'main', image: 'docker.io/calico/node:v3.24.0' }] },
      },
    },
  } as KubernetesObject;
}

function running(): object {
  const now = new Date().toISOString();
  return {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
    containerStatuses: [containerStatus('main', { running: { startedAt: now } }, true)],
  };
}

function containerStatus(name: string, state: object, ready = false): object {
  return { name, image: 'docker.io/calico/node:v3.24.0', imageID: '', ready, restartCount: 0, state };
}
