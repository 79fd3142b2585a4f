// A tiny authoritative DNS server for tests, on node:dgram over loopback UDP.
// It answers A, AAAA, MX, TXT and CNAME queries from zones the test hands it, so
// every DNS path of the relay (null MX, implicit MX, NXDOMAIN, SERVFAIL,
// timeouts) runs against a real resolver (node:dns, c-ares) without touching
// the network. Wire format: RFC 1035 §4.1.
//
// Answers are small, so truncation (RFC 1035 §4.2.1) is never needed.

import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as net from 'node:net';

/** The records of one domain name (matched case-insensitively, RFC 1035 §2.3.3). */
export interface Zone {
  /** Exchange '' or '.' is the root: a null MX when alone at preference 0 (RFC 7505 §3). */
  mx?: Array<{ preference: number; exchange: string }>;
  a?: string[];
  aaaa?: string[];
  /** TXT records, one text each (split into strings of 255 octets on the wire, RFC 1035 §3.3.14). */
  txt?: string[];
  /** Answer with this CNAME, then the target's records when it is in our zones. */
  cname?: string;
  /** Answer every query for this name with this rcode. */
  rcode?: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
  /** Never answer: the client times out. */
  silent?: boolean;
}

export interface ReceivedQuery {
  /** The name as it came on the wire (case preserved, no trailing dot). */
  name: string;
  /** 'A', 'AAAA', 'MX', 'CNAME', or 'TYPE<n>' for anything else. */
  type: string;
}

// RFC 1035 §3.2.2, RFC 3596 §2.1.
const TYPE_CODES = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28 } as const;
type RecordType = keyof typeof TYPE_CODES;
const TYPE_NAMES = new Map<number, RecordType>(Object.entries(TYPE_CODES).map(([name, code]) => [code, name as RecordType]));

// RFC 1035 §4.1.1.
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type RcodeName = keyof typeof RCODES;

const CLASS_IN = 1;
const HEADER_OCTETS = 12;
const TTL_SECONDS = 60;
/** CNAME chains longer than this are cut (a loop in the test's zones). */
const MAX_CNAME_HOPS = 8;

interface ResourceRecord {
  owner: string;
  type: RecordType;
  rdata: Buffer;
}

interface Question {
  id: number;
  /** Opcode and RD, to be echoed (RFC 1035 §4.1.1). */
  opcode: number;
  recursionDesired: boolean;
  name: string;
  type: number;
  qclass: number;
}

export class TestDnsServer {
  /** Every query received, in order. */
  readonly queries: ReceivedQuery[] = [];
  /** '127.0.0.1:PORT': the form Resolver.setServers and the dns.servers config take. */
  readonly address: string;
  private readonly zones = new Map<string, Zone>();
  private stopped = false;

  private constructor(private readonly socket: dgram.Socket, readonly port: number, zones: Record<string, Zone>) {
    this.address = `127.0.0.1:${port}`;
    for (const [name, zone] of Object.entries(zones)) this.setZone(name, zone);
    socket.on('message', (message, peer) => this.receive(message, peer));
    // A send to a vanished peer must not take the test process down.
    socket.on('error', () => {});
  }

