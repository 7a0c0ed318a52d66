/**
 * The in-pod prober: one POSIX sh script, run by ONE exec per source pod per round, that starts every probe
 * of that pod in parallel (each with its own in-pod timeout), prints one JSON line per probe and then an
 * end sentinel. The script is a constant; the probes travel as positional arguments (never spliced into
 * shell text), five per probe: mode host port arg timeoutSeconds.
 *
 * Tools, chosen inside the pod by what exists, so the same script runs in the agnhost image of real pods
 * (Alpine: busybox sh, curl, netcat-openbsd, /agnhost — kubernetes test/images/agnhost/Dockerfile) and in
 * the Debian test node image (dash, curl, socat, iputils ping):
 * - TCP: an HTTP/1.0 GET of `/hostname` through openbsd nc (in both images; agnhost netexec answers its
 *   own name there). `nc -v` names the failure (refused / no route / timed out / getaddrinfo) and costs a
 *   seventh of curl's start-up, which matters with 32 probes per pod on 2 cores.
 * - UDP: a datagram "hostname" that the server must answer with its name (netexec's UDP server does):
 *   `nc -u -W 1 -w T` ends at the first reply (the name), after T idle seconds (a timeout), or early and
 *   silently on an ICMP error; only that early end asks a tool that names the error: `agnhost connect
 *   --protocol=udp` where /agnhost exists (it reads the reply, so ICMP port-unreachable surfaces as REFUSED;
 *   connect.go), socat elsewhere ("Connection refused"). Until 2026-12 agnhost ran beside nc for every UDP
 *   probe, both under `timeout`; on the 2-core lab agnhost's start-up (a large Go binary) under 4 × 288
 *   probes per round made rounds of ~19 s with a quarter of the allowed UDP probes "timing out", and busybox
 *   timeout's watcher processes piled up as zombies under netexec (bench:probe-floor, README).
 * - xfer: curl uploads N bytes to `/upload` (netexec accepts a multipart "file").
 * - clientip: curl `/clientip` (netexec answers "ip:port" of the peer it saw) — the egress/NAT check.
 * - ping: one ICMP echo of N payload bytes. With iputils (`ping -M do`: the Debian test image) DF is
 *   forced: a packet above the path MTU is refused, locally or by the router that cannot carry it. Busybox
 *   ping (agnhost is Alpine) has no -M, so DF is NOT forced: the socket keeps the kernel default
 *   (IP_PMTUDISC_WANT with net.ipv4.ip_no_pmtu_disc=0), which sends DF only while the packet fits the path
 *   MTU the pod knows for that destination, and fragments it locally once an ICMP "fragmentation needed"
 *   taught it a smaller one (cached per destination for net.ipv4.route.mtu_expires, 10 min). A busybox ping
 *   therefore shows a too-small path only on the first full-size packet to a destination; after that (a
 *   repeated check, a TCP transfer to it just before) it can pass over a path that carries less. The record
 *   names which ping ran (`ping-df` or `ping-default`); the MTU check's 1 MiB TCP upload does not depend on
 *   DF.
 */
import type { Verdict } from '../model/connectivity.js';

export const PROBE_END = '__CCPROBE_END__';

export const PROBE_MODES = ['tcp', 'udp', 'xfer', 'clientip', 'ping'] as const;
export type ProbeMode = (typeof PROBE_MODES)[number];

/** the shell's `${#l}` (length of $l), kept out of the template literal's own `${}` syntax */
const SH_LENGTH_OF_L = '$' + '{#l}';

/**
 * What the one-shot script and the session loop share: the clock, the tools and probe() itself, which runs
 * one probe (index, mode, host, port, arg, timeout) against the batch's start `$s` and prints its line.
 */
