import { describe, expect, it } from 'vitest';
import { buildConnectResponse, type HeaderMap, negotiateMtu, parseConnectRequest } from '../cstp/index.js';
import type { Session } from '../session/session.js';
import { connectParams, type GatewayPolicy, tunnelTimers } from './gateway-policy.js';

const policy: GatewayPolicy = {
  serverName: 'Outpost',
  dns: [],
  defaultDomain: null,
  splitDns: [],
  splitInclude: ['10.200.2.0/24'],
  splitExclude: [],
  ipv4PrefixLength: 24,
  ipv6PrefixLength: 112,
  timers: {
    dpd: 90,
    mobileDpd: 1800,
    keepalive: 30,
    idle: 600,
    mobileIdle: 3000,
    session: 3600,
    cookie: 300,
    rekey: 0,
  },
};

/** What openconnect 9.01 sends with --os=<os> (cstp.c append_mobile_headers; none for linux). */
function openconnect(os: 'apple-ios' | 'android' | 'linux-64'): HeaderMap {
  const headers: HeaderMap = {
    cookie: 'webvpn=abc',
    'user-agent': 'Open AnyConnect VPN Agent v9.01-3',
    'x-cstp-full-ipv6-capability': 'true',
  };
  if (os === 'linux-64') return headers;
  return {
    ...headers,
    'x-anyconnect-identifier-platform': os,
    'x-anyconnect-identifier-platformversion': '1.0',
    'x-anyconnect-identifier-devicetype': os,
    'x-anyconnect-identifier-device-uniqueid': 'A'.repeat(40),
  };
}

function replyHeaders(timers: Partial<GatewayPolicy['timers']>, os: Parameters<typeof openconnect>[0]) {
  const session = { createdAt: 0, ipv4: '10.200.100.7', ipv6: 'fd00:200::7' } as Session;
  const request = parseConnectRequest(openconnect(os));
  const params = connectParams(
    { ...policy, timers: { ...policy.timers, ...timers } },
    session,
    request,
    negotiateMtu({ configuredMtu: 1472, ipv6: true }),
    0,
  );
  return buildConnectResponse(params)
    .split('\r\n')
    .filter((line) => /^X-CSTP-(DPD|Idle-Timeout|Split-Include-IP6):/.test(line));
}

describe('mobile timers (ocserv worker-vpn.c:2202-2206)', () => {
  it.each([
    [
      'apple-ios',
      {},
      ['X-CSTP-DPD: 1800', 'X-CSTP-Split-Include-IP6: 2000::/3', 'X-CSTP-Idle-Timeout: 3000'],
    ],
    ['android', {}, ['X-CSTP-DPD: 1800', 'X-CSTP-Idle-Timeout: 3000']],
    ['linux-64', {}, ['X-CSTP-DPD: 90', 'X-CSTP-Idle-Timeout: 600']],
    // mobileIdle null: the idle timeout, as ocserv's mobile-idle-timeout default
    ['android', { mobileIdle: null }, ['X-CSTP-DPD: 1800', 'X-CSTP-Idle-Timeout: 600']],
    ['android', { mobileDpd: 300, mobileIdle: 7200 }, ['X-CSTP-DPD: 300', 'X-CSTP-Idle-Timeout: 7200']],
  ] as const)('openconnect --os=%s with %o: %j', (os, timers, expected) => {
    expect(replyHeaders(timers, os)).toEqual(expected);
  });

  it('gives the tunnel the same DPD and idle timeout as the CONNECT reply', () => {
    expect(tunnelTimers(policy.timers, { isMobile: true })).toEqual({ dpd: 1800, idle: 3000 });
    expect(tunnelTimers(policy.timers, { isMobile: false })).toEqual({ dpd: 90, idle: 600 });
    expect(tunnelTimers({ ...policy.timers, mobileIdle: null }, { isMobile: true })).toEqual({
      dpd: 1800,
      idle: 600,
    });
  });
});