  static async start(zones: Record<string, Zone> = {}): Promise<TestDnsServer> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new TestDnsServer(socket, socket.address().port, zones);
  }

  /** Adds, replaces or (with undefined) removes a name's zone while running. */
  setZone(name: string, zone: Zone | undefined): void {
    const key = zoneKey(name);
    if (zone === undefined) {
      this.zones.delete(key);
      return;
    }
    validateZone(name, zone);
    this.zones.set(key, zone);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const closed = once(this.socket, 'close');
    this.socket.close();
    await closed;
  }

  private receive(message: Buffer, peer: dgram.RemoteInfo): void {
    let response: Buffer | undefined;
    try {
      response = this.respond(message);
    } catch {
      return; // a malformed packet gets no answer, as from a real server
    }
    if (response && !this.stopped) this.socket.send(response, peer.port, peer.address, () => {});
  }

  private respond(message: Buffer): Buffer | undefined {
    const question = parseQuery(message);
    if (!question) return undefined;
    this.queries.push({ name: question.name, type: TYPE_NAMES.get(question.type) ?? `TYPE${question.type}` });
    if (question.opcode !== 0) return encodeResponse(question, 'NOTIMP', []);
    if (question.qclass !== CLASS_IN) return encodeResponse(question, 'REFUSED', []);
    const answer = this.lookup(question.name, TYPE_NAMES.get(question.type));
    return answer === 'silent' ? undefined : encodeResponse(question, answer.rcode, answer.records);
  }

  /** The answer for a name, following CNAMEs inside our zones (RFC 1034 §4.3.2 step 3a). */
  private lookup(name: string, type: RecordType | undefined): 'silent' | { rcode: RcodeName; records: ResourceRecord[] } {
    const records: ResourceRecord[] = [];
    let owner = name;
    for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
      const zone = this.zones.get(zoneKey(owner));
      if (!zone) return { rcode: 'NXDOMAIN', records };
      if (zone.silent) return 'silent';
      if (zone.rcode) return { rcode: zone.rcode, records };
      if (zone.cname !== undefined && type !== 'CNAME') {
        records.push({ owner, type: 'CNAME', rdata: encodeName(zone.cname) });
        owner = zone.cname;
        continue;
      }
      records.push(...recordsOf(owner, zone, type));
      return { rcode: 'NOERROR', records };
    }
    return { rcode: 'SERVFAIL', records: [] };
  }
}

function recordsOf(owner: string, zone: Zone, type: RecordType | undefined): ResourceRecord[] {
  switch (type) {
    case 'A': return (zone.a ?? []).map((ip) => ({ owner, type, rdata: ipv4Octets(ip) }));
    case 'AAAA': return (zone.aaaa ?? []).map((ip) => ({ owner, type, rdata: ipv6Octets(ip) }));
    case 'MX': return (zone.mx ?? []).map(({ preference, exchange }) => ({ owner, type, rdata: encodeMx(preference, exchange) }));
    case 'CNAME': return zone.cname === undefined ? [] : [{ owner, type, rdata: encodeName(zone.cname) }];
    case 'TXT': return (zone.txt ?? []).map((text) => ({ owner, type, rdata: encodeTxt(text) }));
    default: return []; // any other type: NODATA
  }
}

