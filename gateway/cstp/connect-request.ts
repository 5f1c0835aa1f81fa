import { isIPv4, isIPv6 } from 'node:net';
import { DecodeError } from '../../core/errors.js';

/**
 * The headers of `CONNECT /CSCOSSLC/tunnel` that matter to the gateway, as openconnect sends them
 * (cstp.c start_cstp_connection; transcript sections A-C) and as ocserv reads them
 * (worker-http.c header_value_check; http-heads.gperf).
 */
export interface ConnectRequest {
  /** Value of the `webvpn` cookie: the session cookie handed out on auth success. */
  cookie: string;
  /**
   * X-CSTP-Base-MTU: the client's path (link) MTU, any decimal number: negotiateMtu applies
   * ocserv's bounds (values outside them are ignored there, not here).
   */
  baseMtu?: number;
  /** X-CSTP-MTU: the client's own tunnel MTU guess (base minus its DTLS overhead); as baseMtu. */
  mtu?: number;
  /** X-CSTP-Address-Type; both true when absent (ocserv only disables a family the list omits). */
  addressTypes: { ipv4: boolean; ipv6: boolean };
  /**
   * X-CSTP-Full-IPv6-Capability: true. Without it ocserv gives an IPv6 address in the legacy
   * Address/Netmask form and withholds IPv6 DNS and routes (worker-vpn.c connect_handler).
   */
  fullIpv6: boolean;
  /** X-CSTP-Hostname if valid by ocserv's rule (letters, digits, '-', not leading '-', < 64 chars). */
  hostname?: string;
  /** Addresses the client held before and asks for again on reconnect (X-CSTP-Address). */
  previousAddresses: { ipv4?: string; ipv6?: string };
  /** X-AnyConnect-Identifier-Device-UniqueID (mobile clients). */
  deviceId?: string;
  /** X-AnyConnect-Identifier-Platform (e.g. apple-ios, android, linux-64). */
  platform?: string;
  platformVersion?: string;
  deviceType?: string;
  /**
   * ocserv's rule (worker-http.c:383-389): X-AnyConnect-Identifier-Platform starting with
   * apple-ios or android, case-insensitively, gets the mobile DPD and idle timeout. openconnect
   * sends that header only with --os=apple-ios or --os=android (cstp.c append_mobile_headers).
   */
  isMobile: boolean;
  /**
   * ocserv's is_ios: platform apple-ios* (worker-http.c:385) or a User-Agent starting with
   * "Cisco AnyConnect VPN Agent for Apple" (worker-http.c:434-440). Such a client with IPv6 gets
   * the extra IPv6 split include 2000::/3 (see connect-response.ts).
   */
  isIos: boolean;
  userAgent: string;
  /** Client family from the User-Agent, as ocserv classifies it (it changes DNS/IPv6 headers). */
  agent: 'openconnect' | 'anyconnect' | 'unknown';
  /** X-CSTP-Accept-Encoding tokens, lower-cased (e.g. oc-lz4, lzs). Reported only: we never compress. */
  acceptEncoding: string[];
  /**
   * What the client offers for a DTLS data channel, when it sent any X-DTLS header (openconnect
   * without --no-dtls, cstp.c start_cstp_connection; AnyConnect). Absent: TLS only.
   */
  dtls?: DtlsOffer;
}

/** The DTLS part of a CONNECT request; see gateway/dtls/negotiation.ts for the choice made from it. */
export interface DtlsOffer {
  /**
   * X-DTLS-Master-Secret: 48 bytes in hex, the master secret of the legacy protocol's resumed
   * session (openconnect sends it always; it is unused with PSK-NEGOTIATE). Absent unless
   * exactly 96 hex digits.
   */
  masterSecret?: Buffer;
  /** X-DTLS-CipherSuite, colon-separated: PSK-NEGOTIATE and openconnect's legacy names. */
  cipherSuites: readonly string[];
  /** X-DTLS12-CipherSuite: Cisco's DTLS 1.2 names for the legacy protocol. */
  dtls12CipherSuites: readonly string[];
}

