import ipaddr from 'ipaddr.js';
import { DecodeError } from '../../core/errors.js';
import { crc32c } from './crc32c.js';

/**
 * The PROXY protocol version 2 header (HAProxy's proxy-protocol.txt §2.2), which a load balancer in
 * TCP mode (`send-proxy-v2`) puts before the client's first byte so that the server learns the
 * client's address. Pure: bytes in, values out, one typed decode error.
 */

/** §2.2: the 12-byte signature. Its first byte (CR) can never start a TLS record (0x14–0x17). */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
/** Signature, version/command, family/transport, 16-bit length. */
export const PROXY_V2_FIXED_LENGTH = 16;
/**
 * HAProxy sends 12 or 36 address bytes plus a few TLVs (ALPN, authority, unique id up to 128 bytes,
 * SSL details); 1 KiB after the fixed part covers every header it writes, and a peer cannot make us
 * buffer more than that before it has proved anything.
 */
export const MAX_PROXY_V2_BODY = 1024;

/** TLV types of §2.2.1–§2.2.7 that this codec interprets. */
export const ProxyTlvType = {
  alpn: 0x01,
  authority: 0x02,
  crc32c: 0x03,
  noop: 0x04,
  uniqueId: 0x05,
} as const;

export type ProxyCheck = 'signature' | 'version' | 'command' | 'family' | 'length' | 'tlv' | 'crc';

/** Says which check failed; the values are a fixed set, so callers may use them as metric labels. */
export class ProxyHeaderError extends DecodeError {
  readonly check: ProxyCheck;
  constructor(check: ProxyCheck, detail: string) {
    super(`malformed PROXY v2 header (${check}): ${detail}`);
    this.name = 'ProxyHeaderError';
    this.check = check;
  }
}

export type ProxyFamily = 'unspec' | 'inet' | 'inet6' | 'unix';
export type ProxyTransport = 'unspec' | 'stream' | 'dgram';

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

export interface ProxyV2Header {
  /** `local`: the balancer speaks for itself (health checks); the real endpoints apply (§2.2). */
  readonly command: 'local' | 'proxy';
  readonly family: ProxyFamily;
  readonly transport: ProxyTransport;
  /** Present for `proxy` over inet/inet6 only; unix paths carry no address a gateway can use. */
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  readonly tlvs: readonly ProxyTlv[];
}

export type ProxyV2Parse =
  | { readonly complete: false; readonly needed: number }
  | { readonly complete: true; readonly header: ProxyV2Header; readonly length: number };

const FAMILIES: readonly ProxyFamily[] = ['unspec', 'inet', 'inet6', 'unix'];
const TRANSPORTS: readonly ProxyTransport[] = ['unspec', 'stream', 'dgram'];
/** §2.2: bytes of the address block per family (two addresses, then two ports for inet/inet6). */
const ADDRESS_BLOCK: Record<ProxyFamily, number> = { unspec: 0, inet: 12, inet6: 36, unix: 216 };

/**
 * True while `bytes` could still be the start of a PROXY v2 header, i.e. every byte present matches
 * the signature. One byte is enough to tell a header from a TLS ClientHello.
 */
export function startsLikeProxyV2(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, PROXY_V2_SIGNATURE.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== PROXY_V2_SIGNATURE[i]) return false;
  return true;
}

/**
 * Parses the header at the start of `bytes`. Returns how many bytes are needed in all while the
 * header is incomplete (never more than PROXY_V2_FIXED_LENGTH + maxBody), else the header and its
 * length; what follows it is the client's stream. Throws ProxyHeaderError on the first bad byte.
 */
export function parseProxyV2(bytes: Uint8Array, maxBody = MAX_PROXY_V2_BODY): ProxyV2Parse {
  if (!startsLikeProxyV2(bytes)) throw new ProxyHeaderError('signature', 'not a PROXY v2 signature');
  // Checked as soon as the byte is here, so a bad header fails without waiting for more.
  const versionCommand = bytes[12];
  if (versionCommand !== undefined && versionCommand >> 4 !== 2) {
    throw new ProxyHeaderError('version', `version ${versionCommand >> 4}`);
  }
  const commandBits = (versionCommand ?? 0) & 0x0f;
  if (commandBits > 1) throw new ProxyHeaderError('command', `command ${commandBits}`);
  if (bytes.length < PROXY_V2_FIXED_LENGTH) return { complete: false, needed: PROXY_V2_FIXED_LENGTH };
  const bodyLength = (bytes[14]! << 8) | bytes[15]!;
  if (bodyLength > maxBody) throw new ProxyHeaderError('length', `${bodyLength} bytes exceed ${maxBody}`);
  const total = PROXY_V2_FIXED_LENGTH + bodyLength;
  if (bytes.length < total) return { complete: false, needed: total };
  const header = decodeBody(bytes.subarray(0, total), commandBits === 0 ? 'local' : 'proxy');
  return { complete: true, header, length: total };
}

