/**
 * A KubeClient double that records every call in order (`apply DaemonSet kube-system/calico-node`,
 * `wait DaemonSet …`) so the flows' ordering can be asserted call by call, and lets a test make a call fail or
 * answer differently.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { DeleteResult, ExecResult, KubeClient, ListOptions } from '../../../harness/kube/client.js';
import { describeRef, type ObjectRef, refOf } from '../../../harness/kube/yaml.js';

export class RecordingKube implements KubeClient {
  readonly calls: string[] = [];
  /** called before each recorded call; throw from it to make that call fail */
  failOn: (call: string) => void = () => {};
  /** objects get() finds (by `Kind name`) */
  present = new Set<string>();
  /** list() answers per `apiVersion Kind` */
  lists = new Map<string, KubernetesObject[]>();

  private record(call: string): void {
    this.calls.push(call);
    this.failOn(call);
  }

  async applyServerSide(docs: readonly KubernetesObject[]): Promise<ObjectRef[]> {
    // the real client orders CRDs first, then Namespaces; the double records the file as one call
    this.record(`apply ${docs.length} objects [${[...new Set(docs.map((d) => d.kind))].join(',')}]`);
    return docs.map(refOf);
  }
  async create(docs: readonly KubernetesObject[]): Promise<ObjectRef[]> {
    this.record(`create ${docs.length}`);
    return docs.map(refOf);
  }
  async delete(
    docs: readonly (KubernetesObject | ObjectRef)[],
    opts: { propagation?: string } = {},
  ): Promise<DeleteResult> {
    const refs = docs.map(refOf);
    this.record(`delete ${opts.propagation ?? 'default'} ${refs.map(describeRef).join(', ')}`);
    return { deleted: refs, absent: [] };
  }
  async waitGone(
    docs: readonly (KubernetesObject | ObjectRef)[],
    opts: { timeoutMs?: number } = {},
  ): Promise<void> {
    this.record(`waitGone(${opts.timeoutMs}) ${docs.map(refOf).map(describeRef).join(', ')}`);
  }
  async get<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    this.record(`get ${ref.kind} ${ref.name}`);
    return this.present.has(`${ref.kind} ${ref.name}`)
      ? ({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name } } as T)
      : undefined;
  }
  async list<T extends KubernetesObject = KubernetesObject>(
    apiVersion: string,
    kind: string,
    _opts?: ListOptions,
  ): Promise<T[]> {
    this.record(`list ${kind}`);
    return (this.lists.get(`${apiVersion} ${kind}`) ?? []) as T[];
  }
  async waitCrdsEstablished(names: readonly string[]): Promise<void> {
    this.record(`wait CRDs Established (${names.length})`);
  }
  async waitDaemonSetRolledOut(ns: string, name: string): Promise<void> {
    this.record(`wait DaemonSet ${ns}/${name}`);
  }
  async waitDeploymentAvailable(ns: string, name: string): Promise<void> {
    this.record(`wait Deployment ${ns}/${name}`);
  }
  async waitTigeraStatusAvailable(names: readonly string[]): Promise<void> {
    this.record(`wait TigeraStatus ${names.join(',')}`);
  }
  async waitPodsReady(ns: string, selector: string): Promise<void> {
    this.record(`wait pods ${ns} ${selector}`);
  }
  async waitNodesReady(opts: { count?: number } = {}): Promise<void> {
    this.record(`wait nodes ${opts.count}`);
  }
  async exec(): Promise<ExecResult> {
    this.record('exec');
    return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
  }
}
