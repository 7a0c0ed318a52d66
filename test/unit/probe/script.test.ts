import { describe, expect, it } from 'vitest';
import {
  classify,
  PROBE_END,
  PROBE_SCRIPT,
  parseScriptOutput,
  type RawProbeOutput,
  scriptArgv,
} from '../../../harness/probe/script.js';

const raw = (over: Partial<RawProbeOutput>): RawProbeOutput => ({
  i: 0,
  tool: 'nc',
  rc: 0,
  ms: 5,
  out: '',
  err: '',
  ...over,
});

describe('scriptArgv', () => {
  it('passes probes as positional arguments after a constant script, five per probe', () => {
    const argv = scriptArgv([
      { mode: 'tcp', host: '10.0.0.1', port: 80, arg: 0, timeoutSeconds: 1 },
      { mode: 'ping', host: 'svc-a.x.svc.cluster.local', port: 1, arg: 1422, timeoutSeconds: 2 },
    ]);
    expect(argv.slice(0, 3)).toEqual(['sh', '-c', PROBE_SCRIPT]);
    expect(argv.slice(3)).toEqual([
      'ccprobe',
      'tcp',
      '10.0.0.1',
      '80',
      '0',
      '1',
      'ping',
      'svc-a.x.svc.cluster.local',
      '1',
      '1422',
      '2',
    ]);
  });

  it('rejects hosts a tool could read as an option or address form, naming the field', () => {
    expect(() => scriptArgv([{ mode: 'tcp', host: '-oProxy', port: 80, arg: 0, timeoutSeconds: 1 }])).toThrow(
      /probes\[0\]\.host/,
    );
    expect(() => scriptArgv([{ mode: 'udp', host: 'a:b', port: 80, arg: 0, timeoutSeconds: 1 }])).toThrow(
      /host/,
    );
    expect(() => scriptArgv([{ mode: 'tcp', host: 'a', port: 0, arg: 0, timeoutSeconds: 1 }])).toThrow(
      /probes\[0\]\.port: 0/,
    );
    expect(() => scriptArgv([{ mode: 'tcp', host: 'a', port: 80, arg: 0, timeoutSeconds: 0 }])).toThrow(
      /timeoutSeconds/,
    );
    expect(() =>
      scriptArgv([{ mode: 'sctp' as 'tcp', host: 'a', port: 80, arg: 0, timeoutSeconds: 1 }]),
    ).toThrow(/mode.*tcp, udp/);
  });

  it('keeps the in-pod script free of JS interpolation leftovers and ends with the sentinel', () => {
    const shellLength = `$${'{'}#l}`;
    expect(PROBE_SCRIPT.replaceAll(shellLength, '')).not.toContain(`$${'{'}`);
    expect(PROBE_SCRIPT).toContain(`[ "${shellLength}" -le 400 ]`);
    expect(PROBE_SCRIPT.trim().split('\n').at(-1)).toBe(`echo "${PROBE_END} $n"`);
  });
});

describe('parseScriptOutput', () => {
  it("reads the fixed fields as JSON and the tools' text raw after unit separators, cleaned to one short line", () => {
    const US = '\x1f';
    const long = 'y'.repeat(500);
    const p = parseScriptOutput(
      `{"i":0,"tool":"nc","rc":0,"ms":30}${US}b  ${US}\n` +
        `{"i":1,"tool":"nc","rc":1,"ms":5}${US}${US}nc: connect to 10.0.0.1 port 80 (tcp) failed: Connection "refused"\r \n` +
        `{"i":2,"tool":"ping-df","rc":1,"ms":9}${US}1 packets transmitted, 0 received \t frag needed${US}${long}\n` +
        `${PROBE_END} 3\n`,
      3,
    );
    expect(p.ok).toBe(true);
    expect(p.results.map((r) => [r.out, r.err])).toEqual([
      ['b', ''],
      ['', 'nc: connect to 10.0.0.1 port 80 (tcp) failed: Connection "refused"'],
      ['1 packets transmitted, 0 received frag needed', `${'y'.repeat(400)}…`],
    ]);
  });

  const line = (i: number) => JSON.stringify(raw({ i }));

  it('accepts every probe line once followed by the sentinel with the right count', () => {
    const p = parseScriptOutput(`${line(1)}\n${line(0)}\n${PROBE_END} 2\n`, 2);
    expect(p.ok).toBe(true);
    expect(p.results.map((r) => r.i).sort()).toEqual([0, 1]);
  });

  it('treats a missing sentinel as an infrastructure failure, keeping what arrived', () => {
    const p = parseScriptOutput(`${line(0)}\n`, 2);
    expect(p).toMatchObject({ ok: false, reason: 'no end sentinel (1/2 probe lines)' });
    expect(p.results).toHaveLength(1);
  });

  it('rejects a wrong sentinel count, missing or repeated lines and torn JSON', () => {
    expect(parseScriptOutput(`${line(0)}\n${PROBE_END} 1\n`, 2)).toMatchObject({
      ok: false,
      reason: 'sentinel counted 1 probes, expected 2',
    });
    const rep = parseScriptOutput(`${line(0)}\n${line(0)}\n${PROBE_END} 2\n`, 2);
    expect(rep.ok).toBe(false);
    if (!rep.ok) expect(rep.reason).toMatch(/missing 1/);
    const torn = parseScriptOutput(`{"i":0,"tool":\n${line(1)}\n${PROBE_END} 2\n`, 2);
    expect(torn.ok).toBe(false);
    if (!torn.ok) expect(torn.reason).toMatch(/unparsed/);
  });
});