export interface ConnectRequestLimits {
  /** Longest header value accepted (default 1024). Node's server already caps all headers at 16 KiB. */
  maxHeaderValue?: number;
  /** Longest webvpn cookie value (default 512). */
  maxCookie?: number;
}

export type HeaderMap = Record<string, string | string[] | undefined>;

const MAX_HOSTNAME = 63; // ocserv MAX_HOSTNAME_SIZE (64) including the NUL
const MAX_ENCODINGS = 16;
/** Cipher-suite names per X-DTLS(12)-CipherSuite header (openconnect sends 8); each a token of this shape. */
const MAX_DTLS_SUITES = 32;
const SUITE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MASTER_SECRET = /^[0-9A-Fa-f]{96}$/;
/** RFC 6265 cookie-octet. */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/;
/** Digits only (ocserv's strtoul would also take "1500abc" as 1500; we refuse such a header). */
const DECIMAL = /^[0-9]{1,10}$/;

export function parseConnectRequest(headers: HeaderMap, limits: ConnectRequestLimits = {}): ConnectRequest {
  const maxValue = limits.maxHeaderValue ?? 1024;
  const get = headerReader(headers, maxValue);

  const cookie = webvpnCookie(get('cookie', '; '), limits.maxCookie ?? 512);
  const platform = get('x-anyconnect-identifier-platform') ?? get('x-anyconnect-platform');
  const userAgent = get('user-agent') ?? '';
  const request: ConnectRequest = {
    cookie,
    addressTypes: addressTypes(get('x-cstp-address-type')),
    fullIpv6: /true/i.test(get('x-cstp-full-ipv6-capability') ?? ''),
    previousAddresses: previousAddresses(get('x-cstp-address')),
    isMobile: platform !== undefined && /^(apple-ios|android)/i.test(platform),
    isIos:
      (platform !== undefined && /^apple-ios/i.test(platform)) ||
      /^cisco anyconnect vpn agent for apple/i.test(userAgent),
    userAgent,
    agent: agentOf(userAgent),
    acceptEncoding: encodings(get('x-cstp-accept-encoding')),
  };
  const baseMtu = mtuHeader('X-CSTP-Base-MTU', get('x-cstp-base-mtu'));
  if (baseMtu !== undefined) request.baseMtu = baseMtu;
  const mtu = mtuHeader('X-CSTP-MTU', get('x-cstp-mtu'));
  if (mtu !== undefined) request.mtu = mtu;
  const hostname = get('x-cstp-hostname');
  if (hostname !== undefined && isValidHostname(hostname)) request.hostname = hostname;
  const deviceId = get('x-anyconnect-identifier-device-uniqueid');
  if (deviceId) request.deviceId = deviceId;
  if (platform) request.platform = platform;
  const platformVersion = get('x-anyconnect-identifier-platformversion');
  if (platformVersion) request.platformVersion = platformVersion;
  const deviceType = get('x-anyconnect-identifier-devicetype');
  if (deviceType) request.deviceType = deviceType;
  const dtls = dtlsOffer(get);
  if (dtls) request.dtls = dtls;
  return request;
}

/** The X-DTLS headers, when there is any (see DtlsOffer). */
function dtlsOffer(get: (name: string) => string | undefined): DtlsOffer | undefined {
  const secret = get('x-dtls-master-secret');
  const suites = get('x-dtls-ciphersuite');
  const suites12 = get('x-dtls12-ciphersuite');
  if (secret === undefined && suites === undefined && suites12 === undefined) return undefined;
  const offer: DtlsOffer = {
    cipherSuites: suiteNames('X-DTLS-CipherSuite', suites),
    dtls12CipherSuites: suiteNames('X-DTLS12-CipherSuite', suites12),
  };
  if (secret !== undefined && MASTER_SECRET.test(secret)) offer.masterSecret = Buffer.from(secret, 'hex');
  return offer;
}

