/**
 * The in-pod probe script in the userland of the real probe pods: agnhost is Alpine, so `sh`, `timeout`,
 * `ping` and the small tools are busybox applets, next to openbsd nc. Here busybox's applets come first on
 * PATH in a test node container (Debian's busybox package), so the script meets busybox `timeout` (a
 * timed-out command exits 143, not 124) and busybox `ping` (no -M: DF is not forced).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DockerPodExecutor, type PodExecutor } from '../../../harness/probe/executor.js';
import { type ProbeRequest, Prober } from '../../../harness/probe/prober.js';
import { PROBE_END, parseScriptOutput, sessionArgv } from '../../../harness/probe/script.js';
import { ProbeSession } from '../../../harness/probe/session.js';
import { DockerTestBed, describeDocker, type TestNode } from '../../support/docker.js';

const BUSYBOX_PATH = 'PATH=/opt/busybox:/usr/bin:/bin:/usr/sbin:/sbin';

describeDocker('probe script under busybox applets (as in the agnhost image)', () => {
  const bed = new DockerTestBed();
  let node: TestNode;
  let prober: Prober;
  const pod = { namespace: 'probes', name: 'alpine-like', container: 'client' };

  beforeAll(async () => {
    node = await bed.node('alpine-like', { isolated: true });
    await node.sh(['sh', '-c', 'mkdir -p /opt/busybox && busybox --install -s /opt/busybox']);
    // UDP port 9 on this host drops silently: the probe can only end by its in-pod timeout
    await node.sh(['iptables', '-A', 'OUTPUT', '-p', 'udp', '--dport', '9', '-j', 'DROP']);
    const docker = new DockerPodExecutor().register(pod, { container: node.container });
    const busybox: PodExecutor = {
      exec: (p, argv, opts) => docker.exec(p, ['env', BUSYBOX_PATH, ...argv], opts),
    };
    prober = new Prober(busybox, { probeTimeoutMs: 1000 });
  }, 120_000);

  afterAll(async () => {
    expect(await bed.dispose()).toEqual([]);
  }, 60_000);

  it('runs under busybox: sh, timeout and ping are the applets', async () => {
    const r = await node.shell.exec(
      [
        'env',
        BUSYBOX_PATH,
        'sh',
        '-c',
        'command -v timeout; command -v ping; readlink /proc/$$/exe; timeout 1 sleep 5; echo "rc=$?"',
      ],
      { timeoutMs: 20_000 },
    );
    expect(r.stdout).toMatch(
      /^\/opt\/busybox\/timeout\n\/opt\/busybox\/ping\n(\/usr)?\/bin\/busybox\nrc=143\n$/,
    );
  });

  it("a UDP probe that gets no answer ends at nc's own idle deadline, is a timeout, and leaves no zombie under a PID 1 that never reaps", async () => {
    const req: ProbeRequest = {
      source: pod,
      from: 'probes/alpine-like',
      to: 'local/udp-9',
      host: '127.0.0.1',
      port: 9,
      protocol: 'UDP',
      expectName: 'nobody',
    };
    const zombies = async () =>
      (
        await node.shell.exec(['sh', '-c', 'grep -l "^State:[[:space:]]*Z" /proc/[0-9]*/status | wc -l'], {
          timeoutMs: 10_000,
        })
      ).stdout.trim();
    // (the first test's `timeout 1 sleep 5` left one: busybox timeout's watcher, orphaned to PID 1)
    const before = await zombies();
    const recs = await prober.round([
      req,
      { ...req, to: 'local/udp-9-again' },
      { ...req, to: 'local/udp-9-third' },
    ]);
    for (const rec of recs) {
      expect(rec.detail).toMatch(/^nc rc=124: no reply within 1 s/);
      expect(rec.verdict).toBe('timeout');
      expect(rec.durationMs).toBeGreaterThanOrEqual(900);
    }
    // PID 1 here is `sleep infinity`, like agnhost netexec in a probe pod: an orphan stays a zombie forever
    // (busybox timeout's watcher did, once per UDP probe, before the probe stopped using timeout)
    expect(await zombies()).toBe(before);
  });

  it('a UDP probe to a closed port ends early on the ICMP error and is named refused by socat', async () => {
    const [rec] = await prober.round([
      {
        source: pod,
        from: 'probes/alpine-like',
        to: 'local/udp-10',
        host: '127.0.0.1',
        port: 10,
        protocol: 'UDP',
        expectName: 'nobody',
      },
    ]);
    expect(rec?.verdict, rec?.detail).toBe('refused');
    expect(rec?.detail).toMatch(/^socat rc=1: .*[Rr]efused/);
    expect(rec?.durationMs).toBeLessThan(900);
  });

  it('the MTU ping is busybox ping, recorded as DF not forced', async () => {
    const req: ProbeRequest = {
      source: pod,
      from: 'probes/alpine-like',
      to: 'local/ping',
      host: '127.0.0.1',
      port: 1,
      protocol: 'TCP',
      mode: 'ping',
      arg: 1400,
    };
    const [rec] = await prober.round([req]);
    expect(rec?.verdict, rec?.detail).toBe('connected');
    expect(rec?.detail).toMatch(/^ping-default, DF not forced/);
  });

  it('a probe session runs under busybox sh, leaves no zombie, and ends by itself after its idle limit', async () => {
    const docker = new DockerPodExecutor().register(pod, { container: node.container });
    const loops = async () =>
      (
        await node.shell.exec(['sh', '-c', "grep -la 'ccprobe-sessio[n]' /proc/[0-9]*/cmdline | wc -l"], {
          timeoutMs: 10_000,
        })
      ).stdout.trim();
    // zombies other than busybox timeout's watchers (the earlier tests' socat and ping ran under timeout,
    // whose watcher outlives the probe by its guard and then stays a zombie under PID 1)
    const zombies = async () =>
      (
        await node.shell.exec(
          [
            'sh',
            '-c',
            'for f in $(grep -l "^State:[[:space:]]*Z" /proc/[0-9]*/status); do grep -q "^Name:[[:space:]]*timeout$" "$f" || echo "$f"; done | wc -l',
          ],
          { timeoutMs: 10_000 },
        )
      ).stdout.trim();
    const before = await zombies();
    const stream = docker.openStream(pod, ['env', BUSYBOX_PATH, ...sessionArgv(2)]);
    const session = new ProbeSession('probes/alpine-like', stream);
    const udp9 = { mode: 'udp' as const, host: '127.0.0.1', port: 9, arg: 0, timeoutSeconds: 1 };
    for (let b = 0; b < 2; b++) {
      // (no UDP probe to a closed port here: its socat/agnhost runs under busybox timeout, whose watcher
      // is orphaned to PID 1 in one-shot execs and sessions alike)
      const out = await session.batch([udp9, { ...udp9, mode: 'tcp', port: 10 }], 20_000);
      const parsed = parseScriptOutput(out, 2);
      expect(parsed.ok, out).toBe(true);
      const [dropped, closed] = [0, 1].map((i) => parsed.results.find((r) => r.i === i)!);
      expect(dropped).toMatchObject({ tool: 'nc', rc: 124 });
      expect(closed).toMatchObject({ tool: 'nc', rc: 1 });
      expect(closed!.err).toMatch(/refused/);
      expect(out.split('\n').at(-1)).toBe(`${PROBE_END} 2 ${b + 1}`);
    }
    expect(await loops()).toBe('1');
    // busybox read -t: two idle seconds and the loop exits on its own, cleanly
    const end = await stream.ended;
    expect(end).toMatchObject({ exitCode: 0 });
    expect(session.usable).toBe(false);
    expect(await loops()).toBe('0');
    expect(await zombies()).toBe(before);
  }, 60_000);
});
