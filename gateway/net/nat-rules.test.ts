import { describe, expect, it } from 'vitest';
import { natScript, removeNatScript } from './nat-rules.js';

describe('natScript', () => {
  it('replaces the ip table atomically and removes a stale ip6 table', () => {
    const script = natScript({ tunName: 'outpost0', ipv4Pool: '10.200.100.0/24' });
    expect(script).toBe(
      [
        'table ip outpost {}',
        'delete table ip outpost',
        'table ip outpost {',
        '  chain postrouting {',
        '    type nat hook postrouting priority 100; policy accept;',
        '    ip saddr 10.200.100.0/24 oifname != "outpost0" masquerade',
        '  }',
        '}',
        'table ip6 outpost {}',
        'delete table ip6 outpost',
        '',
      ].join('\n'),
    );
  });

  it('masquerades the IPv6 pool when there is one', () => {
    const script = natScript({
      tunName: 'ot0',
      ipv4Pool: '10.0.0.0/24',
      ipv6Pool: 'fd00:200::/112',
      table: 't1',
    });
    expect(script).toContain('ip6 saddr fd00:200::/112 oifname != "ot0" masquerade');
    expect(script).toContain('table ip6 t1 {\n');
  });

  it.each([
    [{ tunName: 'bad name"', ipv4Pool: '10.0.0.0/24' }, /interface name/],
    [{ tunName: 'ot0', ipv4Pool: '10.0.0.0/24; flush ruleset' }, /CIDR/],
    [{ tunName: 'ot0', ipv4Pool: 'fd00::/64' }, /wrong address family/],
    [{ tunName: 'ot0', ipv4Pool: '10.0.0.0/24', table: 'x y' }, /table name/],
  ])('rejects what would not be a safe ruleset: %j', (config, error) => {
    expect(() => natScript(config)).toThrow(error);
  });

  it('removal deletes both tables whether or not they exist', () => {
    expect(removeNatScript()).toBe(
      'table ip outpost {}\ndelete table ip outpost\ntable ip6 outpost {}\ndelete table ip6 outpost\n',
    );
  });
});
