import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load-config.js';
import { MAX_CONFIG_BYTES } from './read-config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-config-'));
let fileCount = 0;
function configFile(text: string): string {
  const file = join(dir, `c${fileCount++}.yaml`);
  writeFileSync(file, text);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe(ErrorCodes.config);
    return [...(e as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

function valueAt(config: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
}

describe('defaults (no file, no environment)', () => {
  const config = loadConfig({ env: {} });
  it.each([
    ['dataDir', './data'],
    ['roles', ['gateway', 'connector']],
    ['admin.listen', '127.0.0.1:9090'],
    ['log.level', 'info'],
    ['cloud', undefined],
    ['gateway.listen', '0.0.0.0:8443'],
    ['gateway.tun.mtu', 1472],
    ['gateway.timers.dpd', 90],
    ['gateway.timers.mobileDpd', 1800], // ocserv DEFAULT_MOBILE_DPD_TIME
    ['gateway.timers.mobileIdle', null], // = the idle timeout, as ocserv's mobile-idle-timeout
    ['connector.scep.listen', '0.0.0.0:8080'],
    ['connector.scep.path', '/scep'],
    ['connector.scep.challenge', { static: null, jwks: null, oneTime: true }],
    [
      'connector.scep.limits',
      { maxBodyBytes: 262144, ratePerClientPerMinute: 600, maxConcurrent: 64, requestTimeoutMs: 10000 },
    ],
    [
      'connector.ca',
      {
        type: 'builtin',
        keyAlgorithm: 'rsa-3072',
        subject: 'CN=Outpost Root CA,O=Outpost',
        crlValidityHours: 168,
        ocsp: { enabled: true, validityMinutes: 60 },
      },
    ],
    ['connector.defaultProfile', 'device'],
    ['connector.profiles.device.validityDays', 365],
    ['connector.profiles.device.keyUsage', undefined], // by key type (connector/issuance/key-usage.ts)
    ['connector.profiles.device.eku', ['clientAuth']],
    ['connector.profiles.device.keyTypes', ['rsa', 'ec']],
    ['connector.profiles.device.minRsaBits', 2048],
    ['connector.profiles.device.approval', 'auto'],
    ['directories', {}],
  ])('%s', (key, expected) => {
    expect(valueAt(config, key)).toEqual(expected);
  });

  it('derives the SCEP public URL from the listen address', () => {
    expect(config.connector.scep.publicUrl).toMatch(/^http:\/\/[^/]+:8080$/);
  });

  it('uses /var/lib/outpost inside the container', () => {
    expect(loadConfig({ env: { OUTPOST_IN_CONTAINER: '1' } }).dataDir).toBe('/var/lib/outpost');
  });

  it.each([
    ['outside the container', {}, undefined, '0.0.0.0:8443'],
    [
      'inside the container: 443, the port the image exposes',
      { OUTPOST_IN_CONTAINER: '1' },
      undefined,
      '0.0.0.0:443',
    ],
    ['inside, with an empty gateway section', { OUTPOST_IN_CONTAINER: '1' }, 'gateway:\n', '0.0.0.0:443'],
    [
      'inside, the file wins',
      { OUTPOST_IN_CONTAINER: '1' },
      'gateway:\n  listen: 0.0.0.0:4443\n',
      '0.0.0.0:4443',
    ],
    [
      'inside, the environment wins',
      { OUTPOST_IN_CONTAINER: '1', OUTPOST__gateway__listen: '0.0.0.0:8443' },
      undefined,
      '0.0.0.0:8443',
    ],
  ])('gateway.listen %s', (_name, env, file, listen) => {
    const options = file === undefined ? { env } : { env, file: configFile(file) };
    expect(loadConfig(options).gateway.listen).toBe(listen);
  });

  it('treats empty sections as defaults', () => {
    const fromFile = loadConfig({ file: configFile('connector:\ngateway:\n  tun:\ncloud:\n'), env: {} });
    expect(fromFile.connector.scep.path).toBe('/scep');
    expect(fromFile.cloud).toBeUndefined();
  });
});

describe('layering: defaults < file < environment < command line', () => {
  const file = configFile(
    [
      'dataDir: /from/file',
      'log: { level: debug }',
      'connector:',
      '  scep: { listen: "127.0.0.1:18080", publicUrl: "https://scep.corp.test" }',
      '  profiles:',
      '    device: {}',
      '    mail: { eku: [emailProtection], approval: manual, subjectPattern: "^CN=.+@corp\\\\.test$" }',
    ].join('\n'),
  );
  it.each([
    ['file only', {}, undefined, 'dataDir', '/from/file'],
    ['file value kept', {}, undefined, 'connector.scep.listen', '127.0.0.1:18080'],
    ['publicUrl from file', {}, undefined, 'connector.scep.publicUrl', 'https://scep.corp.test'],
    ['second profile', {}, undefined, 'connector.profiles.mail.approval', 'manual'],
    ['second profile defaults', {}, undefined, 'connector.profiles.mail.validityDays', 365],
    ['OUTPOST_DATA_DIR beats file', { OUTPOST_DATA_DIR: '/env' }, undefined, 'dataDir', '/env'],
    ['--data-dir beats env', { OUTPOST_DATA_DIR: '/env' }, '/cli', 'dataDir', '/cli'],
    ['OUTPOST_LOG_LEVEL', { OUTPOST_LOG_LEVEL: 'warn' }, undefined, 'log.level', 'warn'],
    [
      'generic number',
      { OUTPOST__connector__scep__limits__maxBodyBytes: '4096' },
      undefined,
      'connector.scep.limits.maxBodyBytes',
      4096,
    ],
    ['generic boolean', { OUTPOST__gateway__nat: 'true' }, undefined, 'gateway.nat', true],
    ['generic flow list', { OUTPOST__roles: '[connector]' }, undefined, 'roles', ['connector']],
    ['generic string', { OUTPOST__admin__listen: '0.0.0.0:9090' }, undefined, 'admin.listen', '0.0.0.0:9090'],
    [
      'upper-case generic',
      { OUTPOST__ADMIN__LISTEN: '0.0.0.0:9091' },
      undefined,
      'admin.listen',
      '0.0.0.0:9091',
    ],
    [
      'upper-case camelCase key',
      { OUTPOST__CONNECTOR__CA__KEYALGORITHM: 'ec-p384' },
      undefined,
      'connector.ca.keyAlgorithm',
      'ec-p384',
    ],
    [
      'new record entry',
      { OUTPOST__connector__profiles__wifi__validityDays: '30' },
      undefined,
      'connector.profiles.wifi.validityDays',
      30,
    ],
    [
      'generic beats shortcut',
      { OUTPOST_LOG_LEVEL: 'warn', OUTPOST__log__level: 'error' },
      undefined,
      'log.level',
      'error',
    ],
  ])('%s', (_name, env, dataDir, key, expected) => {
    const config = loadConfig({ file, env, overrides: dataDir ? { dataDir } : {} });
    expect(valueAt(config, key)).toEqual(expected);
  });

  it('ignores environment variables outside the OUTPOST namespace', () => {
    expect(loadConfig({ env: { OUTPOSTX__a: '1', PATH: '/bin' } }).dataDir).toBe('./data');
  });
});

describe('error forms', () => {
  it.each([
    [
      { OUTPOST__connector__ca__type: 'foo' },
      "connector.ca.type: got 'foo', expected one of builtin, scep-upstream, cfssl",
    ],
    [
      { OUTPOST__connector__ca__type: 'cfssl' },
      'connector.ca.url: got nothing, expected a URL (type cfssl needs one)',
    ],
    [{ OUTPOST__gateway__listne: 'x' }, 'unknown key gateway.listne'],
    [
      { OUTPOST__gateway__trustedProxies: '[10.0.0.0/33]' },
      "gateway.trustedProxies[0]: got '10.0.0.0/33', expected an IPv4 or IPv6 address or CIDR (the load balancer that sends PROXY headers)",
    ],
    [
      { OUTPOST__gateway__proxyProtocol: 'true' },
      "gateway.trustedProxies: got [], expected the load balancers' addresses or CIDRs when gateway.proxyProtocol is true",
    ],
    [{ OUTPOST__bogus: '1' }, 'unknown key bogus'],
    [{ OUTPOST__admin__listen: '9090' }, 'admin.listen: got 9090, expected a string'],
    [
      { OUTPOST__admin__listen: 'localhost' },
      "admin.listen: got 'localhost', expected host:port (IPv6 as [addr]:port, port 0-65535)",
    ],
    [
      { OUTPOST_LOG_LEVEL: 'loud' },
      "log.level: got 'loud', expected one of fatal, error, warn, info, debug, trace, silent",
    ],
    [{ OUTPOST__roles: '[]' }, 'roles: got [], expected at least 1 item'],
    [
      { OUTPOST__roles: '[connector, connector]' },
      'roles: got ["connector","connector"], expected a list without duplicates',
    ],
    [
      { OUTPOST__connector__scep__limits__maxBodyBytes: '10' },
      'connector.scep.limits.maxBodyBytes: got 10, expected a number >= 1024',
    ],
    [
      { OUTPOST__connector__scep__limits__maxConcurrent: '1.5' },
      'connector.scep.limits.maxConcurrent: got 1.5, expected an integer',
    ],
    [
      { OUTPOST__connector__scep__limits__maxConcurrent: 'many' },
      "connector.scep.limits.maxConcurrent: got 'many', expected a number",
    ],
    [
      { OUTPOST__connector__scep__challenge__static: '[a]' },
      'connector.scep.challenge.static: got (secret, not shown), expected a string',
    ],
    [
      { OUTPOST__connector__scep__path: 'scep' },
      "connector.scep.path: got 'scep', expected a URL path starting with /",
    ],
    [
      { OUTPOST__connector__scep__publicUrl: 'ftp://x' },
      "connector.scep.publicUrl: got 'ftp://x', expected a URL with scheme http or https",
    ],
    [
      { OUTPOST__connector__profiles__device__eku: '[bogus]' },
      "connector.profiles.device.eku[0]: got 'bogus', expected one of clientAuth, serverAuth, emailProtection, codeSigning, timeStamping, OCSPSigning, ipsecIKE, msSmartcardLogin or a dotted OID",
    ],
    [
      { OUTPOST__connector__profiles__device__subjectPattern: '(' },
      "connector.profiles.device.subjectPattern: got '(', expected a valid regular expression",
    ],
    [
      { OUTPOST__connector__profiles__device__keyTypes: '[dsa]' },
      "connector.profiles.device.keyTypes[0]: got 'dsa', expected one of rsa, ec",
    ],
    [
      { OUTPOST__connector__defaultProfile: 'wifi' },
      "connector.defaultProfile: got 'wifi', expected one of the profiles: device",
    ],
    [
      { OUTPOST__connector__profiles: '{"bad name": {}}' },
      'connector.profiles["bad name"]: invalid name, expected a profile name of letters, digits, _ or -',
    ],
    [
      { OUTPOST__gateway__pool__ipv4: '10.0.0.0/33' },
      "gateway.pool.ipv4: got '10.0.0.0/33', expected an IPv4 CIDR like 10.0.0.0/24",
    ],
    [
      { OUTPOST__gateway__auth__methods: '[password]' },
      'gateway.auth.password.directory: got null, expected the name of an entry under directories (none defined) when password auth is enabled',
    ],
    [
      { OUTPOST__gateway__auth__methods: '[token]' },
      'gateway.auth.token.jwks: got null, expected a JWKS file path or URL when token auth is enabled',
    ],
    [
      { OUTPOST__directories__corp__url: 'ldaps://dc' },
      'directories.corp.baseDn: got nothing, expected a string',
    ],
    [
      { OUTPOST__cloud__url: 'http://cloud' },
      "cloud.url: got 'http://cloud', expected a URL with scheme https or wss",
    ],
    [{ OUTPOST__connector: '5' }, 'connector: got 5, expected a mapping'],
    [{ OUTPOST__gateway__timers__mobileDpd: '1' }, 'gateway.timers.mobileDpd: got 1, expected a number >= 5'],
    [
      {
        OUTPOST__gateway__groups__phones__match__groups: '[Phones]',
        OUTPOST__gateway__groups__phones__timers__mobileIdle: '30',
      },
      'gateway.groups.phones.timers.mobileIdle: got 30, expected a number >= 60',
    ],
    [{ OUTPOST__a____b: '1' }, 'OUTPOST__a____b: expected OUTPOST__section__key with no empty parts'],
    [
      { OUTPOST__log: 'x', OUTPOST__log__level: 'info' },
      'OUTPOST__log__level: cannot set a key inside log, which is not a mapping',
    ],
    [{ OUTPOST__roles: '[a' }, "OUTPOST__roles: got '[a', expected a YAML scalar or flow value"],
  ])('%j', (env, expected) => {
    expect(problemsOf(() => loadConfig({ env }))).toContain(expected);
  });

  it('lists every problem, not only the first', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: { OUTPOST__gateway__listne: 'x', OUTPOST__connector__ca__type: 'foo', OUTPOST_LOG_LEVEL: 'x' },
      }),
    );
    expect(problems).toHaveLength(3);
  });

  it('never echoes a static challenge', () => {
    const error = (() => {
      try {
        loadConfig({ env: { OUTPOST__connector__scep__challenge: 'hunter2' } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).not.toContain('hunter2');
  });
});

describe('config files', () => {
  it.each([
    ['missing', null, /c-missing\.yaml: not found$/],
    ['top level list', '- a\n- b\n', /the top level must be a mapping/],
    ['bad YAML with position', 'log:\n  level: [info\n', /c\d+\.yaml:\d+:\d+: /],
    ['duplicate key', 'log: {}\nlog: {}\n', /c\d+\.yaml:2:1: .*[Uu]nique/],
    ['unknown key from file', 'gateway:\n  listne: 1\n', /^unknown key gateway\.listne$/],
  ])('%s', (_name, text, expected) => {
    const file = text === null ? join(dir, 'c-missing.yaml') : configFile(text);
    const problems = problemsOf(() => loadConfig({ file, env: {} }));
    expect(
      problems.some((p) => expected.test(p)),
      problems.join('\n'),
    ).toBe(true);
  });

  it('accepts JSON (JSON is YAML)', () => {
    expect(loadConfig({ file: configFile('{"log": {"level": "warn"}}'), env: {} }).log.level).toBe('warn');
  });

  it('refuses files over 1 MiB', () => {
    const file = configFile(`# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    expect(problemsOf(() => loadConfig({ file, env: {} }))[0]).toMatch(/expected at most 1048576/);
  });

  it('stops alias bombs', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    expect(() => loadConfig({ file: configFile(bomb), env: {} })).toThrow(ConfigError);
  });
});

describe('robustness', () => {
  function onlyOutpostErrors(run: () => unknown): void {
    try {
      run();
    } catch (e) {
      if (!(e instanceof OutpostError)) throw e;
    }
  }

  it('arbitrary YAML text never throws anything but OutpostError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        onlyOutpostErrors(() => loadConfig({ file: configFile(text), env: {} }));
      }),
      { numRuns: 200 },
    );
  });

  it('arbitrary JSON values never throw anything but OutpostError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        onlyOutpostErrors(() => loadConfig({ file: configFile(JSON.stringify(value) ?? 'null'), env: {} }));
      }),
      { numRuns: 200 },
    );
  });

  it('config-shaped YAML never throws anything but OutpostError', () => {
    const key = fc.constantFrom(
      'dataDir',
      'roles',
      'admin',
      'log',
      'cloud',
      'gateway',
      'connector',
      'directories',
      '__proto__',
      'constructor',
    );
    const scalar = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant('!!binary AAAA'),
      fc.constant('&x [*x]'),
    );
    fc.assert(
      fc.property(
        fc.dictionary(key, fc.oneof(scalar, fc.dictionary(fc.string({ maxLength: 8 }), scalar))),
        (doc) => {
          const text = Object.entries(doc)
            .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
            .join('\n');
          onlyOutpostErrors(() => loadConfig({ file: configFile(text), env: {} }));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('arbitrary environment overrides never throw anything but OutpostError', () => {
    const name = fc
      .array(
        fc.constantFrom('connector', 'scep', 'limits', 'PROFILES', '__proto__', 'x', '', 'constructor'),
        { minLength: 1, maxLength: 4 },
      )
      .map((parts) => `OUTPOST__${parts.join('__')}`);
    fc.assert(
      fc.property(fc.dictionary(name, fc.string({ maxLength: 20 })), (env) => {
        onlyOutpostErrors(() => loadConfig({ env }));
      }),
      { numRuns: 300 },
    );
  });
});