const PROBE_FUNCTIONS = String.raw`
# elapsed time from /proc/uptime (centiseconds) with the read builtin: no process per probe for a clock
ticks() {
  tk=-1
  IFS='. ' read -r a b _ 2>/dev/null </proc/uptime || return 0
  case "$a" in ''|*[!0-9]*) return 0 ;; esac
  case "$b" in [0-9][0-9]) tk=$((a * 100 + 1$b - 100)) ;; esac
}
ticks; s=$tk
cr=$(printf '\r')
# openbsd netcat by path: a busybox shell built with "prefer applets" would otherwise run its own nc
NC=nc; [ -x /usr/bin/nc ] && NC=/usr/bin/nc
tmp=$(mktemp -d 2>/dev/null) || { tmp=/tmp/ccprobe.$$; mkdir -p "$tmp"; }
# the first lines of a file, joined by spaces, with the read builtin: no process per probe
lines() { l1=; l2=; l3=; [ -s "$1" ] || return 0; { IFS= read -r l1; IFS= read -r l2; IFS= read -r l3; } <"$1"; }
body() {
  IFS= read -r st || return 0
  case "$st" in "HTTP/1."?" 200"*) ;; *) echo "http status: $st" >>"$e"; rc=200 ;; esac
  while IFS= read -r l; do case "$l" in ''|"$cr") break ;; esac; done
  IFS= read -r l || [ -n "$l" ] || return 0
  [ "${SH_LENGTH_OF_L}" -le 400 ] || l="(answer longer than 400 bytes)"
  printf '%s\n' "$l"
}
probe() {
  i=$1; mode=$2; host=$3; port=$4; arg=$5; t=$6
  o="$tmp/$i.o"; e="$tmp/$i.e"; : >"$o"; : >"$e"; g=$((t + 2))
  case "$mode" in
  tcp|clientip)
    path=hostname; [ "$mode" = clientip ] && path=clientip
    "$NC" -v -w "$t" "$host" "$port" >"$o.r" 2>"$e" <<EOF
GET /$path HTTP/1.0$cr
Host: $host$cr
$cr
EOF
    rc=$?; tool=nc
    [ "$rc" = 0 ] && : >"$e"
    [ -s "$o.r" ] && body <"$o.r" >"$o" ;;
  udp)
    # nc -u -W 1 -w t ends at the first datagram received (the server's name), after t idle seconds without
    # one, or at once and silently on an ICMP error. No timeout(1) around it: busybox timeout leaves its
    # watcher process to the container's init, and agnhost netexec (PID 1 of the probe pods) never reaps it,
    # so every UDP probe left a zombie in the pod (seen on the lab: 200 per pod after 40 rounds)
    tool=nc
    ticks; u0=$tk
    "$NC" -u -W 1 -w "$t" "$host" "$port" >"$o" 2>"$e" <<EOF
hostname
EOF
    rc=$?; ticks
    if [ ! -s "$o" ]; then
      if [ "$u0" = -1 ] || [ "$tk" = -1 ] || [ $(((tk - u0) * 10)) -lt $((t * 500)) ]; then
        # ended early without a reply: an ICMP error, which only a tool that names it can tell apart
        if [ -x /agnhost ]; then
          tool=agnhost
          timeout -s KILL "$g" /agnhost connect --protocol=udp --timeout="$t"s "$host:$port" 2>"$e"; rc=$?
        else
          tool=socat
          printf 'hostname\n' | timeout -s KILL "$g" socat -T "$t" -t "$t" - "UDP:$host:$port" >"$o" 2>"$e"; rc=$?
        fi
      else
        # 124: the script's mark for "no reply before the deadline" (the exit code of coreutils timeout)
        rc=124; echo "no reply within $t s" >"$e"
      fi
    fi ;;
  xfer)
    head -c "$arg" /dev/zero >"$tmp/$i.bin"
    curl -sS -v -m "$t" -o /dev/null -w '%{http_code} %{size_upload}' -F "file=@$tmp/$i.bin" "http://$host:$port/upload" >"$o" 2>"$e.v"; rc=$?; tool=curl
    [ "$rc" = 0 ] || grep -iE 'refused|unreach|no route|resolve|timed out|timeout|failed|reset|error' "$e.v" | tail -n 2 >"$e" ;;
  ping)
    if ping -M do -c 1 -W 1 -s 8 127.0.0.1 >/dev/null 2>&1; then
      tool=ping-df; timeout -s KILL "$g" ping -M do -n -c 1 -W "$t" -s "$arg" "$host" >"$o.r" 2>"$e"; rc=$?
    else
      tool=ping-default; timeout -s KILL "$g" ping -c 1 -W "$t" -s "$arg" "$host" >"$o.r" 2>"$e"; rc=$?
    fi
    grep -iE 'received|frag|too long|mtu|unreach' "$o.r" >"$o" ;;
  *) echo "unknown mode $mode" >"$e"; rc=64; tool=none ;;
  esac
  ticks; ms=-1
  [ "$s" != -1 ] && [ "$tk" != -1 ] && ms=$(((tk - s) * 10))
  # the fixed fields as JSON, then what the tools said as raw text after unit separators (the reader cleans it)
  lines "$o"; co="$l1 $l2 $l3"; lines "$e"; ce="$l1 $l2 $l3"
  printf '{"i":%s,"tool":"%s","rc":%s,"ms":%s}\037%s\037%s\n' "$i" "$tool" "$rc" "$ms" "$co" "$ce"
}
`;

