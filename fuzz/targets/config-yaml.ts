import fc from 'fast-check';
import { parse } from 'yaml';
import { ConfigError } from '../../container/config/config-error.js';
import { loadConfig } from '../../container/config/load-config.js';
import { parseConfigText } from '../../container/config/read-config-file.js';
import { applyJsonOps, jsonOp } from '../json-mutations.js';
import { repoFile } from '../repo-file.js';
import type { FuzzTarget } from '../target.js';
import { applyTextOps, textOp } from '../text-mutations.js';

/** The gateway half of DESIGN.md's config shape, so that mutations reach the gateway schema too. */
const gatewaySeed = `roles: [gateway, connector]
gateway:
  listen: 0.0.0.0:8443
  pool: { ipv4: 10.200.100.0/24, ipv6: fd00:200::/112 }
  dns: { servers: [10.200.2.53], domain: corp.test, split: [corp.test] }
  routes: { include: [10.200.2.0/24], exclude: [] }
  tun: { name: outpost0, mtu: 1472 }
  nat: false
  timers: { dpd: 90, keepalive: 30, idle: 1800, session: 3600, cookie: 300 }
  proxyProtocol: false
  trustedProxies: []
connector:
  ca: { type: builtin }
  profiles: { device: { validityDays: 365, keyUsage: [digitalSignature, keyEncipherment], eku: [clientAuth] } }
state: { backend: sqlite }
keys: { store: file }
`;

const keys = [
  'dataDir',
  'roles',
  'admin',
  'listen',
  'log',
  'level',
  'cloud',
  'url',
  'gateway',
  'pool',
  'ipv4',
  'ipv6',
  'dns',
  'routes',
  'tun',
  'mtu',
  'workers',
  'auth',
  'methods',
  'connector',
  'scep',
  'ca',
  'type',
  'profiles',
  'state',
  'backend',
  'keys',
  'store',
  'directories',
];
/** YAML features a config file might (mis)use: anchors, aliases, merge keys, tags, block scalars, documents. */
const dictionary = [
  ': ',
  ':',
  '- ',
  '\n',
  '\n  ',
  '  ',
  '\t',
  '#',
  '[',
  ']',
  '{',
  '}',
  ',',
  '"',
  "'",
  '&a ',
  '*a',
  '&a [*a, *a]',
  '<<: *a',
  '!!str ',
  '!!int ',
  '!!binary ',
  '!!set ',
  '!!timestamp ',
  '!!omap ',
  '!custom ',
  '!<tag:yaml.org,2002:js/function> ',
  '? ',
  '|\n',
  '>-\n',
  '---\n',
  '...\n',
  '%YAML 1.1\n',
  '%TAG ! tag:x:\n',
  '~',
  'null',
  '.inf',
  '-.inf',
  '.nan',
  '0x1F',
  '0o17',
  '1e400',
  '2026-01-01',
  'yes',
  'on',
  '\u00e9',
  '\uFEFF',
  '\u0000',
  '[[[[[[[[',
  '{a: {a: {a: ',
];

/**
 * The config file and cloud-pushed config (container/config: parseConfigText then loadConfig with
 * the data as a pushed layer, so the whole schema runs; no file I/O). Only ConfigError may come out.
 */
export function configYamlTarget(): FuzzTarget<string> {
  const seeds = [repoFile('config/outpost.example.yaml').toString('utf8'), gatewaySeed];
  const data = seeds.map((s) => parse(s) as unknown);
  const tree = fc
    .tuple(fc.nat(seeds.length - 1), fc.array(jsonOp(keys), { minLength: 1, maxLength: 3 }))
    .map(([i, ops]) => {
      try {
        // JSON is YAML (flow style) and much cheaper to write than block YAML.
        return JSON.stringify(applyJsonOps(data[i], ops)) ?? '';
      } catch {
        return seeds[i]!; // too deep for the JSON writer: keep the seed
      }
    });
  const base = fc.oneof(fc.constantFrom(...seeds), tree);
  return {
    name: 'config-yaml',
    arbitrary: fc
      .tuple(base, fc.array(textOp(dictionary.length), { maxLength: 3 }))
      .map(([text, ops]) => applyTextOps(text, ops, dictionary)),
    check: (text) => void loadConfig({ env: {}, pushed: parseConfigText(text, 'fuzz.yaml') }),
    isExpectedError: (e) => e instanceof ConfigError,
    show: (text) => JSON.stringify(text),
  };
}
