import { describe, expect, it } from 'vitest';
import { dottedPath, isSecretPath } from './config-path.js';
import { describeValue } from './describe-value.js';
import { MASK, maskSecrets } from './mask-secrets.js';

describe('describeValue', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  it.each([
    [undefined, 'nothing'],
    [null, 'null'],
    ['foo', "'foo'"],
    ['a\nb', "'a\\nb'"],
    [42, '42'],
    [true, 'true'],
    [[1, 'x'], '[1,"x"]'],
    [{ a: 1 }, '{"a":1}'],
    [circular, 'a mapping'],
    [new Uint8Array(2), 'binary data'],
    [new Map(), 'a collection'],
    ['x'.repeat(100), `'${'x'.repeat(60)}…'`],
  ])('%#', (value, expected) => {
    expect(describeValue(value)).toBe(expected);
  });

  it('never shows a secret', () => {
    expect(describeValue('hunter2', true)).toBe('(secret, not shown)');
  });
});

describe('dottedPath', () => {
  it.each([
    [[], '(top level)'],
    [['gateway', 'listen'], 'gateway.listen'],
    [['gateway', 'routes', 'include', 2], 'gateway.routes.include[2]'],
    [['connector', 'profiles', 'a b'], 'connector.profiles["a b"]'],
  ])('%j', (path, expected) => expect(dottedPath(path)).toBe(expected));
});

describe('secrets', () => {
  it.each([
    [['connector', 'scep', 'challenge', 'static'], true],
    [['connector', 'scep', 'challenge'], true],
    [['gateway', 'auth', 'token'], true],
    [['gateway', 'auth', 'token', 'issuer'], false],
    [['connector', 'ca', 'keyAlgorithm'], false],
  ])('isSecretPath(%j) = %s', (path, expected) => expect(isSecretPath(path)).toBe(expected));

  it('maskSecrets replaces set secrets and keeps nulls', () => {
    const masked = maskSecrets({
      scep: { challenge: { static: 'hunter2', jwks: null } },
      other: { static: null },
    });
    expect(masked).toEqual({ scep: { challenge: { static: MASK, jwks: null } }, other: { static: null } });
  });
});
