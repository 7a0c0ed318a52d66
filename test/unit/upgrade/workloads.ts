/** A DaemonSet/Deployment snapshot with n ready pods running `images` (the upgrade tests' cluster double). */
import type { WorkloadSnapshot } from '../../../harness/upgrade/deps.js';

export function workload(
  namespace: string,
  kind: 'DaemonSet' | 'Deployment',
  name: string,
  images: string[],
  n = 3,
  over: Partial<WorkloadSnapshot> = {},
): WorkloadSnapshot {
  return {
    namespace,
    kind,
    name,
    generation: 2,
    observedGeneration: 2,
    desired: n,
    updated: n,
    ready: n,
    templateImages: images,
    pods: Array.from({ length: n }, (_, i) => ({
      name: `${name}-${i}`,
      images,
      ready: true,
      terminating: false,
    })),
    ...over,
  };
}