/** One exec, one batch: the probes are the positional arguments, five per probe. */
export const PROBE_SCRIPT = `${PROBE_FUNCTIONS}n=0
while [ "$#" -ge 5 ]; do
  probe "$n" "$1" "$2" "$3" "$4" "$5" &
  n=$((n + 1)); shift 5
done
wait
rm -rf "$tmp"
echo "${PROBE_END} $n"
`;

/**
 * The long-lived session: one exec per source pod for as long as the prober lives, reading one batch per
 * line on stdin — `ID mode host port arg t mode host port arg t …` (sessionRequestLine: every word
 * validated, so splitting the line on blanks with globbing off is safe) — and answering each with the
 * probes' lines and `SENTINEL n ID`. It ends at end of input (the prober closing the session, or the exec
 * stream going away) and, where `read -t` exists (busybox ash, the agnhost image; not dash), after $1 idle
 * seconds without a batch, so a session whose client vanished without closing stdin does not live on in
 * the pod. A probe's background job gets /dev/null as stdin (never the session's).
 */
export const PROBE_SESSION_SCRIPT = `${PROBE_FUNCTIONS}trap 'rm -rf "$tmp"' EXIT
set -f
rt=
( read -t 1 _ </dev/null ) 2>/dev/null
[ "$?" = 1 ] && rt="-t $1"
while read -r $rt req; do
  set -- $req
  [ "$#" -ge 1 ] || continue
  batch=$1; shift
  ticks; s=$tk
  n=0
  while [ "$#" -ge 5 ]; do
    probe "$n" "$1" "$2" "$3" "$4" "$5" </dev/null &
    n=$((n + 1)); shift 5
  done
  wait
  echo "${PROBE_END} $n $batch"
done
`;

/** How long an idle session stays in the pod where the shell can time out a read (seconds). */
export const SESSION_IDLE_SECONDS = 600;

/** What one probe asks the script to do (host already validated). */
export interface ScriptProbe {
  mode: ProbeMode;
  host: string;
  port: number;
  /** bytes to upload (xfer) or ICMP payload size (ping); 0 otherwise */
  arg: number;
  timeoutSeconds: number;
}

/** An IPv4 address or a DNS name: nothing that curl, nc or socat could read as an option or address form. */
const HOST_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

