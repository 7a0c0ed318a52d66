/**
 * The command a person pastes to repeat one probe by hand, as the Kubernetes netpol e2e logs one with each
 * probe (`kubectl exec <pod> -c <container> -n <ns> -- /agnhost connect …`, probeConnectivity in
 * test/e2e/network/netpol/kubemanager.go; it joins the words unquoted, these are quoted). The batched
 * probe script (script.ts) runs every probe of a pod at once and is ~100 lines of sh; for one probe the
 * in-pod command here is the tool that script uses for that mode, with the probe's own host, port, size
 * and timeout:
 *
 * - tcp: openbsd nc connects and says so, or names the failure (refused, timed out, no route, getaddrinfo);
 * - udp: a "hostname" datagram through nc, which prints the name of whoever answered (agnhost netexec's UDP
 *   server answers that) and ends at that first reply (`-W 1`), or prints nothing when no answer came
 *   within the timeout;
 * - clientip: curl of `/clientip` (netexec answers the source ip:port it saw); xfer: curl uploads N zero
 *   bytes to `/upload`; ping: one echo of N payload bytes (the form busybox and iputils ping both take).
 *
 * Every word goes through the one shell-quoting helper (exec/process.ts shellWord), the in-pod text of a
 * pipeline included, so odd names survive a paste.
 */
import { formatCommand, shellWord } from '../exec/process.js';
import { type ScriptProbe, validateScriptProbe } from './script.js';

const words = (argv: readonly string[]) => argv.map(shellWord).join(' ');

/** The in-pod argv that does one probe (validated as the probe script validates it). */
export function probeArgv(p: ScriptProbe): string[] {
  validateScriptProbe(p);
  const t = String(p.timeoutSeconds);
  const port = String(p.port);
  switch (p.mode) {
    case 'tcp':
      return ['nc', '-v', '-z', '-w', t, p.host, port];
    case 'udp':
      return [
        'sh',
        '-c',
        `${words(['echo', 'hostname'])} | ${words(['nc', '-u', '-W', '1', '-w', t, p.host, port])}`,
      ];
    case 'clientip':
      return ['curl', '-sS', '-m', t, `http://${p.host}:${port}/clientip`];
    case 'xfer':
      return [
        'sh',
        '-c',
        `${words(['head', '-c', String(p.arg), '/dev/zero'])} | ${words([
          'curl',
          '-sS',
          '-m',
          t,
          '-F',
          'file=@-',
          `http://${p.host}:${port}/upload`,
        ])}`,
      ];
    case 'ping':
      return ['ping', '-c', '1', '-W', t, '-s', String(p.arg), p.host];
  }
}

export interface KubectlExecTarget {
  namespace: string;
  pod: string;
  /** required by the API server on a pod with several containers */
  container?: string;
  /** the cell's kubeconfig, when known */
  kubeconfig?: string;
}

/** `kubectl [--kubeconfig K] exec -n NS POD [-c C] -- argv…`, every word shell-quoted. */
export function kubectlExecCommand(target: KubectlExecTarget, argv: readonly string[]): string {
  return formatCommand('kubectl', [
    ...(target.kubeconfig ? ['--kubeconfig', target.kubeconfig] : []),
    'exec',
    '-n',
    target.namespace,
    target.pod,
    ...(target.container ? ['-c', target.container] : []),
    '--',
    ...argv,
  ]);
}
