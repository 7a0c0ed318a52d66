/**
 * Installing Calico on a fresh cluster, by either path, in the order of the rendered cell's apply plan.
 *
 * Manifest: apply calico.yaml; wait for calico-node rolled out, calico-kube-controllers Available, every node
 * Ready, CoreDNS Ready (Calico's k8st install waits for the same three workloads: projectcalico/calico
 * node/tests/k8st/deploy_resources_on_kind_cluster.sh; docs/calico-facts.md, "Readiness in Calico's own CI").
 * Operator: CRDs (Established) → operator (Available) → custom resources → every TigeraStatus of the version
 * Available → nodes Ready, CoreDNS Ready.
 *
 * Every file is applied server-side (field manager calico-conformance, force): it creates what is absent and
 * updates what a reused cluster already has, and no object hits client-side apply's 256 KiB annotation limit.
 */
import { UsageError } from '../../errors.js';
import { parseManifest } from '../../kube/yaml.js';
import type { ApplyStep } from '../render.js';
import { type FlowContext, step, timeoutsOf } from './context.js';

export async function installCalico(ctx: FlowContext): Promise<void> {
  const t = timeoutsOf(ctx);
  const wait = { signal: ctx.signal, ...(ctx.pollIntervalMs ? { intervalMs: ctx.pollIntervalMs } : {}) };
  const waited = new Set<ApplyStep['then']>();
  if (ctx.rendered.applyPlan.length === 0)
    throw new UsageError(`the rendered cell ${ctx.cell.id} has an empty apply plan`, 'applyPlan');

  for (const s of ctx.rendered.applyPlan) {
    const file = ctx.rendered.files.find((f) => f.name === s.file);
    if (!file)
      throw new UsageError(
        `the apply plan names ${s.file} but the rendered cell has no such file (files: ${ctx.rendered.files.map((f) => f.name).join(', ')})`,
        'applyPlan',
      );
    const docs = parseManifest(file.content, file.name);
    await step(ctx, 'install', `apply ${file.name} (${docs.length} objects)`, () =>
      ctx.kube.applyServerSide(docs, { crdTimeoutMs: t.crdsMs, ...wait }),
    );
    switch (s.then) {
      case 'crds-established': {
        const names =
          s.crds ??
          docs.filter((d) => d.kind === 'CustomResourceDefinition').map((d) => d.metadata?.name ?? '');
        await step(ctx, 'install', `wait for ${names.length} CRDs Established`, () =>
          ctx.kube.waitCrdsEstablished(names, { timeoutMs: t.crdsMs, ...wait }),
        );
        break;
      }
      case 'operator-available':
        await waitOperator(ctx, t.operatorMs, wait);
        break;
      case 'tigerastatus-available':
        await waitTigeraStatus(ctx, s.tigeraStatuses ?? statusesOf(ctx), t.tigeraStatusMs, wait);
        break;
      case 'calico-node-ready':
        await waitManifestWorkloads(ctx, t.calicoNodeMs, wait);
        break;
      case undefined:
        break;
    }
    waited.add(s.then);
  }

  // The path's own readiness is required even if a plan forgot to ask for it.
  if (ctx.cell.install === 'manifest' && !waited.has('calico-node-ready'))
    await waitManifestWorkloads(ctx, t.calicoNodeMs, wait);
  if (ctx.cell.install === 'operator' && !waited.has('tigerastatus-available'))
    await waitTigeraStatus(ctx, statusesOf(ctx), t.tigeraStatusMs, wait);

  const nodes = ctx.cell.workers + 1;
  await step(ctx, 'install', `wait for ${nodes} nodes Ready`, () =>
    ctx.kube.waitNodesReady({ count: nodes, timeoutMs: t.nodesReadyMs, ...wait }),
  );
  // CoreDNS is the first pod-networked workload: Ready means the CNI gave it an address and it serves.
  await step(ctx, 'install', 'wait for CoreDNS Ready', () =>
    ctx.kube.waitPodsReady('kube-system', 'k8s-app=kube-dns', { timeoutMs: t.corednsMs, ...wait }),
  );
}

type Wait = { signal: AbortSignal | undefined; intervalMs?: number };

/**
 * The version's TigeraStatus names, plus goldmane and whisker when the rendered cell creates those CRs
 * (docs/calico-facts.md, "TigeraStatus").
 */
function statusesOf(ctx: FlowContext): string[] {
  const creates = (kind: string) =>
    ctx.rendered.objects.some((o) => o.apiVersion.startsWith('operator.tigera.io/') && o.kind === kind);
  return [
    ...ctx.version.tigeraStatuses,
    ...ctx.version.goldmaneWhiskerStatuses.filter((s) => creates(s === 'goldmane' ? 'Goldmane' : 'Whisker')),
  ];
}

async function waitOperator(ctx: FlowContext, timeoutMs: number, wait: Wait): Promise<void> {
  await step(ctx, 'install', 'wait for the tigera-operator Deployment Available', () =>
    ctx.kube.waitDeploymentAvailable('tigera-operator', 'tigera-operator', { timeoutMs, ...wait }),
  );
}

async function waitTigeraStatus(
  ctx: FlowContext,
  names: string[],
  timeoutMs: number,
  wait: Wait,
): Promise<void> {
  await step(ctx, 'install', `wait for TigeraStatus ${names.join(', ')} Available`, () =>
    ctx.kube.waitTigeraStatusAvailable(names, { timeoutMs, ...wait }),
  );
}

async function waitManifestWorkloads(ctx: FlowContext, timeoutMs: number, wait: Wait): Promise<void> {
  await step(ctx, 'install', 'wait for the calico-node DaemonSet rolled out', () =>
    ctx.kube.waitDaemonSetRolledOut('kube-system', 'calico-node', { timeoutMs, ...wait }),
  );
  await step(ctx, 'install', 'wait for calico-kube-controllers Available', () =>
    ctx.kube.waitDeploymentAvailable('kube-system', 'calico-kube-controllers', { timeoutMs, ...wait }),
  );
}