export function validateScriptProbe(p: ScriptProbe, field = 'probe'): void {
  if (!PROBE_MODES.includes(p.mode)) {
    throw new Error(`${field}.mode: ${JSON.stringify(p.mode)} is not one of ${PROBE_MODES.join(', ')}`);
  }
  if (!HOST_RE.test(p.host)) {
    throw new Error(`${field}.host: ${JSON.stringify(p.host)} is not an IPv4 address or DNS name`);
  }
  if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
    throw new Error(`${field}.port: ${p.port} is not an integer in 1..65535`);
  }
  if (!Number.isInteger(p.arg) || p.arg < 0 || p.arg > 256 * 1024 * 1024) {
    throw new Error(`${field}.arg: ${p.arg} is not an integer byte count in 0..268435456`);
  }
  if (!Number.isInteger(p.timeoutSeconds) || p.timeoutSeconds < 1 || p.timeoutSeconds > 600) {
    throw new Error(`${field}.timeoutSeconds: ${p.timeoutSeconds} is not an integer in 1..600`);
  }
}

/** argv for one exec running all of a pod's probes: `sh -c SCRIPT ccprobe mode host port arg t …`. */
export function scriptArgv(probes: readonly ScriptProbe[]): string[] {
  for (const [i, p] of probes.entries()) validateScriptProbe(p, `probes[${i}]`);
  return [
    'sh',
    '-c',
    PROBE_SCRIPT,
    'ccprobe',
    ...probes.flatMap((p) => [p.mode, p.host, String(p.port), String(p.arg), String(p.timeoutSeconds)]),
  ];
}

/** argv of one probe session: `sh -c SESSION_SCRIPT ccprobe-session IDLE_SECONDS` (batches come on stdin). */
export function sessionArgv(idleSeconds = SESSION_IDLE_SECONDS): string[] {
  if (!Number.isInteger(idleSeconds) || idleSeconds < 1)
    throw new Error(`idleSeconds: ${idleSeconds} is not a whole number of seconds ≥ 1`);
  return ['sh', '-c', PROBE_SESSION_SCRIPT, 'ccprobe-session', String(idleSeconds)];
}

/** The stdin line of one session batch: `ID mode host port arg t …` and a newline, every probe validated. */
export function sessionRequestLine(id: number, probes: readonly ScriptProbe[]): string {
  if (!Number.isInteger(id) || id < 0) throw new Error(`batch id ${id} is not a whole number ≥ 0`);
  for (const [i, p] of probes.entries()) validateScriptProbe(p, `probes[${i}]`);
  return `${[id, ...probes.flatMap((p) => [p.mode, p.host, p.port, p.arg, p.timeoutSeconds])].join(' ')}\n`;
}

/** One JSON line as the script prints it. */
export interface RawProbeOutput {
  i: number;
  tool: string;
  rc: number;
  ms: number;
  out: string;
  err: string;
}

export type ParsedScriptOutput =
  | { ok: true; results: RawProbeOutput[] }
  | { ok: false; reason: string; results: RawProbeOutput[] };

/**
 * Reads the script's stdout. Anything short of "every probe printed once, then the sentinel with the right
 * count" is an infrastructure failure for the caller to raise, never a set of verdicts.
 */
const UNIT_SEPARATOR = '\x1f';

/** What a tool printed, as one line of at most 400 characters without control characters. */
function cleanText(t: string): string {
  const flat = t
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return flat.length > 400 ? `${flat.slice(0, 400)}…` : flat;
}