function zoneKey(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Fails at setZone time, in the test, rather than as an odd answer later. */
function validateZone(name: string, zone: Zone): void {
  encodeName(name);
  for (const ip of zone.a ?? []) ipv4Octets(ip);
  for (const ip of zone.aaaa ?? []) ipv6Octets(ip);
  for (const { preference, exchange } of zone.mx ?? []) encodeMx(preference, exchange);
  if (zone.cname !== undefined) encodeName(zone.cname);
}

// ---- Wire format (RFC 1035 §4.1) -------------------------------------------------

/** The one question of a standard query, or undefined for anything malformed. */
function parseQuery(message: Buffer): Question | undefined {
  if (message.length < HEADER_OCTETS) return undefined;
  const flags = message.readUInt16BE(2);
  const isResponse = (flags & 0x8000) !== 0;
  const questionCount = message.readUInt16BE(4);
  if (isResponse || questionCount !== 1) return undefined;
  const parsed = readName(message, HEADER_OCTETS);
  if (!parsed || parsed.end + 4 > message.length) return undefined;
  return {
    id: message.readUInt16BE(0),
    opcode: (flags >> 11) & 0x0f,
    recursionDesired: (flags & 0x0100) !== 0,
    name: parsed.name,
    type: message.readUInt16BE(parsed.end),
    qclass: message.readUInt16BE(parsed.end + 2),
  };
}

/**
 * Reads a name at offset, following compression pointers (RFC 1035 §4.1.4).
 * Returns the dotted name and the offset just past it where it started, or
 * undefined for bad label types, pointer loops or names over 255 octets.
 */
function readName(message: Buffer, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let position = offset;
  let end: number | undefined;
  let octets = 0;
  for (let jumps = 0; jumps < 64;) {
    if (position >= message.length) return undefined;
    const length = message[position]!;
    if (length === 0) return { name: labels.join('.'), end: end ?? position + 1 };
    if ((length & 0xc0) === 0xc0) {
      if (position + 1 >= message.length) return undefined;
      end ??= position + 2;
      position = ((length & 0x3f) << 8) | message[position + 1]!;
      jumps++;
      continue;
    }
    if ((length & 0xc0) !== 0) return undefined; // 01 and 10 prefixes are reserved
    octets += length + 1;
    if (octets > 255 || position + 1 + length > message.length) return undefined;
    labels.push(message.toString('latin1', position + 1, position + 1 + length));
    position += 1 + length;
  }
  return undefined;
}

function encodeResponse(question: Question, rcode: RcodeName, answers: ResourceRecord[]): Buffer {
  const header = Buffer.alloc(HEADER_OCTETS);
  header.writeUInt16BE(question.id, 0);
  // QR=1, the query's opcode, AA=1 (we are the authority), RD echoed, RA=0.
  const flags = 0x8000 | (question.opcode << 11) | 0x0400 | (question.recursionDesired ? 0x0100 : 0) | RCODES[rcode];
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const echoed = Buffer.concat([encodeName(question.name), uint16(question.type), uint16(question.qclass)]);
  return Buffer.concat([header, echoed, ...answers.map(encodeRecord)]);
}

function encodeRecord(record: ResourceRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_CODES[record.type], 0);
  fixed.writeUInt16BE(CLASS_IN, 2);
  fixed.writeUInt32BE(TTL_SECONDS, 4);
  fixed.writeUInt16BE(record.rdata.length, 8);
  return Buffer.concat([encodeName(record.owner), fixed, record.rdata]);
}

/** RFC 1035 §3.3.14: one or more <character-string>s, each a length octet and up to 255 octets. */
function encodeTxt(text: string): Buffer {
  const octets = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i === 0 || i < octets.length; i += 255) {
    const piece = octets.subarray(i, i + 255);
    parts.push(Buffer.from([piece.length]), piece);
  }
  return Buffer.concat(parts);
}

/** RFC 1035 §3.3.9: preference, then the exchange; '' and '.' are the root, one zero octet. */
function encodeMx(preference: number, exchange: string): Buffer {
  if (!Number.isInteger(preference) || preference < 0 || preference > 0xffff) throw new Error(`bad MX preference ${preference}`);
  return Buffer.concat([uint16(preference), encodeName(exchange)]);
}

/** Uncompressed labels; '' and '.' encode the root. */
function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const octets = Buffer.from(label, 'latin1');
    if (octets.length === 0 || octets.length > 63) throw new Error(`bad label in DNS name "${name}"`);
    parts.push(Buffer.from([octets.length]), octets);
  }
  parts.push(Buffer.from([0]));
  const encoded = Buffer.concat(parts);
  if (encoded.length > 255) throw new Error(`DNS name too long: "${name}"`);
  return encoded;
}

function uint16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value, 0);
  return buffer;
}

function ipv4Octets(ip: string): Buffer {
  if (!net.isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`);
  return Buffer.from(ip.split('.').map(Number));
}

/** Text to 16 octets, with "::" and a trailing dotted quad (RFC 4291 §2.2). */
function ipv6Octets(ip: string): Buffer {
  if (!net.isIPv6(ip)) throw new Error(`not an IPv6 address: ${ip}`);
  const groupsOf = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [parseInt(group, 16)];
      const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const octets = Buffer.alloc(16);
  groups.forEach((group, index) => octets.writeUInt16BE(group, index * 2));
  return octets;
}
