/**
 * The command a person pastes to repeat one failed probe by hand: the in-pod argv per probe mode, and the
 * `kubectl exec` / `docker exec` line around it. Quoting is checked by handing the line to a real POSIX sh
 * (with `kubectl` and `docker` as shell functions that print their arguments), which is what a paste does.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { kubectlExecCommand, probeArgv } from '../../../harness/probe/command.js';
import { DockerPodExecutor } from '../../../harness/probe/executor.js';
import { KubePodExecutor } from '../../../harness/probe/kube-executor.js';
import type { ScriptProbe } from '../../../harness/probe/script.js';

/** The words a POSIX sh makes of `line`, with `kubectl`/`docker` as functions printing their argv. */
function wordsOf(line: string): string[] {
  const out = execFileSync(
    'sh',
    [
      '-c',
      // each word NUL-terminated, so newlines and spaces inside a word survive
      `kubectl() { printf 'kubectl\\0'; printf '%s\\0' "$@"; }; docker() { printf 'docker\\0'; printf '%s\\0' "$@"; }; eval "$1"`,
      'sh',
      line,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\0').slice(0, -1);
}

const probe = (p: Partial<ScriptProbe>): ScriptProbe => ({
  mode: 'tcp',
  host: '10.244.1.7',
  port: 80,
  arg: 0,
  timeoutSeconds: 1,
  ...p,
});

describe('probeArgv: the in-pod command of one probe', () => {
  it('TCP: openbsd nc connects and says whether it could (the tool the probe script uses)', () => {
    expect(probeArgv(probe({}))).toEqual(['nc', '-v', '-z', '-w', '1', '10.244.1.7', '80']);
  });

  it('UDP: a "hostname" datagram through nc, which prints the name of whoever answered', () => {
    expect(probeArgv(probe({ mode: 'udp', port: 81, timeoutSeconds: 2 }))).toEqual([
      'sh',
      '-c',
      'echo hostname | nc -u -W 1 -w 2 10.244.1.7 81',
    ]);
  });

  it('clientip, upload and ping: curl and ping as the script runs them, for that one probe', () => {
    expect(probeArgv(probe({ mode: 'clientip', host: '172.18.0.9', port: 8080, timeoutSeconds: 2 }))).toEqual(
      ['curl', '-sS', '-m', '2', 'http://172.18.0.9:8080/clientip'],
    );
    expect(probeArgv(probe({ mode: 'xfer', arg: 1048576, timeoutSeconds: 20 }))).toEqual([
      'sh',
      '-c',
      'head -c 1048576 /dev/zero | curl -sS -m 20 -F file=@- http://10.244.1.7:80/upload',
    ]);
    expect(probeArgv(probe({ mode: 'ping', port: 1, arg: 1422, timeoutSeconds: 2 }))).toEqual([
      'ping',
      '-c',
      '1',
      '-W',
      '2',
      '-s',
      '1422',
      '10.244.1.7',
    ]);
  });

  it('refuses what the probe script would refuse (a host that is not an address or DNS name)', () => {
    expect(() => probeArgv(probe({ host: '$(reboot)' }))).toThrow(/host: "\$\(reboot\)" is not an IPv4/);
  });
});

describe('kubectlExecCommand', () => {
  it('names namespace, pod and container, and the kubeconfig when it is known', () => {
    const argv = probeArgv(probe({}));
    expect(kubectlExecCommand({ namespace: 'x', pod: 'a', container: 'cont-80' }, argv)).toBe(
      'kubectl exec -n x a -c cont-80 -- nc -v -z -w 1 10.244.1.7 80',
    );
    expect(
      kubectlExecCommand(
        { namespace: 'cc-p-x', pod: 'a', container: 'cont-80', kubeconfig: '/tmp/cc-1/kubeconfig' },
        probeArgv(probe({ mode: 'udp' })),
      ),
    ).toBe(
      "kubectl --kubeconfig /tmp/cc-1/kubeconfig exec -n cc-p-x a -c cont-80 -- sh -c 'echo hostname | nc -u -W 1 -w 1 10.244.1.7 80'",
    );
  });

  it('quotes odd names so that a shell gives kubectl exactly the intended words', () => {
    const target = {
      namespace: "it's ns",
      pod: '$(touch /tmp/pwned) `id`',
      container: 'a"b\\c',
      kubeconfig: "/tmp/my dir/it's $HOME/*/kc\nsecond line",
    };
    const argv = probeArgv(probe({ mode: 'udp' }));
    const line = kubectlExecCommand(target, argv);
    expect(wordsOf(line)).toEqual([
      'kubectl',
      '--kubeconfig',
      target.kubeconfig,
      'exec',
      '-n',
      target.namespace,
      target.pod,
      '-c',
      target.container,
      '--',
      ...argv,
    ]);
  });

  it('leaves -c out only when the pod names no container', () => {
    expect(kubectlExecCommand({ namespace: 'x', pod: 'a' }, ['true'])).toBe('kubectl exec -n x a -- true');
  });
});

describe('PodExecutor.commandFor: the command matches how the executor reaches the pod', () => {
  it('KubePodExecutor: kubectl exec, with the kubeconfig the client was loaded from', () => {
    const kube = { exec: async () => ({ exitCode: 0, stdout: '', stderr: '', timedOut: false }) };
    const pod = { namespace: 'probes', name: 'client-n0', container: 'client' };
    expect(new KubePodExecutor(kube).commandFor(pod, ['true'])).toBe(
      'kubectl exec -n probes client-n0 -c client -- true',
    );
    expect(new KubePodExecutor({ ...kube, kubeconfigPath: '/k c' }).commandFor(pod, ['true'])).toBe(
      "kubectl --kubeconfig '/k c' exec -n probes client-n0 -c client -- true",
    );
    expect(new KubePodExecutor(kube, { kubeconfigPath: '/run/kc' }).commandFor(pod, ['true'])).toBe(
      'kubectl --kubeconfig /run/kc exec -n probes client-n0 -c client -- true',
    );
  });

  it('DockerPodExecutor: docker exec into the container (and its network namespace), quoted', () => {
    const ex = new DockerPodExecutor()
      .register({ namespace: 'p', name: 'c0' }, { container: 'cc-node 0', netns: "c0's" })
      .register({ namespace: 'p', name: 'h0' }, { container: 'cc-node0' });
    const argv = probeArgv(probe({ mode: 'udp' }));
    const line = ex.commandFor({ namespace: 'p', name: 'c0' }, argv);
    expect(wordsOf(line!)).toEqual(['docker', 'exec', 'cc-node 0', 'ip', 'netns', 'exec', "c0's", ...argv]);
    expect(ex.commandFor({ namespace: 'p', name: 'h0' }, ['true'])).toBe('docker exec cc-node0 true');
    expect(ex.commandFor({ namespace: 'p', name: 'nowhere' }, ['true'])).toBeUndefined();
  });
});
