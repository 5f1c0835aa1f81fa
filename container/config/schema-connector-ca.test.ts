import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load-config.js';

function ca(env: Record<string, string>) {
  return loadConfig({ env }).connector.ca;
}

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('connector.ca per type', () => {
  it('keeps builtin with its defaults and no remote keys', () => {
    const builtin = ca({});
    expect(builtin).toMatchObject({
      type: 'builtin',
      keyAlgorithm: 'rsa-3072',
      subject: 'CN=Outpost Root CA,O=Outpost',
      crlValidityHours: 168,
    });
    for (const key of ['url', 'timeoutMs', 'pollIntervalSeconds', 'pollTimeoutSeconds']) {
      expect(builtin).not.toHaveProperty(key);
    }
  });

  it.each([
    [
      'cfssl',
      {
        OUTPOST__connector__ca:
          '{type: cfssl, url: "http://127.0.0.1:8888", authKeyFile: /k, profile: client}',
      },
      {
        type: 'cfssl',
        url: 'http://127.0.0.1:8888',
        timeoutMs: 10_000,
        authKeyFile: '/k',
        profile: 'client',
      },
    ],
    [
      'scep-upstream',
      {
        OUTPOST__connector__ca: `{type: scep-upstream, url: "http://ca:8080/scep", caFingerprint: "${'AB:'.repeat(31)}AB", timeoutMs: 2000}`,
      },
      {
        type: 'scep-upstream',
        url: 'http://ca:8080/scep',
        timeoutMs: 2000,
        caFingerprint: `${'AB:'.repeat(31)}AB`,
        pollIntervalSeconds: 60,
        pollTimeoutSeconds: 86_400,
      },
    ],
  ])('%s: its keys, defaults for its type, and the built-in CA keys', (_name, env, expected) => {
    expect(ca(env)).toMatchObject({
      ...expected,
      keyAlgorithm: 'rsa-3072',
      subject: 'CN=Outpost Root CA,O=Outpost',
      crlValidityHours: 168,
    });
  });

  it.each([
    [
      { OUTPOST__connector__ca__type: 'scep-upstream' },
      'connector.ca.url: got nothing, expected a URL (type scep-upstream needs one)',
    ],
    [
      { OUTPOST__connector__ca: '{type: cfssl, url: "http://c:8888", caFingerprint: "00"}' },
      "connector.ca.caFingerprint: got '00', expected a SHA-256 fingerprint (64 hex digits, colons allowed)",
    ],
    [
      { OUTPOST__connector__ca: '{type: scep-upstream, url: "http://c/scep", authKeyFile: /k}' },
      "connector.ca.authKeyFile: got '/k', expected only with type cfssl",
    ],
    [
      { OUTPOST__connector__ca: '{url: "http://c:8888"}' },
      "connector.ca.url: got 'http://c:8888', expected only with type scep-upstream or cfssl",
    ],
    [
      { OUTPOST__connector__ca: '{type: cfssl, url: "ftp://c"}' },
      "connector.ca.url: got 'ftp://c', expected a URL with scheme http or https",
    ],
    [
      { OUTPOST__connector__ca: '{type: cfssl, url: "http://c", timeoutMs: 10}' },
      'connector.ca.timeoutMs: got 10, expected a number >= 100',
    ],
  ])('names the key: %j', (env, problem) => {
    expect(problems(env)).toContain(problem);
  });
});
