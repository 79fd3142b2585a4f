// CIDR matching for relay.networks, IPv4 and IPv6. An IPv4-mapped IPv6
// address (::ffff:192.0.2.1) is matched as the IPv4 address it carries.

import net from 'node:net';

export interface CidrBlock {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
  text: string;
}

export function parseCidr(text: string): CidrBlock {
  const [address = '', prefixText] = text.split('/');
  const family = net.isIPv4(address) ? 4 : net.isIPv6(address) ? 6 : undefined;
  if (!family) throw new Error(`not an IP network: ${text}`);
  const width = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) throw new Error(`bad prefix length: ${text}`);
  return { family, bits: toBits(address, family), prefix, text };
}

export function matchesAny(ip: string, blocks: readonly CidrBlock[]): boolean {
  const plain = unmapped(ip);
  const family = net.isIPv4(plain) ? 4 : net.isIPv6(plain) ? 6 : undefined;
  if (!family) return false;
  const bits = toBits(plain, family);
  return blocks.some((block) => block.family === family && samePrefix(bits, block.bits, block.prefix, family === 4 ? 32 : 128));
}

function unmapped(ip: string): string {
  const lower = ip.toLowerCase();
  return lower.startsWith('::ffff:') && net.isIPv4(lower.slice(7)) ? lower.slice(7) : lower;
}

function samePrefix(a: bigint, b: bigint, prefix: number, width: number): boolean {
  const shift = BigInt(width - prefix);
  return a >> shift === b >> shift;
}

function toBits(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  return expandIpv6(address).reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

/** Eight 16-bit groups of an IPv6 address, "::" and an embedded IPv4 tail expanded. */
function expandIpv6(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...tailGroups];
  return groups.map((g) => parseInt(g, 16));
}