/** A colon-separated list of suite names; names of another shape are left out (not ours anyway). */
function suiteNames(name: string, value: string | undefined): string[] {
  if (!value) return [];
  const names = value.split(':').map((n) => n.trim());
  if (names.length > MAX_DTLS_SUITES) throw new DecodeError(`more than ${MAX_DTLS_SUITES} ${name} entries`);
  return names.filter((n) => SUITE_NAME.test(n));
}

/** Case-insensitive lookup; one value per header except where `joiner` says how to merge repeats. */
function headerReader(headers: HeaderMap, maxValue: number) {
  const byName = new Map<string, string[]>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const values = byName.get(key) ?? [];
    values.push(...(Array.isArray(value) ? value : [value]));
    byName.set(key, values);
  }
  return (name: string, joiner?: string): string | undefined => {
    const values = byName.get(name);
    if (!values || values.length === 0) return undefined;
    if (values.length > 1 && !joiner) {
      if (new Set(values).size > 1) throw new DecodeError(`conflicting ${name} headers`);
    }
    const value = (joiner ? values.join(joiner) : values[0]!).trim();
    if (value.length > maxValue) throw new DecodeError(`${name} header longer than ${maxValue} characters`);
    return value;
  };
}

/** ocserv worker-http.c: split on ';', skip spaces, take `webvpn=`; trailing spaces trimmed. */
function webvpnCookie(header: string | undefined, maxCookie: number): string {
  let found: string | undefined;
  for (const part of (header ?? '').split(';')) {
    const pair = part.trim();
    if (!pair.startsWith('webvpn=')) continue;
    if (found !== undefined) throw new DecodeError('more than one webvpn cookie');
    found = pair.slice('webvpn='.length).trim();
  }
  if (found === undefined || found === '') throw new DecodeError('CONNECT without a webvpn cookie');
  if (found.length > maxCookie) throw new DecodeError(`webvpn cookie longer than ${maxCookie} characters`);
  if (!COOKIE_VALUE.test(found))
    throw new DecodeError('webvpn cookie has characters outside RFC 6265 cookie-octet');
  return found;
}

function mtuHeader(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value)) throw new DecodeError(`${name} is not a decimal number`);
  return Number(value);
}

/** ocserv looks for the substrings IPv4 / IPv6; we compare comma-separated tokens, case-insensitively. */
function addressTypes(value: string | undefined): ConnectRequest['addressTypes'] {
  if (value === undefined) return { ipv4: true, ipv6: true };
  const tokens = value.split(',').map((t) => t.trim().toLowerCase());
  return { ipv4: tokens.includes('ipv4'), ipv6: tokens.includes('ipv6') };
}

/** openconnect repeats X-CSTP-Address for the old IPv4 and IPv6 address; Node joins repeats with ", ". */
function previousAddresses(value: string | undefined): ConnectRequest['previousAddresses'] {
  const result: ConnectRequest['previousAddresses'] = {};
  for (const token of (value ?? '').split(',')) {
    const address = token.trim();
    if (isIPv4(address) && !result.ipv4) result.ipv4 = address;
    else if (isIPv6(address) && !result.ipv6) result.ipv6 = address;
  }
  return result;
}

/** ocserv src/valid-hostname.c, plus its MAX_HOSTNAME_SIZE. Invalid names are dropped, not fatal. */
function isValidHostname(name: string): boolean {
  return name.length > 0 && name.length <= MAX_HOSTNAME && /^[A-Za-z0-9][A-Za-z0-9-]*$/.test(name);
}

/** ocserv worker-http.c HEADER_USER_AGENT classification. */
function agentOf(userAgent: string): ConnectRequest['agent'] {
  const ua = userAgent.toLowerCase();
  if (ua.startsWith('open anyconnect vpn agent v') || ua.startsWith('openconnect vpn agent'))
    return 'openconnect';
  if (ua.startsWith('cisco anyconnect') || ua.startsWith('anyconnect')) return 'anyconnect';
  return 'unknown';
}

function encodings(value: string | undefined): string[] {
  if (!value) return [];
  const tokens = value
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
  if (tokens.length > MAX_ENCODINGS) throw new DecodeError('too many X-CSTP-Accept-Encoding entries');
  return tokens;
}
