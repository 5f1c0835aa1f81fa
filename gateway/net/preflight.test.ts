import { describe, expect, it } from 'vitest';
import { assertPreflight, type PreflightHost, preflight } from './preflight.js';

function host(files: Record<string, string>, tunError?: string): PreflightHost {
  return {
    readFile(path) {
      const content = files[path];
      if (content === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return content;
    },
    probeTun() {
      if (tunError) throw Object.assign(new Error(tunError), { code: tunError });
    },
  };
}

const READY = {
  '/proc/self/status': 'Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t00000000a80435fb\n',
  '/proc/sys/net/ipv4/ip_forward': '1\n',
  '/proc/sys/net/ipv6/conf/all/forwarding': '1\n',
};

describe('preflight', () => {
  it('passes on a ready host', () => {
    expect(preflight({ ipv6: true }, host(READY))).toEqual([]);
    expect(() => assertPreflight({ ipv6: true }, host(READY))).not.toThrow();
  });

  it('reports every problem with its fix', () => {
    const problems = preflight(
      { ipv6: true },
      host(
        {
          '/proc/self/status': 'CapEff:\t00000000a80425fb\n', // Docker's default set: bit 12 cleared
          '/proc/sys/net/ipv4/ip_forward': '0\n',
          '/proc/sys/net/ipv6/conf/all/forwarding': '0\n',
        },
        'ENOENT',
      ),
    );
    expect(problems.map((p) => p.check)).toEqual([
      'tun-device',
      'cap-net-admin',
      'ipv4-forwarding',
      'ipv6-forwarding',
    ]);
    expect(problems[0]!.fix).toMatch(/--device \/dev\/net\/tun/);
    expect(problems[1]!.fix).toMatch(/--cap-add NET_ADMIN/);
    expect(problems[2]!.fix).toMatch(/sysctl -w net.ipv4.ip_forward=1/);
    expect(problems[3]!.fix).toMatch(/net.ipv6.conf.all.forwarding=1/);
  });

  it('ignores IPv6 forwarding without an IPv6 pool and explains an EPERM on the device', () => {
    const problems = preflight(
      { ipv6: false },
      host({ ...READY, '/proc/sys/net/ipv6/conf/all/forwarding': '0' }, 'EPERM'),
    );
    expect(problems).toEqual([
      expect.objectContaining({ check: 'tun-device', fix: expect.stringMatching(/NET_ADMIN/) }),
    ]);
  });

  it.each([
    // The image's user: --cap-add alone leaves its effective set empty, so the hint says --user 0.
    [
      'uid 10001 (the image)',
      'Uid:\t10001\t10001\t10001\t10001\n',
      /uid 10001.*docker run --user 0 --cap-add NET_ADMIN/,
    ],
    ['root', 'Uid:\t0\t0\t0\t0\n', /^docker run --cap-add NET_ADMIN/],
  ])('gives the capability hint that works for %s', (_name, uidLine, fix) => {
    const problems = preflight(
      { ipv6: false },
      host({ ...READY, '/proc/self/status': `${uidLine}CapEff:\t0000000000000000\n` }),
    );
    expect(problems).toEqual([
      expect.objectContaining({ check: 'cap-net-admin', fix: expect.stringMatching(fix) }),
    ]);
  });

  it('assertPreflight throws one config error listing the fixes', () => {
    expect(() =>
      assertPreflight({ ipv6: false }, host({ ...READY, '/proc/sys/net/ipv4/ip_forward': '0' })),
    ).toThrow(
      expect.objectContaining({ code: 'OUTPOST_ERR_CONFIG', message: expect.stringMatching(/ip_forward=1/) }),
    );
  });
});
