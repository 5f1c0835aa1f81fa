import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, ErrorCodes } from '../../core/errors.js';
import { parseConnectRequest } from './connect-request.js';
import { buildConnectResponse, type ConnectResponseParams } from './connect-response.js';
import { type IgnoredMtu, negotiateMtu } from './mtu.js';
import { parseCidr } from './route-format.js';
import { connectRequestHeaders, connectResponseHeaders, vpncEnvironment } from './testing/transcript.js';

describe('parseConnectRequest', () => {
  it.each(['A', 'C'] as const)("reads openconnect's CONNECT of transcript section %s", (name) => {
    const headers = connectRequestHeaders(name);
    const request = parseConnectRequest(headers);
    expect(request).toEqual({
      cookie: headers.cookie!.slice('webvpn='.length),
      baseMtu: 1500,
      mtu: 1390,
      addressTypes: { ipv4: true, ipv6: true },
      fullIpv6: true,
      hostname: 'vm',
      previousAddresses: {},
      isMobile: false,
      isIos: false,
      userAgent: 'Open AnyConnect VPN Agent v9.01-3',
      agent: 'openconnect',
      acceptEncoding: ['oc-lz4', 'lzs'],
    });
  });

  it("reads section B's DTLS offer; sections A and C (--no-dtls) have none", () => {
    const request = parseConnectRequest(connectRequestHeaders('B'));
    expect(request.cookie).toBe('APXZgfzPGv6J2bq8SK8/yPolaaRGC1QyKRk2eDa7dV4=');
    expect(request.dtls?.cipherSuites[0]).toBe('PSK-NEGOTIATE');
    expect(request.dtls?.dtls12CipherSuites).toHaveLength(8);
    expect(request.dtls?.masterSecret?.length).toBe(48);
    expect(parseConnectRequest(connectRequestHeaders('A')).dtls).toBeUndefined();
  });

  it('keeps DTLS offers bounded: a malformed master secret is dropped, odd names left out, long lists refused', () => {
    const headers = { cookie: 'webvpn=abc', 'x-dtls-ciphersuite': 'PSK-NEGOTIATE:bad name:AES128-SHA' };
    expect(parseConnectRequest({ ...headers, 'x-dtls-master-secret': 'abcd' }).dtls).toEqual({
      cipherSuites: ['PSK-NEGOTIATE', 'AES128-SHA'],
      dtls12CipherSuites: [],
    });
    expect(() =>
      parseConnectRequest({ cookie: 'webvpn=abc', 'x-dtls12-ciphersuite': Array(33).fill('A').join(':') }),
    ).toThrow(DecodeError);
  });

  const base = { cookie: 'webvpn=abc', 'user-agent': 'Open AnyConnect VPN Agent v9.01-3' };

  it('reads mobile identity headers, reconnect addresses and any header case', () => {
    const request = parseConnectRequest({
      Cookie: 'webvpncontext=x; webvpn=tok123 ',
      'User-Agent': 'Cisco AnyConnect VPN Agent for Apple iPhone 4.10',
      'X-AnyConnect-Identifier-Platform': 'apple-ios',
      'X-AnyConnect-Identifier-PlatformVersion': '17.5',
      'X-AnyConnect-Identifier-DeviceType': 'iPhone15,2',
      'X-AnyConnect-Identifier-Device-UniqueID': 'A1B2C3',
      'X-CSTP-Address': '10.200.100.55, fd00:200::37',
      'X-CSTP-Address-Type': 'IPv4',
    });
    expect(request).toMatchObject({
      cookie: 'tok123',
      platform: 'apple-ios',
      platformVersion: '17.5',
      deviceType: 'iPhone15,2',
      deviceId: 'A1B2C3',
      isMobile: true,
      isIos: true,
      agent: 'anyconnect',
      previousAddresses: { ipv4: '10.200.100.55', ipv6: 'fd00:200::37' },
      addressTypes: { ipv4: true, ipv6: false },
      fullIpv6: false,
    });
    expect(request.baseMtu).toBeUndefined();
  });

  // openconnect 9.01 with --os=apple-ios / --os=android (main.c OPT_OS sets the generic mobile
  // info; cstp.c append_mobile_headers); without --os it sends no Identifier-* header at all.
  const openconnectMobile = (os: string) => ({
    ...base,
    'x-anyconnect-identifier-clientversion': 'v9.01-3',
    'x-anyconnect-identifier-platform': os,
    'x-anyconnect-identifier-platformversion': '1.0',
    'x-anyconnect-identifier-devicetype': os,
    'x-anyconnect-identifier-device-uniqueid': 'A'.repeat(40),
  });

  it.each([
    ['openconnect --os=apple-ios', openconnectMobile('apple-ios'), true, true],
    ['openconnect --os=android', openconnectMobile('android'), true, false],
    ['openconnect --os=linux-64 (no identifier headers)', base, false, false],
    ['platform in another case', { ...base, 'x-anyconnect-identifier-platform': 'Apple-iOS 17' }, true, true],
    ['platform android-tv', { ...base, 'x-anyconnect-identifier-platform': 'android-tv' }, true, false],
    ['platform win', { ...base, 'x-anyconnect-identifier-platform': 'win' }, false, false],
    // ocserv sets is_ios from this User-Agent alone, without is_mobile (worker-http.c:434-440).
    [
      'AnyConnect iOS User-Agent only',
      { ...base, 'user-agent': 'Cisco AnyConnect VPN Agent for Apple iPad 4.9' },
      false,
      true,
    ],
    [
      'AnyConnect macOS',
      { ...base, 'user-agent': 'Cisco AnyConnect VPN Agent for Mac OS X 4.10' },
      false,
      false,
    ],
  ])('classifies %s as ocserv does (mobile %s, iOS %s)', (_name, headers, isMobile, isIos) => {
    expect(parseConnectRequest(headers)).toMatchObject({ isMobile, isIos });
  });

  it('keeps any decimal MTU for negotiateMtu to bound', () => {
    const request = parseConnectRequest({ ...base, 'x-cstp-base-mtu': '0', 'x-cstp-mtu': '9999999999' });
    expect(request).toMatchObject({ baseMtu: 0, mtu: 9999999999 });
  });

  it('drops a hostname ocserv would drop, keeps the request', () => {
    for (const hostname of ['-vm', 'vm.corp.test', 'a'.repeat(64), 'x y', '']) {
      expect(parseConnectRequest({ ...base, 'x-cstp-hostname': hostname }).hostname).toBeUndefined();
    }
    expect(parseConnectRequest({ ...base, 'x-cstp-hostname': 'a'.repeat(63) }).hostname).toHaveLength(63);
  });

  it.each([
    ['no cookie', { 'user-agent': 'x' }],
    ['no webvpn cookie', { cookie: 'webvpncontext=abc' }],
    ['empty webvpn cookie', { cookie: 'webvpn=' }],
    ['two webvpn cookies', { cookie: 'webvpn=a; webvpn=b' }],
    ['cookie with a quote', { cookie: 'webvpn=a"b' }],
    ['oversized cookie', { cookie: `webvpn=${'a'.repeat(513)}` }],
    ['non-numeric base MTU', { ...base, 'x-cstp-base-mtu': '1500abc' }],
    ['signed base MTU', { ...base, 'x-cstp-base-mtu': '+1500' }],
    ['fractional base MTU', { ...base, 'x-cstp-base-mtu': '1500.5' }],
    ['base MTU of 11 digits', { ...base, 'x-cstp-base-mtu': '15000000000' }],
    ['negative MTU', { ...base, 'x-cstp-mtu': '-1' }],
    ['hex MTU', { ...base, 'x-cstp-mtu': '0x5dc' }],
    ['oversized user agent', { ...base, 'user-agent': 'u'.repeat(1025) }],
    ['conflicting duplicate', { ...base, 'x-cstp-base-mtu': ['1400', '1500'] }],
    ['too many encodings', { ...base, 'x-cstp-accept-encoding': Array(17).fill('lzs').join(',') }],
  ])('rejects %s with DecodeError', (_name, headers) => {
    expect(() => parseConnectRequest(headers)).toThrow(DecodeError);
  });

  it('says which MTU header is malformed', () => {
    expect(() => parseConnectRequest({ ...base, 'x-cstp-base-mtu': '1500abc' })).toThrow(
      'X-CSTP-Base-MTU is not a decimal number',
    );
  });

  it('joins repeated Cookie headers like Node does', () => {
    expect(parseConnectRequest({ cookie: ['a=1', 'webvpn=tok'] }).cookie).toBe('tok');
  });

  it('throws nothing but DecodeError on arbitrary header maps', () => {
    const value = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
    );
    const names = fc.constantFrom(
      'cookie',
      'x-cstp-base-mtu',
      'x-cstp-mtu',
      'x-cstp-address-type',
      'x-cstp-hostname',
      'x-cstp-address',
      'user-agent',
      'x-cstp-accept-encoding',
      'x-anyconnect-identifier-platform',
    );
    fc.assert(
      fc.property(fc.dictionary(names, value), (headers) => {
        try {
          parseConnectRequest(headers);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('negotiateMtu (ocserv worker-vpn.c, TLS only)', () => {
  /** The server's own MTU (tun 1472 over IPv4), with the client value it ignored and why. */
  const ownMtu = (source: IgnoredMtu['source'], value: number, reason: string) => ({
    baseMtu: 1500,
    mtu: 1472,
    ipv6Capable: true,
    ignored: [{ source, value, reason }],
  });

  it('gives openconnect 1472 for base 1500, as ocserv did in the transcript', () => {
    const request = parseConnectRequest(connectRequestHeaders('A'));
    const answer = Object.fromEntries(connectResponseHeaders('A'));
    const mtu = negotiateMtu({ baseMtu: request.baseMtu, clientMtu: request.mtu, configuredMtu: 1472 });
    expect(mtu).toEqual({
      baseMtu: Number(answer['X-CSTP-Base-MTU']),
      mtu: Number(answer['X-CSTP-MTU']),
      ipv6Capable: true,
    });
    expect(mtu).toEqual({ baseMtu: 1500, mtu: 1472, ipv6Capable: true });
  });

  it.each([
    [
      { baseMtu: 1400, configuredMtu: 1472 },
      { baseMtu: 1400, mtu: 1372, ipv6Capable: true },
    ],
    [
      { baseMtu: 9000, configuredMtu: 1472 },
      { baseMtu: 1500, mtu: 1472, ipv6Capable: true },
    ],
    [
      { baseMtu: 1500, configuredMtu: 1400 },
      { baseMtu: 1428, mtu: 1400, ipv6Capable: true },
    ],
    [
      { baseMtu: 1500, configuredMtu: 1472, transport: 'ipv6' as const },
      { baseMtu: 1500, mtu: 1452, ipv6Capable: true },
    ],
    [
      { baseMtu: 1300, configuredMtu: 1472 },
      { baseMtu: 1300, mtu: 1272, ipv6Capable: false },
    ],
    // Old clients: only X-CSTP-MTU; ocserv adds the worst-case DTLS overhead back.
    [
      { clientMtu: 1300, configuredMtu: 1472 },
      { baseMtu: 1394, mtu: 1366, ipv6Capable: true },
    ],
    [{ configuredMtu: 1472 }, { baseMtu: 1500, mtu: 1472, ipv6Capable: true }],
    [
      { baseMtu: 1500, configuredMtu: 1472, pathMtu: 1450 },
      { baseMtu: 1450, mtu: 1422, ipv6Capable: true },
    ],
    // ocserv's floor (MIN_MTU 800, 1280 with IPv6) and ceiling (16384): ignored, not clamped.
    [
      { baseMtu: 800, configuredMtu: 1472 },
      { baseMtu: 800, mtu: 772, ipv6Capable: false },
    ],
    [{ baseMtu: 100, configuredMtu: 1472 }, ownMtu('X-CSTP-Base-MTU', 100, 'below the minimum 800')],
    [
      // a base MTU below the floor is ignored and X-CSTP-MTU is not consulted (ocserv's else-if)
      { baseMtu: 799, clientMtu: 1300, configuredMtu: 1472 },
      ownMtu('X-CSTP-Base-MTU', 799, 'below the minimum 800'),
    ],
    [
      { baseMtu: 1279, configuredMtu: 1472, ipv6: true },
      ownMtu('X-CSTP-Base-MTU', 1279, 'below the minimum 1280'),
    ],
    [
      { baseMtu: 1280, configuredMtu: 1472, ipv6: true },
      { baseMtu: 1280, mtu: 1252, ipv6Capable: false },
    ],
    [
      // above 16384 counts as not sent (ocserv worker-http.c), so X-CSTP-MTU is used
      { baseMtu: 16385, clientMtu: 1300, configuredMtu: 1472 },
      {
        baseMtu: 1394,
        mtu: 1366,
        ipv6Capable: true,
        ignored: [{ source: 'X-CSTP-Base-MTU', value: 16385, reason: 'not in 1..16384' }],
      },
    ],
    [
      { baseMtu: 0, clientMtu: 1300, configuredMtu: 1472 },
      { baseMtu: 1394, mtu: 1366, ipv6Capable: true },
    ],
    [
      { clientMtu: 700, configuredMtu: 1472 },
      ownMtu('X-CSTP-MTU', 700, 'link MTU 794 below the minimum 800'),
    ],
    [{ clientMtu: 9999999999, configuredMtu: 1472 }, ownMtu('X-CSTP-MTU', 9999999999, 'not in 1..16384')],
    [{ baseMtu: 1500, pathMtu: 700, configuredMtu: 1472 }, ownMtu('path MTU', 700, 'below the minimum 800')],
  ])('%o → %o', (inputs, expected) => {
    expect(negotiateMtu(inputs)).toStrictEqual(expected);
  });

  it('keeps the link within [floor, configured] and the data MTU positive for any client values', () => {
    const clientValue = fc.option(
      fc.oneof(
        fc.integer({ min: -5, max: 20_000 }),
        fc.integer(),
        fc.constantFrom(0, 799, 800, 1279, 1280, 16384, 16385, 2 ** 32, Number.NaN, 1.5, Infinity),
      ),
      { nil: undefined },
    );
    fc.assert(
      fc.property(
        fc.record({
          baseMtu: clientValue,
          clientMtu: clientValue,
          pathMtu: clientValue,
          configuredMtu: fc.integer({ min: 1280, max: 9000 }), // gateway.tun.mtu's schema range
          transport: fc.constantFrom('ipv4' as const, 'ipv6' as const),
          ipv6: fc.boolean(),
        }),
        (inputs) => {
          const result = negotiateMtu(inputs);
          const overhead = inputs.transport === 'ipv6' ? 48 : 28;
          const configuredLink = inputs.configuredMtu + overhead;
          expect(Number.isInteger(result.baseMtu)).toBe(true);
          expect(result.baseMtu).toBeLessThanOrEqual(configuredLink);
          expect(result.baseMtu).toBeGreaterThanOrEqual(Math.min(configuredLink, inputs.ipv6 ? 1280 : 800));
          expect(result.mtu).toBe(result.baseMtu - overhead);
          expect(result.mtu).toBeGreaterThan(0);
          expect(result.ipv6Capable).toBe(result.mtu >= 1280);
          // a usable base MTU is honoured exactly (capped by the configured link)
          const base = inputs.baseMtu;
          const usable = base !== undefined && Number.isInteger(base) && base >= (inputs.ipv6 ? 1280 : 800);
          if (usable && base <= 16384 && inputs.pathMtu === undefined)
            expect(result.baseMtu).toBe(Math.min(base, configuredLink));
          for (const ignored of result.ignored ?? []) expect(ignored.reason).not.toBe('');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** The server configuration behind the transcript, in our parameters. */
function transcriptServer(): ConnectResponseParams {
  const request = parseConnectRequest(connectRequestHeaders('A'));
  return {
    serverName: 'Outpost 0.1.0',
    hostname: request.hostname,
    client: request,
    mtu: negotiateMtu({ baseMtu: request.baseMtu, clientMtu: request.mtu, configuredMtu: 1472 }),
    ipv4: { address: '10.200.100.55', prefixLength: 24 },
    dns: ['10.200.2.53'],
    defaultDomain: 'corp.test',
    splitInclude: ['10.200.2.0/24'],
    timers: { dpd: 90, keepalive: 32400, idle: null, session: null, rekey: 172800 },
  };
}

function headerList(head: string): [string, string][] {
  expect(head.startsWith('HTTP/1.1 200 CONNECTED\r\n')).toBe(true);
  expect(head.endsWith('\r\n\r\n')).toBe(true);
  return head
    .slice('HTTP/1.1 200 CONNECTED\r\n'.length, -4)
    .split('\r\n')
    .map((line) => {
      const colon = line.indexOf(': ');
      return [line.slice(0, colon), line.slice(colon + 2)] as [string, string];
    });
}

/**
 * openconnect's derivation of the vpnc-script environment from CONNECT reply headers
 * (cstp.c start_cstp_connection + script.c set_ip_env / set_split_include), enough of it for
 * the headers we send, so our reply can be checked against what openconnect handed vpnc-script.
 */
function openconnectEnvironment(headers: [string, string][]): Record<string, string> {
  const env: Record<string, string> = {};
  const dns: string[] = [];
  const includes: string[] = [];
  let mtu = 0;
  for (const [name, value] of headers) {
    if (name === 'X-CSTP-Address' && !value.includes(':')) env.INTERNAL_IP4_ADDRESS = value;
    if (name === 'X-CSTP-Netmask' && !value.includes(':')) env.INTERNAL_IP4_NETMASK = value;
    if (name === 'X-CSTP-MTU') mtu = Math.max(mtu, Number(value));
    if (name === 'X-CSTP-DNS') dns.push(value);
    if (name === 'X-CSTP-Default-Domain') env.CISCO_DEF_DOMAIN = value;
    if (name === 'X-CSTP-Split-Include') includes.push(value);
  }
  const toInt = (a: string) => a.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
  const toIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  const maskLen = (m: string) => toInt(m).toString(2).replace(/0/g, '').length;
  if (env.INTERNAL_IP4_ADDRESS && env.INTERNAL_IP4_NETMASK) {
    env.INTERNAL_IP4_NETADDR = toIp(
      (toInt(env.INTERNAL_IP4_ADDRESS) & toInt(env.INTERNAL_IP4_NETMASK)) >>> 0,
    );
    env.INTERNAL_IP4_NETMASKLEN = String(maskLen(env.INTERNAL_IP4_NETMASK));
  }
  env.INTERNAL_IP4_MTU = String(mtu);
  if (dns.length) env.INTERNAL_IP4_DNS = dns.join(' ');
  if (includes.length) env.CISCO_SPLIT_INC = String(includes.length);
  includes.forEach((route, i) => {
    const [addr, mask] = route.split('/') as [string, string];
    env[`CISCO_SPLIT_INC_${i}_ADDR`] = addr;
    env[`CISCO_SPLIT_INC_${i}_MASK`] = mask;
    env[`CISCO_SPLIT_INC_${i}_MASKLEN`] = String(maskLen(mask));
  });
  return env;
}

describe('buildConnectResponse', () => {
  /** Where we differ from ocserv 1.1.6 on purpose (see connect-response.ts). */
  const deliberate = new Set([
    'X-CSTP-Server-Name',
    'X-CSTP-Rekey-Time', // ocserv adds random fuzz
    'X-CSTP-Rekey-Method', // ssl → new-tunnel
    'X-CSTP-Lease-Duration',
    'X-CSTP-Session-Timeout',
    'X-CSTP-Session-Timeout-Remaining',
    'X-CSTP-Routing-Filtering-Ignore',
    'X-CSTP-Quarantine',
  ]);

  it.each(['A', 'C'] as const)('sends the header set and order of ocserv in section %s', (name) => {
    const ours = headerList(buildConnectResponse(transcriptServer())).filter(([n]) => !deliberate.has(n));
    const theirs = connectResponseHeaders(name).filter(([n]) => !deliberate.has(n));
    expect(ours).toEqual(theirs);
  });

  it('sends the deliberate differences exactly', () => {
    const ours = headerList(buildConnectResponse(transcriptServer())).filter(([n]) => deliberate.has(n));
    expect(ours).toEqual([
      ['X-CSTP-Server-Name', 'Outpost 0.1.0'],
      ['X-CSTP-Rekey-Time', '172800'],
      ['X-CSTP-Rekey-Method', 'new-tunnel'],
      ['X-CSTP-Lease-Duration', 'none'],
      ['X-CSTP-Session-Timeout', 'none'],
      ['X-CSTP-Routing-Filtering-Ignore', 'false'],
      ['X-CSTP-Quarantine', 'false'],
    ]);
  });

  it.each(['A', 'C'] as const)(
    'makes openconnect derive the vpnc-script environment of section %s',
    (name) => {
      const expected = vpncEnvironment(name);
      for (const key of ['TUNDEV', 'VPNGATEWAY', 'VPNPID', 'reason', 'CISCO_CSTP_OPTIONS'])
        delete expected[key];
      const fromOcserv = openconnectEnvironment(connectResponseHeaders(name));
      expect(fromOcserv).toEqual(expected); // the derivation itself is faithful to openconnect
      expect(openconnectEnvironment(headerList(buildConnectResponse(transcriptServer())))).toEqual(expected);
    },
  );

  it("answers PSK-NEGOTIATE with section B's DTLS header set and order (1434 = 1500 - 28 - 38)", () => {
    const request = parseConnectRequest(connectRequestHeaders('B'));
    const params: ConnectResponseParams = {
      ...transcriptServer(),
      mtu: negotiateMtu({ baseMtu: request.baseMtu, configuredMtu: 1472, datagramOverhead: 38 }),
      dtls: {
        port: 443,
        dpd: 90,
        keepalive: 32400,
        rekey: 172800,
        channel: { mode: 'psk', appId: Buffer.alloc(32, 0xab) },
      },
    };
    const tail = (headers: [string, string][]) =>
      headers.slice(headers.findIndex(([n]) => n.startsWith('X-DTLS')));
    const ours = tail(headerList(buildConnectResponse(params)));
    const theirs = tail(connectResponseHeaders('B'));
    expect(ours.map(([n]) => n)).toEqual(theirs.map(([n]) => n));
    expect(Object.fromEntries(ours)).toEqual({
      ...Object.fromEntries(theirs),
      'X-DTLS-Rekey-Time': '172800', // ocserv adds random fuzz
      'X-DTLS-Rekey-Method': 'new-tunnel', // as X-CSTP-Rekey-Method
      'X-DTLS-App-ID': 'ab'.repeat(32),
    });
  });

  it('answers the legacy protocol with X-DTLS-Session-ID, the suite in its own header, and X-DTLS-MTU', () => {
    const lines = (dtls12Header: boolean) =>
      headerList(
        buildConnectResponse({
          ...transcriptServer(),
          dtls: {
            port: 4443,
            dpd: 0,
            keepalive: 30,
            channel: {
              mode: 'legacy',
              sessionId: Buffer.alloc(32, 1),
              cipherSuite: 'X',
              dtls12Header,
              mtu: 1434,
            },
          },
        }),
      ).filter(([n]) => n.startsWith('X-DTLS'));
    expect(lines(false)).toEqual([
      ['X-DTLS-Port', '4443'],
      ['X-DTLS-Keepalive', '30'],
      ['X-DTLS-Session-ID', '01'.repeat(32)],
      ['X-DTLS-CipherSuite', 'X'],
      ['X-DTLS-MTU', '1434'],
    ]);
    expect(lines(true)[3]).toEqual(['X-DTLS12-CipherSuite', 'X']);
  });

  it('is a byte-exact response head', () => {
    expect(buildConnectResponse(transcriptServer())).toBe(
      [
        'HTTP/1.1 200 CONNECTED',
        'X-CSTP-Version: 1',
        'X-CSTP-Server-Name: Outpost 0.1.0',
        'X-CSTP-Hostname: vm',
        'X-CSTP-DPD: 90',
        'X-CSTP-Default-Domain: corp.test',
        'X-CSTP-Address: 10.200.100.55',
        'X-CSTP-Netmask: 255.255.255.0',
        'X-CSTP-DNS: 10.200.2.53',
        'X-CSTP-Split-Include: 10.200.2.0/255.255.255.0',
        'X-CSTP-Tunnel-All-DNS: false',
        'X-CSTP-Client-Bypass-Protocol: false',
        'X-CSTP-Keepalive: 32400',
        'X-CSTP-Idle-Timeout: none',
        'X-CSTP-Smartcard-Removal-Disconnect: true',
        'X-CSTP-Rekey-Time: 172800',
        'X-CSTP-Rekey-Method: new-tunnel',
        'X-CSTP-Lease-Duration: none',
        'X-CSTP-Session-Timeout: none',
        'X-CSTP-Disconnected-Timeout: none',
        'X-CSTP-Keep: true',
        'X-CSTP-TCP-Keepalive: true',
        'X-CSTP-License: accept',
        'X-CSTP-Routing-Filtering-Ignore: false',
        'X-CSTP-Quarantine: false',
        'X-CSTP-Base-MTU: 1500',
        'X-CSTP-MTU: 1472',
        '',
        '',
      ].join('\r\n'),
    );
  });

  it('sends IPv6, split DNS, excludes and timers for a full-IPv6 client', () => {
    const params: ConnectResponseParams = {
      ...transcriptServer(),
      ipv6: { address: 'fd00:200::37', prefixLength: 112 },
      dns: ['10.200.2.53', 'fd00:2::53'],
      splitDns: ['corp.test', 'lab.corp.test'],
      splitInclude: ['10.200.2.7/24', 'fd00:2::/64'],
      splitExclude: ['10.200.2.128/25', 'fd00:2:0:0:8000::/65'],
      tunnelAllDns: true,
      timers: {
        dpd: 0,
        keepalive: 30,
        idle: 1800,
        session: 3600,
        sessionRemaining: 1200,
        disconnected: 300,
        rekey: 0,
      },
      banner: 'Welcome to corp',
    };
    const headers = headerList(buildConnectResponse(params));
    const pick = (...names: string[]) => headers.filter(([n]) => names.includes(n));
    expect(pick('X-CSTP-DPD')).toEqual([]);
    expect(pick('X-CSTP-Address-IP6', 'X-CSTP-DNS', 'X-CSTP-Split-DNS')).toEqual([
      ['X-CSTP-Address-IP6', 'fd00:200::37/112'],
      ['X-CSTP-DNS', '10.200.2.53'],
      ['X-CSTP-DNS', 'fd00:2::53'],
      ['X-CSTP-Split-DNS', 'corp.test'],
      ['X-CSTP-Split-DNS', 'lab.corp.test'],
    ]);
    expect(headers.filter(([n]) => n.startsWith('X-CSTP-Split-') && n !== 'X-CSTP-Split-DNS')).toEqual([
      ['X-CSTP-Split-Include', '10.200.2.0/255.255.255.0'],
      ['X-CSTP-Split-Include-IP6', 'fd00:2::/64'],
      ['X-CSTP-Split-Exclude', '10.200.2.128/255.255.255.128'],
      ['X-CSTP-Split-Exclude-IP6', 'fd00:2:0:0:8000::/65'],
    ]);
    expect(
      pick(
        'X-CSTP-Tunnel-All-DNS',
        'X-CSTP-Idle-Timeout',
        'X-CSTP-Rekey-Method',
        'X-CSTP-Lease-Duration',
        'X-CSTP-Session-Timeout',
        'X-CSTP-Session-Timeout-Remaining',
        'X-CSTP-Disconnected-Timeout',
        'X-CSTP-Banner',
      ),
    ).toEqual([
      ['X-CSTP-Tunnel-All-DNS', 'true'],
      ['X-CSTP-Idle-Timeout', '1800'],
      ['X-CSTP-Rekey-Method', 'none'],
      ['X-CSTP-Lease-Duration', '3600'],
      ['X-CSTP-Session-Timeout', '3600'],
      ['X-CSTP-Session-Timeout-Remaining', '1200'],
      ['X-CSTP-Disconnected-Timeout', '300'],
      ['X-CSTP-Banner', 'Welcome to corp'],
    ]);
    expect(headers.some(([n]) => n.startsWith('X-DTLS'))).toBe(false);
  });

  it('follows ocserv: no IPv6 routes/DNS without Full-IPv6-Capability, legacy address form', () => {
    const params: ConnectResponseParams = {
      ...transcriptServer(),
      client: {
        addressTypes: { ipv4: true, ipv6: true },
        fullIpv6: false,
        agent: 'openconnect',
        isIos: false,
      },
      ipv6: { address: 'fd00:200::37', prefixLength: 112 },
      dns: ['fd00:2::53'],
      splitInclude: ['fd00:2::/64', '10.0.0.0/8'],
    };
    const headers = headerList(buildConnectResponse(params));
    expect(headers.filter(([, v]) => v.includes(':'))).toEqual([
      ['X-CSTP-Address', 'fd00:200::37'],
      ['X-CSTP-Netmask', 'fd00:200::37/112'],
    ]);
  });

  it('sends IPv6 DNS as X-CSTP-DNS-IP6 to AnyConnect, and nothing IPv6 below a 1280 MTU', () => {
    const anyconnect: ConnectResponseParams = {
      ...transcriptServer(),
      client: { addressTypes: { ipv4: true, ipv6: true }, fullIpv6: true, agent: 'anyconnect', isIos: false },
      ipv6: { address: 'fd00:200::37', prefixLength: 112 },
      dns: ['fd00:2::53'],
    };
    expect(headerList(buildConnectResponse(anyconnect))).toContainEqual(['X-CSTP-DNS-IP6', 'fd00:2::53']);
    const small = { ...anyconnect, mtu: negotiateMtu({ baseMtu: 1300, configuredMtu: 1472 }) };
    expect(headerList(buildConnectResponse(small)).filter(([, v]) => v.includes(':'))).toEqual([]);
  });

  describe('the 2000::/3 route for iOS (ocserv worker-vpn.c:2419-2425)', () => {
    const ios = {
      addressTypes: { ipv4: true, ipv6: true },
      fullIpv6: true,
      agent: 'openconnect',
      isIos: true,
    } as const;
    const dualStack: ConnectResponseParams = {
      ...transcriptServer(),
      client: ios,
      ipv6: { address: 'fd00:200::37', prefixLength: 112 },
      splitDns: ['corp.test'],
      splitInclude: [],
    };
    const appleRoute = (params: ConnectResponseParams) =>
      headerList(buildConnectResponse(params)).filter(([, v]) => v === '2000::/3');

    it.each([
      ['an iOS client with IPv6, full tunnel', {}, true],
      ['an iOS client with IPv6, split tunnel', { splitInclude: ['10.200.2.0/24', 'fd00:2::/64'] }, true],
      ['an iOS AnyConnect (User-Agent)', { client: { ...ios, agent: 'anyconnect' as const } }, true],
      ['routes with the IPv4 default route', { splitInclude: ['0.0.0.0/0', 'fd00:2::/64'] }, false],
      ['an Android client', { client: { ...ios, isIos: false } }, false],
      ['no X-CSTP-Full-IPv6-Capability', { client: { ...ios, fullIpv6: false } }, false],
      [
        'IPv6 refused by X-CSTP-Address-Type',
        { client: { ...ios, addressTypes: { ipv4: true, ipv6: false } } },
        false,
      ],
      ['no IPv6 address (no IPv6 pool)', { ipv6: undefined }, false],
      ['an MTU too small for IPv6', { mtu: negotiateMtu({ baseMtu: 1300, configuredMtu: 1472 }) }, false],
    ])('%s: sent %s', (_name, patch: Partial<ConnectResponseParams>, sent) => {
      expect(appleRoute({ ...dualStack, ...patch })).toEqual(
        sent ? [['X-CSTP-Split-Include-IP6', '2000::/3']] : [],
      );
    });

    it('comes right after the split DNS lines, before the configured routes, as in ocserv', () => {
      const headers = headerList(
        buildConnectResponse({ ...dualStack, splitInclude: ['10.200.2.0/24', 'fd00:2::/64'] }),
      );
      const at = headers.findIndex(([, v]) => v === '2000::/3');
      expect(headers.slice(at - 1, at + 3)).toEqual([
        ['X-CSTP-Split-DNS', 'corp.test'],
        ['X-CSTP-Split-Include-IP6', '2000::/3'],
        ['X-CSTP-Split-Include', '10.200.2.0/255.255.255.0'],
        ['X-CSTP-Split-Include-IP6', 'fd00:2::/64'],
      ]);
    });
  });

  it('tunnels everything, DNS included, without split includes', () => {
    const headers = headerList(buildConnectResponse({ ...transcriptServer(), splitInclude: [] }));
    expect(headers).toContainEqual(['X-CSTP-Tunnel-All-DNS', 'true']);
    expect(headers.some(([n]) => n === 'X-CSTP-Split-Include')).toBe(false);
  });

  it('refuses header injection, bad addresses and too many rules', () => {
    const bad: Partial<ConnectResponseParams>[] = [
      { defaultDomain: 'corp.test\r\nX-Evil: 1' },
      { serverName: 'a\nb' },
      { dns: ['not-an-ip'] },
      { splitInclude: ['10.0.0.0/33'] },
      { splitExclude: ['10.0.0.0'] },
      { ipv4: { address: '10.0.0.256', prefixLength: 24 } },
      { ipv4: { address: '10.0.0.1', prefixLength: 33 } },
    ];
    for (const patch of bad) {
      expect(() => buildConnectResponse({ ...transcriptServer(), ...patch })).toThrow(
        expect.objectContaining({ code: ErrorCodes.config }),
      );
    }
    const many = Array.from({ length: 501 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    expect(() => buildConnectResponse({ ...transcriptServer(), splitInclude: many })).toThrow(
      expect.objectContaining({ code: ErrorCodes.limit }),
    );
    expect(() =>
      buildConnectResponse({ ...transcriptServer(), splitInclude: many.slice(0, 500) }),
    ).not.toThrow();
  });
});

describe('parseCidr', () => {
  it('normalises IPv4 to network/netmask and validates', () => {
    expect(parseCidr('10.200.2.9/24')).toEqual({
      family: 4,
      network: '10.200.2.0',
      netmask: '255.255.255.0',
      prefix: 24,
    });
    expect(parseCidr('0.0.0.0/0')).toEqual({ family: 4, network: '0.0.0.0', netmask: '0.0.0.0', prefix: 0 });
    expect(parseCidr('1.2.3.4/32')).toMatchObject({ network: '1.2.3.4', netmask: '255.255.255.255' });
    expect(parseCidr('fd00::/8')).toEqual({ family: 6, cidr: 'fd00::/8' });
    for (const bad of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/x', 'fd00::/129', 'x/8', '10.0.0.0/0032']) {
      expect(parseCidr(bad)).toBeUndefined();
    }
  });
});