export function parseScriptOutput(stdout: string, expected: number): ParsedScriptOutput {
  const results: RawProbeOutput[] = [];
  let sentinel: number | undefined;
  const junk: string[] = [];
  for (const line of stdout.split('\n')) {
    const l = line.trim();
    if (!l) continue;
    if (l.startsWith(PROBE_END)) {
      sentinel = Number(l.split(/\s+/)[1]);
      continue;
    }
    if (l.startsWith('{')) {
      try {
        // {"i":…,"tool":…,"rc":…,"ms":…} US out US err (US = \x1f): the text stays raw in the pod
        const [head = '', out, err] = l.split(UNIT_SEPARATOR);
        const o = JSON.parse(head) as RawProbeOutput;
        if (typeof o.i === 'number' && typeof o.rc === 'number') {
          if (out !== undefined) o.out = cleanText(out);
          if (err !== undefined) o.err = cleanText(err);
          o.out ??= '';
          o.err ??= '';
          results.push(o);
          continue;
        }
      } catch {
        // fall through: a torn or foreign line
      }
    }
    junk.push(l);
  }
  if (sentinel === undefined) {
    return { ok: false, reason: `no end sentinel (${results.length}/${expected} probe lines)`, results };
  }
  if (sentinel !== expected) {
    return { ok: false, reason: `sentinel counted ${sentinel} probes, expected ${expected}`, results };
  }
  const seen = new Set(results.map((r) => r.i));
  const missing = [...Array(expected).keys()].filter((i) => !seen.has(i));
  if (missing.length > 0 || results.length !== expected) {
    return {
      ok: false,
      reason: `probe lines missing or repeated (missing ${missing.join(',') || 'none'}; ${results.length} lines${junk.length ? `; unparsed: ${junk[0]}` : ''})`,
      results,
    };
  }
  return { ok: true, results };
}

export interface Classified {
  verdict: Verdict;
  answeredBy?: string;
  sourceIp?: string;
  detail: string;
}

const REFUSED = /refused|reset by peer/i;
const UNREACH = /no route|unreachable|network is unreachable|host is down|prohibited/i;
const DNS = /resolve|name or service|getaddrinfo|not known|name resolution|NXDOMAIN|no address|bad address/i;
// "timed out", not "timeout": a usage text ("-w SEC Connect timeout") must not read as a verdict
const TIMEOUT = /timed out|i\/o timeout/i;

function detailOf(raw: RawProbeOutput): string {
  return `${raw.tool} rc=${raw.rc}${raw.err.trim() ? `: ${raw.err.trim()}` : ''}`;
}

/** The guard `timeout -s KILL` fired (137): the tool outlived its own deadline. */
function killed(raw: RawProbeOutput): boolean {
  // for `timeout nc -u` 124 is the expected "no reply" path, classified below
  return raw.rc === 137 || (raw.rc === 124 && raw.tool !== 'nc');
}

/**
 * Turns one raw probe result into a verdict. `connected` needs the intended target's own answer: a reply
 * from anyone else (a wrong backend, a stale NAT entry) is an `error` naming who answered.
 */
