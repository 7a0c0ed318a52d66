/** What the lab benches share: their log, cleanup that also runs on SIGINT/SIGTERM, and their exit. */
import { execa } from 'execa';

export const log = (s: string) => process.stderr.write(`${s}\n`);

/**
 * Runs `body`, then `cleanup` once — also when SIGINT or SIGTERM arrives meanwhile (then the process exits
 * 130 after the cleanup), so a bench interrupted by hand leaves no cluster or namespaces behind.
 */
export async function withCleanup<T>(cleanup: () => Promise<void>, body: () => Promise<T>): Promise<T> {
  let done: Promise<void> | undefined;
  const once = () => (done ??= cleanup());
  const onSignal = () => void once().finally(() => process.exit(130));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body();
  } finally {
    await once();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Deletes a kind cluster (best effort, at most 5 min). */
export async function deleteKindCluster(
  kind: string,
  name: string,
  env: Record<string, string>,
): Promise<void> {
  log(`deleting ${name}`);
  await execa(kind, ['delete', 'cluster', '--name', name], { env, reject: false, timeout: 5 * 60_000 });
}

/** A bench's entry point: exits with what `main` returns, or 2 with its error. */
export function runBench(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`${name}: ${(err as Error).message}`);
      process.exit(2);
    },
  );
}
