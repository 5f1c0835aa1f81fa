import { describe, expect, it } from 'vitest';
import type { CommandRunner } from './command-runner.js';
import { configureTunInterface, tunInterfaceCommands } from './tun-interface.js';

describe('tunInterfaceCommands', () => {
  it('sets mtu, the gateway address with the pool prefix, then up', () => {
    expect(
      tunInterfaceCommands({
        name: 'outpost0',
        mtu: 1472,
        ipv4: { address: '10.200.100.1', prefixLength: 24 },
      }),
    ).toEqual([
      ['link', 'set', 'dev', 'outpost0', 'mtu', '1472'],
      ['-4', 'addr', 'replace', '10.200.100.1/24', 'dev', 'outpost0'],
      ['link', 'set', 'dev', 'outpost0', 'up'],
    ]);
  });

  it('adds the IPv6 address without duplicate address detection', async () => {
    const calls: string[] = [];
    const run: CommandRunner = async (command, args) => {
      calls.push([command, ...args].join(' '));
      return { stdout: '', stderr: '' };
    };
    await configureTunInterface(run, {
      name: 'ot0',
      mtu: 1400,
      ipv4: { address: '10.0.0.1', prefixLength: 16 },
      ipv6: { address: 'fd00:200::1', prefixLength: 112 },
    });
    expect(calls).toContain('ip -6 addr replace fd00:200::1/112 dev ot0 nodad');
    expect(calls.at(-1)).toBe('ip link set dev ot0 up');
  });
});