export function classify(
  mode: ProbeMode,
  raw: RawProbeOutput,
  expectName?: string,
  bytes?: number,
): Classified {
  const detail = detailOf(raw);
  const out = raw.out.trim();
  if (killed(raw)) return { verdict: 'timeout', detail: `${detail} (killed by the in-pod guard)` };
  switch (mode) {
    case 'tcp':
    case 'clientip': {
      // openbsd nc -v: exit 0 after a connection; on failure exit 1 and "connect to … failed: <errno text>",
      // "… timed out", or "getaddrinfo for host …"; an HTTP status other than 200 is marked rc=200
      if (raw.rc === 0) {
        if (!out)
          return { verdict: 'timeout', detail: `${detail} (connected, no answer before the deadline)` };
        if (mode === 'clientip') {
          const ip = out.split(':')[0] ?? '';
          if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
            return { verdict: 'error', detail: `clientip answer ${JSON.stringify(out)} is not ip:port` };
          }
          return { verdict: 'connected', sourceIp: ip, detail: `source ${out}` };
        }
        return nameCheck(out, expectName, detail);
      }
      return failureClass(raw.err, detail);
    }
    case 'xfer': {
      if (raw.rc === 0) {
        // netexec answers a stored upload with 201 (200 carries its own error text); the bed's server 201 too
        const [code, sent] = out.split(/\s+/);
        if (!/^20[01]$/.test(code ?? ''))
          return { verdict: 'error', detail: `upload answered HTTP ${code}; ${detail}` };
        if (Number(sent) < (bytes ?? 0)) {
          return { verdict: 'error', detail: `uploaded ${sent} bytes, fewer than the ${bytes} asked for` };
        }
        return { verdict: 'connected', detail: `uploaded ${sent} bytes (HTTP ${code})` };
      }
      if (raw.rc === 6) return { verdict: 'dns-failure', detail };
      if (raw.rc === 28) return { verdict: 'timeout', detail };
      return failureClass(raw.err, detail);
    }
    case 'udp': {
      if (raw.tool === 'agnhost') {
        // connect.go prints a fixed class prefix on stderr and exits 1 on every failure.
        if (raw.rc === 0) return nameCheck(out, expectName, detail);
        if (/^\s*TIMEOUT/.test(raw.err)) return { verdict: 'timeout', detail };
        if (/^\s*REFUSED/.test(raw.err)) return { verdict: 'refused', detail };
        if (/^\s*DNS/.test(raw.err)) return { verdict: 'dns-failure', detail };
        if (UNREACH.test(raw.err)) return { verdict: 'unreachable', detail };
        return { verdict: 'error', detail };
      }
      if (raw.tool === 'nc') {
        // nc -u -W 1 exits at the first datagram received; `timeout` ends it (124) when none came
        if (raw.rc === 0 && out) return nameCheck(out, expectName, detail);
        if (raw.rc === 124 || raw.rc === 143) return { verdict: 'timeout', detail: `${detail} (no reply)` };
        return { verdict: 'error', detail };
      }
      // socat (asked only after nc ended early without a reply): it names the ICMP error or DNS failure
      if (raw.rc === 0) {
        if (out) return nameCheck(out, expectName, detail);
        return { verdict: 'timeout', detail: `${detail} (no reply)` };
      }
      if (DNS.test(raw.err)) return { verdict: 'dns-failure', detail };
      return failureClass(raw.err, detail);
    }
    case 'ping': {
      const all = `${out} ${raw.err}`;
      const tool = pingLabel(raw.tool);
      if (raw.rc === 0) return { verdict: 'connected', detail: `${tool}: ${out}` };
      if (/frag|too long|mtu/i.test(all)) return { verdict: 'unreachable', detail: `${tool}: ${all.trim()}` };
      if (UNREACH.test(all)) return { verdict: 'unreachable', detail: `${tool}: ${all.trim()}` };
      if (raw.rc === 1) return { verdict: 'timeout', detail: `${tool}: no echo reply; ${out}` };
      if (DNS.test(all)) return { verdict: 'dns-failure', detail: `${tool}; ${detail}` };
      return { verdict: 'error', detail: `${tool}; ${detail}` };
    }
  }
}

/** What a ping record says about DF: forced (iputils -M do) or left to the kernel's default (busybox). */
export const PING_DF_NOT_FORCED =
  'DF not forced (busybox ping has no -M: the kernel sets DF only while no smaller path MTU is known for this destination)';

function pingLabel(tool: string): string {
  if (tool === 'ping-df') return 'ping-df (DF forced: iputils -M do)';
  if (tool === 'ping-default') return `ping-default, ${PING_DF_NOT_FORCED}`;
  return tool;
}

function failureClass(err: string, detail: string): Classified {
  if (DNS.test(err)) return { verdict: 'dns-failure', detail };
  if (REFUSED.test(err)) return { verdict: 'refused', detail };
  if (UNREACH.test(err)) return { verdict: 'unreachable', detail };
  if (TIMEOUT.test(err)) return { verdict: 'timeout', detail };
  return { verdict: 'error', detail };
}

function nameCheck(out: string, expectName: string | undefined, detail: string): Classified {
  const name = out.split(/\s+/)[0] ?? '';
  if (!name) return { verdict: 'error', detail: `answered with an empty body; ${detail}` };
  if (expectName !== undefined && name !== expectName) {
    return { verdict: 'error', answeredBy: name, detail: `answered by ${name}, expected ${expectName}` };
  }
  return { verdict: 'connected', answeredBy: name, detail: `answered by ${name}` };
}
