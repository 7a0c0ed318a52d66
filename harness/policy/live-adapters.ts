/**
 * The runner's two ports onto a live cluster, as thin adapters over harness/kube and harness/probe (typed
 * structurally, so tests pass doubles at the same boundary):
 *
 * - KubePolicyApplier: server-side apply / delete through the KubeClient. Calico `projectcalico.org/v3`
 *   objects go through the same API when the Calico API server runs (operator install), but with a plain
 *   create: server-side apply of Calico policies has failed in released API servers ("no serializer
 *   defined for application/yaml", projectcalico/calico#4959; NotFound on create-by-apply in v3.32.0,
 *   projectcalico/calico#12841, fixed by #12906), while create works everywhere. On the manifest path, where
 *   there is no Calico API server, they go through a user-supplied `calicoctl` (CalicoctlApplier).
 * - ProberPolicyProber: one probe round of the batched prober (one exec per source pod) from the model's
 *   pods to the others' IPs. A round in which some execs failed returns what finished; the runner counts
 *   the missing cells as infrastructure errors, never as denies.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { type ProcessRunner, runChecked } from '../exec/process.js';
import type { KubeClient } from '../kube/client.js';
import type { ProbeKey, ProbeRecord } from '../model/connectivity.js';
import type { PodRef } from '../probe/executor.js';
import type { ProbeRequest } from '../probe/prober.js';
import type { PolicyApplier, PolicyProber } from './runner.js';
import { policiesYaml } from './runner.js';
import type { PolicyModel } from './types.js';

const isCalico = (d: object) => (d as { apiVersion?: string }).apiVersion === 'projectcalico.org/v3';

/** Applies/removes Calico policy with calicoctl against the cluster's Kubernetes datastore. */
export class CalicoctlApplier implements PolicyApplier {
  constructor(
    private readonly calicoctl: string,
    private readonly kubeconfigPath: string,
    private readonly runner: ProcessRunner,
    private readonly timeoutMs = 60_000,
  ) {}

  private async run(verb: 'apply' | 'delete', docs: object[]): Promise<void> {
    if (docs.length === 0) return;
    const dir = mkdtempSync(join(tmpdir(), 'calico-conformance-calicoctl-'));
    try {
      // calicoctl reads its datastore from a CalicoAPIConfig file (docs.tigera.io … calicoctl/configure/kdd)
      const config = join(dir, 'calicoctl.yaml');
      writeFileSync(
        config,
        stringify({
          apiVersion: 'projectcalico.org/v3',
          kind: 'CalicoAPIConfig',
          metadata: {},
          spec: { datastoreType: 'kubernetes', kubeconfig: this.kubeconfigPath },
        }),
      );
      const file = join(dir, 'policies.yaml');
      writeFileSync(file, policiesYaml(docs));
      const args = [verb, '-f', file, `--config=${config}`];
      if (verb === 'delete') args.push('--skip-not-exists');
      await runChecked(
        this.runner,
        `calicoctl ${verb} of ${docs.length} Calico policies`,
        this.calicoctl,
        args,
        {
          timeoutMs: this.timeoutMs,
          hint: 'calicoctl must match the cluster Calico version and reach the cluster with the given kubeconfig',
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  apply(docs: object[]): Promise<void> {
    return this.run('apply', docs);
  }
  remove(docs: object[]): Promise<void> {
    return this.run('delete', docs);
  }
}

export type PolicyKube = Pick<KubeClient, 'applyServerSide' | 'create' | 'delete'>;

export class KubePolicyApplier implements PolicyApplier {
  /** `calico`: where projectcalico.org/v3 objects go; default the Kubernetes API (Calico API server) */
  constructor(
    private readonly kube: PolicyKube,
    private readonly calico?: PolicyApplier,
  ) {}

  async apply(docs: object[]): Promise<void> {
    const k8s = docs.filter((d) => !isCalico(d));
    const calico = docs.filter(isCalico);
    if (k8s.length) await this.kube.applyServerSide(k8s as KubernetesObject[]);
    if (calico.length === 0) return;
    if (this.calico) await this.calico.apply(calico);
    else await this.kube.create(calico as KubernetesObject[]);
  }

  async remove(docs: object[]): Promise<void> {
    const k8s = this.calico ? docs.filter((d) => !isCalico(d)) : docs;
    if (k8s.length) await this.kube.delete(k8s as KubernetesObject[]);
    if (this.calico) await this.calico.remove(docs.filter(isCalico));
  }
}

/** The one method of the prober this adapter needs. */
export interface RoundProber {
  round(requests: readonly ProbeRequest[], signal?: AbortSignal): Promise<ProbeRecord[]>;
}

export class ProberPolicyProber implements PolicyProber {
  private readonly pods: Map<string, { ref: PodRef; ip: string; name: string }>;

  /**
   * `model` must be the live model (real namespace names and pod IPs); `container` is the container of each
   * model pod the probes exec into (the pods have several, and the API server refuses an exec without one)
   */
  constructor(
    private readonly prober: RoundProber,
    model: PolicyModel,
    container: string,
    private readonly signal?: AbortSignal,
  ) {
    if (!container) throw new Error('ProberPolicyProber: a container name is needed for the probe execs');
    this.pods = new Map(
      model.pods.map((p) => [
        `${p.namespace}/${p.name}`,
        { ref: { namespace: p.namespace, name: p.name, container }, ip: p.ip, name: p.name },
      ]),
    );
  }

  async probe(keys: ProbeKey[]): Promise<ProbeRecord[]> {
    const requests: ProbeRequest[] = keys.map((k) => {
      const from = this.pods.get(k.from);
      const to = this.pods.get(k.to);
      if (!from || !to) throw new Error(`probe ${k.from} → ${k.to}: not a pod of the model`);
      // netexec answers /hostname (TCP) and "hostname" (UDP) with the pod name: the right pod answered
      return { ...k, source: from.ref, host: to.ip, expectName: to.name, check: 'policy' };
    });
    try {
      return await this.prober.round(requests, this.signal);
    } catch (err) {
      // ProbeRoundError: some execs failed; keep what finished (the rest count as infrastructure errors)
      const completed = (err as { completed?: ProbeRecord[] }).completed;
      if (Array.isArray(completed)) return completed;
      throw err;
    }
  }
}
