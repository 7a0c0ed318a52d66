/**
 * IPv4 addresses and CIDRs as 32-bit numbers. Pure; used by config validation, the policy oracle
 * (ipBlock), mode verification (pod IPs in the pool, routes to blocks) and topologies.
 */
export interface Ipv4Cidr {
  /** network address as an unsigned 32-bit number */
  readonly network: number;
  readonly prefix: number;
  /** the canonical text, e.g. "192.168.0.0/16" */
  readonly text: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number | undefined {
  const m = IPV4.exec(text.trim());
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isIpv6Text(text: string): boolean {
  return text.includes(':');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export type CidrParse = { ok: true; cidr: Ipv4Cidr } | { ok: false; reason: string };

/** Parses "a.b.c.d/p". Host bits must be zero unless `allowHostBits` (then they are cleared). */
export function parseIpv4Cidr(text: string, opts: { allowHostBits?: boolean } = {}): CidrParse {
  if (typeof text !== 'string' || text.trim() === '') return { ok: false, reason: 'empty' };
  if (isIpv6Text(text)) return { ok: false, reason: 'is an IPv6 CIDR; an IPv4 CIDR is expected' };
  const [addr, prefixText, ...rest] = text.trim().split('/');
  if (rest.length > 0 || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) {
    return { ok: false, reason: 'is not of the form a.b.c.d/prefix' };
  }
  const prefix = Number(prefixText);
  if (prefix > 32) return { ok: false, reason: 'prefix length must be 0–32' };
  const ip = parseIpv4(addr ?? '');
  if (ip === undefined) return { ok: false, reason: 'is not of the form a.b.c.d/prefix' };
  const network = (ip & maskOf(prefix)) >>> 0;
  if (network !== ip && !opts.allowHostBits) {
    return { ok: false, reason: `has host bits set (the network is ${formatIpv4(network)}/${prefix})` };
  }
  return { ok: true, cidr: { network, prefix, text: `${formatIpv4(network)}/${prefix}` } };
}

export function mustParseIpv4Cidr(text: string): Ipv4Cidr {
  const r = parseIpv4Cidr(text, { allowHostBits: true });
  if (!r.ok) throw new Error(`invalid CIDR ${JSON.stringify(text)}: ${r.reason}`);
  return r.cidr;
}

export function cidrContainsIp(cidr: Ipv4Cidr, ip: number): boolean {
  return (ip & maskOf(cidr.prefix)) >>> 0 === cidr.network;
}

/** true when `inner` lies entirely inside `outer` */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContainsIp(outer, inner.network);
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}
