/**
 * Root-only: a real TUN device end to end. Creates a uniquely named TUN (ot-xxxxxx), configures it
 * with configureTunInterface, writes an ICMP echo request "from a client" into it and expects the
 * kernel's echo reply to come back out through the reader thread; applies and removes NAT rules in a
 * uniquely named nftables table. Everything is removed in afterAll.
 */
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinuxTunDevice } from '../tun/linux-tun-device.js';
import { icmpEchoRequest, summarizeIpv4 } from '../tun/testing/packets.js';
import { runCommand } from './command-runner.js';
import { applyNat, removeNat } from './nat-rules.js';
import { preflight } from './preflight.js';
import { configureTunInterface } from './tun-interface.js';

const isRoot = process.getuid?.() === 0;
const hasTun = fs.existsSync('/dev/net/tun');
const skipReason = !isRoot ? 'needs root (uid 0)' : !hasTun ? 'needs /dev/net/tun' : '';
if (skipReason) console.warn(`gateway/net data-plane.root.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== '')(
  `real TUN data plane${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    const name = `ot-${randomBytes(3).toString('hex')}`;
    const table = `outpost_test_${randomBytes(3).toString('hex')}`;
    const subnet = `10.251.${randomInt(1, 255)}`;
    let device: LinuxTunDevice;

    beforeAll(async () => {
      device = LinuxTunDevice.open(name, { mtu: 1400 });
      await configureTunInterface(runCommand, {
        name: device.name,
        mtu: 1400,
        ipv4: { address: `${subnet}.1`, prefixLength: 24 },
        ipv6: { address: 'fd00:7e57::1', prefixLength: 112 },
      });
    });

    afterAll(async () => {
      await device?.close();
      await runCommand('ip', ['link', 'del', name]).catch(() => {});
      await removeNat(runCommand, table).catch(() => {});
    });

    it('opens the interface with the requested name and settings', async () => {
      expect(device.name).toBe(name);
      const [link] = JSON.parse((await runCommand('ip', ['-j', 'addr', 'show', 'dev', name])).stdout);
      expect(link).toMatchObject({ mtu: 1400 });
      expect(link.flags).toContain('UP');
      const addresses = link.addr_info.map(
        (a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`,
      );
      expect(addresses).toEqual(expect.arrayContaining([`${subnet}.1/24`, 'fd00:7e57::1/112']));
    });

    it('configuring twice is harmless', async () => {
      await configureTunInterface(runCommand, {
        name,
        mtu: 1400,
        ipv4: { address: `${subnet}.1`, prefixLength: 24 },
      });
    });

    it('a client ping written into the TUN is answered by the kernel through the reader', async () => {
      const replies: Array<ReturnType<typeof summarizeIpv4>> = [];
      device.onPackets((batch) => {
        for (let i = 0; i < batch.count; i++) {
          const summary = summarizeIpv4(batch.packet(i));
          if (summary?.protocol === 1) replies.push(summary);
        }
      });
      for (let seq = 1; seq <= 3; seq++) {
        expect(device.write(icmpEchoRequest(`${subnet}.2`, `${subnet}.1`, 0x4f50, seq))).toBe(true);
      }
      const deadline = Date.now() + 5000;
      while (replies.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(replies).toHaveLength(3);
      expect(replies[0]).toEqual({
        protocol: 1,
        source: `${subnet}.1`,
        destination: `${subnet}.2`,
        icmpType: 0,
      });
      expect(device.stats()).toMatchObject({ packetsOut: 3, dropsOut: 0 });
      expect(device.stats().packetsIn).toBeGreaterThanOrEqual(3);
    });

    it('applies NAT idempotently and removes it idempotently', async () => {
      const config = { tunName: name, ipv4Pool: `${subnet}.0/24`, ipv6Pool: 'fd00:7e57::/112', table };
      await applyNat(runCommand, config);
      await applyNat(runCommand, config);
      const listed = (await runCommand('nft', ['list', 'table', 'ip', table])).stdout;
      expect(listed).toContain(`ip saddr ${subnet}.0/24 oifname != "${name}" masquerade`);
      expect(listed.match(/masquerade/g)).toHaveLength(1);
      expect((await runCommand('nft', ['list', 'table', 'ip6', table])).stdout).toContain('masquerade');
      await removeNat(runCommand, table);
      await removeNat(runCommand, table);
      await expect(runCommand('nft', ['list', 'table', 'ip', table])).rejects.toThrow(
        /No such file|does not exist/,
      );
    });

    it('preflight sees the device and the capability on this host', () => {
      const checks = preflight({ ipv6: false }).map((p) => p.check);
      expect(checks).not.toContain('tun-device');
      expect(checks).not.toContain('cap-net-admin');
    });

    it('close() removes the non-persistent interface', async () => {
      await device.close();
      await expect(runCommand('ip', ['link', 'show', 'dev', name])).rejects.toThrow(/does not exist/);
    });
  },
);