describe('classify', () => {
  it('tcp: connected only when the intended target answered with its name', () => {
    expect(classify('tcp', raw({ out: 'server-n1' }), 'server-n1')).toMatchObject({
      verdict: 'connected',
      answeredBy: 'server-n1',
    });
    expect(classify('tcp', raw({ out: 'server-n2' }), 'server-n1')).toMatchObject({
      verdict: 'error',
      answeredBy: 'server-n2',
      detail: 'answered by server-n2, expected server-n1',
    });
    expect(classify('tcp', raw({ out: '' }), 'server-n1').verdict).toBe('timeout');
  });

  it('tcp: nc -v failure texts map to refused, unreachable, timeout and dns-failure', () => {
    const failed = (err: string) => classify('tcp', raw({ rc: 1, err }), 'x').verdict;
    expect(failed('nc: connect to 10.0.0.2 port 81 (tcp) failed: Connection refused')).toBe('refused');
    expect(failed('nc: connect to 10.0.0.2 port 81 (tcp) failed: No route to host')).toBe('unreachable');
    expect(failed('nc: connect to 10.0.0.2 port 81 (tcp) timed out: Operation now in progress')).toBe(
      'timeout',
    );
    expect(failed('nc: getaddrinfo for host  nosuch  port 80: Name or service not known')).toBe(
      'dns-failure',
    );
    expect(failed('nc: something else')).toBe('error');
    // a usage text that mentions "Connect timeout" (a busybox nc, not openbsd's) is an error, not a verdict
    expect(failed('nc: invalid option -- v  Usage: nc [-iN] [-wN] ... -w SEC Connect timeout')).toBe('error');
    expect(classify('tcp', raw({ rc: 137 }), 'x').verdict).toBe('timeout');
  });

  it('clientip: reports the source IP the target saw', () => {
    expect(classify('clientip', raw({ out: '172.18.0.3:40312' }))).toMatchObject({
      verdict: 'connected',
      sourceIp: '172.18.0.3',
    });
    expect(classify('clientip', raw({ out: 'hello' })).verdict).toBe('error');
  });

  it('udp with nc then socat: reply, no reply (timeout 124), ICMP port unreachable (refused)', () => {
    expect(classify('udp', raw({ out: 'server-a' }), 'server-a').verdict).toBe('connected');
    expect(classify('udp', raw({ rc: 124 }), 'server-a').verdict).toBe('timeout');
    expect(classify('udp', raw({ rc: 143 }), 'server-a').verdict).toBe('timeout');
    expect(
      classify('udp', raw({ tool: 'socat', rc: 1, err: 'socat E read(5 ...): Connection refused' }), 'a')
        .verdict,
    ).toBe('refused');
    expect(
      classify('udp', raw({ tool: 'socat', rc: 1, err: 'socat E read(5 ...): No route to host' }), 'a')
        .verdict,
    ).toBe('unreachable');
    expect(
      classify(
        'udp',
        raw({ tool: 'socat', rc: 1, err: 'E getaddrinfo( x  ): Name or service not known' }),
        'a',
      ).verdict,
    ).toBe('dns-failure');
  });

  it('udp with agnhost connect: its fixed class prefixes, and the name from nc', () => {
    const a = (rc: number, err: string, out = '') =>
      classify('udp', raw({ tool: 'agnhost', rc, err, out }), 'srv');
    expect(a(0, '', 'srv').verdict).toBe('connected');
    expect(a(0, '', '').verdict).toBe('error');
    expect(a(1, 'TIMEOUT: read udp: i/o timeout').verdict).toBe('timeout');
    expect(a(1, 'REFUSED: read udp: connection refused').verdict).toBe('refused');
    expect(a(1, 'DNS: lookup x: no such host').verdict).toBe('dns-failure');
    expect(a(1, 'UNKNOWN: whatever').verdict).toBe('error');
    expect(a(137, '').verdict).toBe('timeout');
  });

  it('xfer: HTTP 200 with the uploaded size is connected; curl timeouts and resets are classified', () => {
    expect(classify('xfer', raw({ tool: 'curl', out: '201 1048773' }), undefined, 1048576)).toMatchObject({
      verdict: 'connected',
      detail: 'uploaded 1048773 bytes (HTTP 201)',
    });
    expect(classify('xfer', raw({ tool: 'curl', out: '201 1000' }), undefined, 1048576).verdict).toBe(
      'error',
    );
    expect(classify('xfer', raw({ tool: 'curl', out: '413 0' })).verdict).toBe('error');
    expect(classify('xfer', raw({ tool: 'curl', rc: 28 })).verdict).toBe('timeout');
    expect(classify('xfer', raw({ tool: 'curl', rc: 56, err: 'Connection reset by peer' })).verdict).toBe(
      'refused',
    );
  });

  it('ping: frag-needed / message too long is unreachable, no echo reply is timeout', () => {
    expect(classify('ping', raw({ tool: 'ping-df', out: '1 packets transmitted  1 received' })).verdict).toBe(
      'connected',
    );
    expect(
      classify(
        'ping',
        raw({ tool: 'ping-df', rc: 1, out: 'From 10.0.0.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)' }),
      ).verdict,
    ).toBe('unreachable');
    expect(
      classify('ping', raw({ tool: 'ping-df', rc: 1, err: 'ping: local error: message too long, mtu=1400' }))
        .verdict,
    ).toBe('unreachable');
    expect(
      classify('ping', raw({ tool: 'ping-df', rc: 1, out: '1 packets transmitted  0 received' })).verdict,
    ).toBe('timeout');
  });
});
