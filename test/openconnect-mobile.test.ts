import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { type OpenconnectSession, startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openconnect', 'ip', 'sysctl', 'scepclient');

/**
 * Mobile clients as ocserv treats them (issue 14): openconnect's --os=apple-ios / --os=android
 * send X-AnyConnect-Identifier-Platform, which selects the mobile DPD and idle timeout (globally
 * and per group); an iOS client with IPv6 gets the 2000::/3 route; a server-side end carries its
 * reason. openconnect prints the DPD it was given ("CSTP connected. DPD 1200, Keepalive 30") and
 * hands the idle timeout to vpnc-script (IDLE_TIMEOUT).
 */
describe.skipIf(!isRoot())('openconnect as a phone (needs root: network namespaces)', () => {
  let topology: VpnTopology;
  let app: GatewayAppliance;
  let device: { certFile: string; keyFile: string };
  let groupPhone: { certFile: string; keyFile: string };

  beforeAll(async () => {
    topology = await VpnTopology.create();
    await topology.addCorpIpv6(); // IPv6 forwarding on the gateway, which an IPv6 pool needs
    app = await startGatewayAppliance(topology, {
      pool: { ipv4: '10.200.100.0/24', ipv6: 'fd00:200::/112' },
      timers: {
        dpd: 5,
        keepalive: 30,
        idle: 600,
        session: 3600,
        cookie: 60,
        mobileDpd: 1200,
        mobileIdle: 3000,
      },
      groups: {
        phones: { match: { users: ['group-phone'] }, timers: { mobileDpd: 900, mobileIdle: 2400 } },
      },
    });
    device = await enrollDevice(topology, app, 'phone');
    groupPhone = await enrollDevice(topology, app, 'group-phone');
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await topology?.destroy();
  });

  const connect = (os: string, auth = device) =>
    startOpenconnect(topology, {
      url: app.url,
      caFile: app.caFile,
      auth: { kind: 'certificate', ...auth },
      extraArgs: [`--os=${os}`],
    });
  const ipv6Includes = (vpn: OpenconnectSession) =>
    Array.from({ length: Number(vpn.env.CISCO_IPV6_SPLIT_INC ?? 0) }, (_, i) => {
      return `${vpn.env[`CISCO_IPV6_SPLIT_INC_${i}_ADDR`]}/${vpn.env[`CISCO_IPV6_SPLIT_INC_${i}_MASKLEN`]}`;
    });

  it.each([
    ['apple-ios', 1200, '3000', ['2000::/3']],
    ['android', 1200, '3000', []],
    ['linux', 5, '600', []],
  ])('--os=%s gets DPD %i, idle timeout %s and IPv6 includes %j', async (os, dpd, idle, includes) => {
    const vpn = await connect(os);
    try {
      expect(vpn.output()).toContain(`CSTP connected. DPD ${dpd}, Keepalive 30`);
      expect(vpn.env.IDLE_TIMEOUT).toBe(idle);
      expect(vpn.env.INTERNAL_IP6_ADDRESS).toMatch(/^fd00:200::[0-9a-f]+$/);
      expect(ipv6Includes(vpn)).toEqual(includes);
    } finally {
      await vpn.stop();
    }
  });

  it.each([
    ['android', 900, '2400'],
    ['linux', 5, '600'],
  ])(
    "applies a group's mobile timers to its phones only: --os=%s gets DPD %i, idle %s",
    async (os, dpd, idle) => {
      const vpn = await connect(os, groupPhone);
      try {
        expect(vpn.output()).toContain(`CSTP connected. DPD ${dpd}, Keepalive 30`);
        expect(vpn.env.IDLE_TIMEOUT).toBe(idle);
      } finally {
        await vpn.stop();
      }
    },
  );

  it('tells the client why an administrator ended its session', async () => {
    const vpn = await connect('android');
    try {
      const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout) as {
        id: string;
        user: string;
        state: string;
      }[];
      const session = listed.find((s) => s.user === 'phone' && s.state === 'connected');
      expect(session).toBeDefined();
      const exited = new Promise((resolve) => vpn.child.once('exit', resolve));
      expect((await app.cli(['sessions', 'disconnect', session!.id])).code).toBe(0);
      await exited;
      expect(vpn.output()).toContain("Received server disconnect: b0 'disconnected by an administrator'");
      expect(vpn.output()).toContain('Session terminated by server; exiting.');
    } finally {
      await vpn.stop();
    }
  });
});