function decodeBody(header: Uint8Array, command: 'local' | 'proxy'): ProxyV2Header {
  const familyByte = header[13]!;
  const family = FAMILIES[familyByte >> 4];
  const transport = TRANSPORTS[familyByte & 0x0f];
  if (family === undefined || transport === undefined) {
    // §2.2: for LOCAL the protocol byte is ignored; for PROXY an unknown one is a protocol error.
    if (command === 'proxy')
      throw new ProxyHeaderError('family', `family/transport 0x${familyByte.toString(16)}`);
  }
  const effectiveFamily = command === 'local' ? 'unspec' : (family ?? 'unspec');
  const addressLength = ADDRESS_BLOCK[effectiveFamily];
  const body = header.subarray(PROXY_V2_FIXED_LENGTH);
  if (body.length < addressLength) {
    throw new ProxyHeaderError(
      'length',
      `${body.length} bytes cannot hold a ${effectiveFamily} address block`,
    );
  }
  const endpoints = decodeEndpoints(body, command === 'proxy' ? effectiveFamily : 'unspec');
  const tlvs = decodeTlvs(body.subarray(addressLength));
  verifyCrc(header, tlvs, PROXY_V2_FIXED_LENGTH + addressLength);
  return {
    command,
    family: family ?? 'unspec',
    transport: transport ?? 'unspec',
    ...endpoints,
    tlvs: tlvs.map(({ type, value }) => ({ type, value })),
  };
}

function decodeEndpoints(
  body: Uint8Array,
  family: ProxyFamily,
): Pick<ProxyV2Header, 'source' | 'destination'> {
  if (family !== 'inet' && family !== 'inet6') return {};
  const size = family === 'inet' ? 4 : 16;
  const ports = 2 * size;
  return {
    source: { address: formatAddress(body.subarray(0, size)), port: (body[ports]! << 8) | body[ports + 1]! },
    destination: {
      address: formatAddress(body.subarray(size, 2 * size)),
      port: (body[ports + 2]! << 8) | body[ports + 3]!,
    },
  };
}

function formatAddress(bytes: Uint8Array): string {
  return ipaddr.fromByteArray(Array.from(bytes)).toString();
}

interface LocatedTlv extends ProxyTlv {
  /** Offset of the value within the TLV region, for the CRC check. */
  readonly offset: number;
}

/** §2.2.x: type (1 byte), length (2 bytes), value; the TLVs must fill the rest exactly. */
function decodeTlvs(region: Uint8Array): LocatedTlv[] {
  const tlvs: LocatedTlv[] = [];
  let at = 0;
  while (at < region.length) {
    if (region.length - at < 3)
      throw new ProxyHeaderError('tlv', `${region.length - at} stray bytes after the TLVs`);
    const type = region[at]!;
    const length = (region[at + 1]! << 8) | region[at + 2]!;
    const start = at + 3;
    if (start + length > region.length)
      throw new ProxyHeaderError('tlv', `TLV 0x${type.toString(16)} overruns`);
    tlvs.push({ type, value: region.subarray(start, start + length), offset: start });
    at = start + length;
  }
  return tlvs;
}

/** §2.2.3: the CRC-32C covers the whole header with its own 4 value bytes taken as zero. */
function verifyCrc(header: Uint8Array, tlvs: readonly LocatedTlv[], tlvRegionStart: number): void {
  const crcTlvs = tlvs.filter((t) => t.type === ProxyTlvType.crc32c);
  if (crcTlvs.length === 0) return;
  const [crcTlv] = crcTlvs;
  if (crcTlvs.length > 1 || crcTlv!.value.length !== 4)
    throw new ProxyHeaderError('crc', 'CRC32C TLV malformed');
  const copy = Buffer.from(header);
  copy.fill(0, tlvRegionStart + crcTlv!.offset, tlvRegionStart + crcTlv!.offset + 4);
  const sent = Buffer.from(crcTlv!.value).readUInt32BE(0);
  if (crc32c(copy) !== sent) throw new ProxyHeaderError('crc', 'CRC32C mismatch');
}

export interface ProxyV2Encoding {
  readonly command: 'local' | 'proxy';
  readonly transport?: ProxyTransport;
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  readonly tlvs?: readonly ProxyTlv[];
  /** Appends a PP2_TYPE_CRC32C TLV over the finished header. */
  readonly crc?: boolean;
}

/**
 * Builds a header as HAProxy's `send-proxy-v2` does: tests and the fuzz target use it as the
 * reference, and a bench client can speak through it without a balancer.
 */
export function encodeProxyV2(spec: ProxyV2Encoding): Buffer {
  const addresses = encodeAddresses(spec);
  const family = spec.command === 'local' || !spec.source ? 'unspec' : addresses.family;
  const transport = family === 'unspec' ? 'unspec' : (spec.transport ?? 'stream');
  const tlvs = [...(spec.tlvs ?? [])];
  if (spec.crc) tlvs.push({ type: ProxyTlvType.crc32c, value: new Uint8Array(4) });
  const tlvBytes = tlvs.map((t) =>
    Buffer.concat([Buffer.from([t.type, t.value.length >> 8, t.value.length & 0xff]), t.value]),
  );
  const body = Buffer.concat([addresses.block, ...tlvBytes]);
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | (spec.command === 'local' ? 0 : 1);
  fixed[1] = (FAMILIES.indexOf(family) << 4) | TRANSPORTS.indexOf(transport);
  fixed.writeUInt16BE(body.length, 2);
  const header = Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
  if (spec.crc) header.writeUInt32BE(crc32c(header), header.length - 4);
  return header;
}

function encodeAddresses(spec: ProxyV2Encoding): { family: ProxyFamily; block: Buffer } {
  if (spec.command === 'local' || !spec.source || !spec.destination)
    return { family: 'unspec', block: Buffer.alloc(0) };
  const source = ipaddr.parse(spec.source.address);
  const destination = ipaddr.parse(spec.destination.address);
  if (source.kind() !== destination.kind()) throw new RangeError('source and destination families differ');
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(spec.source.port, 0);
  ports.writeUInt16BE(spec.destination.port, 2);
  return {
    family: source.kind() === 'ipv4' ? 'inet' : 'inet6',
    block: Buffer.concat([Buffer.from(source.toByteArray()), Buffer.from(destination.toByteArray()), ports]),
  };
}
