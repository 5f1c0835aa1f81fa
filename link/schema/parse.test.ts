import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinkDecodeError } from './decode-error.js';
import { LinkLimits } from './limits.js';
import { encodeLinkMessage, parseApplianceMessage, parseCloudMessage, parseLinkMessage } from './parse.js';
import { applianceExamples, cloudExamples, exampleHello, exampleTime } from './testing/example-messages.js';

const at = exampleTime;
const hello = exampleHello;
const job = (payload: unknown, kind = 'session.revoke') => ({
  v: 1,
  type: 'job',
  id: 'c-9',
  job: { id: 'job-1', kind, payload, createdAt: at },
});

describe('link schema: valid messages', () => {
  it.each(applianceExamples)('appliance → cloud: %s', (_name, message) => {
    expect(parseApplianceMessage(JSON.stringify(message)).type).toBe(message.type);
    expect(parseLinkMessage(Buffer.from(JSON.stringify(message))).type).toBe(message.type);
  });

  it.each(cloudExamples)('cloud → appliance: %s', (_name, message) => {
    expect(parseCloudMessage(JSON.stringify(message)).type).toBe(message.type);
  });

  it('encodes what it parses', () => {
    const text = encodeLinkMessage(parseApplianceMessage(JSON.stringify(hello)), 'appliance');
    expect(JSON.parse(text)).toEqual(hello);
  });
});

describe('link schema: refused messages', () => {
  it.each([
    ['not JSON', '{', 'malformed', undefined],
    ['not an object', '[1]', 'malformed', undefined],
    ['bad UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'malformed', undefined],
    ['wrong version', JSON.stringify({ ...hello, v: 2 }), 'unsupported-version', 'm-1'],
    ['unknown type', JSON.stringify({ v: 1, type: 'nope', id: 'q' }), 'unknown-type', 'q'],
    ['wrong direction', JSON.stringify({ v: 1, type: 'welcome', id: 'q' }), 'unknown-type', 'q'],
    ['missing field', JSON.stringify({ ...hello, roles: undefined }), 'invalid', 'm-1'],
    ['duplicate role', JSON.stringify({ ...hello, roles: ['gateway', 'gateway'] }), 'invalid', 'm-1'],
    ['bad id', JSON.stringify({ ...hello, id: 'a b' }), 'invalid', undefined],
    [
      'failed without error',
      JSON.stringify({ v: 1, type: 'job.result', id: 'x', jobId: 'j', status: 'failed' }),
      'invalid',
      'x',
    ],
    [
      'job.cancelled with a status of its own',
      JSON.stringify({ v: 1, type: 'job.cancelled', id: 'x', jobId: 'j', status: 'ignored' }),
      'invalid',
      'x',
    ],
    [
      'oversized',
      JSON.stringify({ ...hello, version: 'x'.repeat(LinkLimits.maxMessageBytes) }),
      'oversized',
      undefined,
    ],
  ])('appliance → cloud: %s', (_name, input, reason, ref) => {
    const error = catchDecode(() => parseApplianceMessage(input as string));
    expect(error.reason).toBe(reason);
    expect(error.ref).toBe(ref);
  });

  it.each([
    ['session.revoke without user or device', job({})],
    ['unknown job kind', job({}, 'disk.wipe')],
    ['private JWK', { v: 1, type: 'jwks', id: 'j', issuer: 'i', keys: [{ kty: 'EC', kid: 'k', d: 'x' }] }],
    ['job.cancel without a reason', { v: 1, type: 'job.cancel', id: 'q', jobId: 'j' }],
    ['job.start with an overlong job id', { v: 1, type: 'job.start', id: 's', jobId: 'j'.repeat(129) }],
    ['config not an object', { v: 1, type: 'config', id: 'c', version: 1, config: { gateway: [] } }],
  ])('cloud → appliance: %s', (_name, message) => {
    expect(catchDecode(() => parseCloudMessage(JSON.stringify(message))).reason).toBe('invalid');
  });
});

function catchDecode(f: () => unknown): LinkDecodeError {
  try {
    f();
  } catch (e) {
    if (e instanceof LinkDecodeError) return e;
    throw e;
  }
  throw new Error('expected a LinkDecodeError');
}

describe('link schema: properties', () => {
  const anyInput = fc.oneof(
    fc.string(),
    fc.uint8Array({ maxLength: 512 }),
    fc.json().map((j) => j),
    fc
      .record({
        v: fc.oneof(fc.constant(1), fc.anything()),
        type: fc.constantFrom('hello', 'health', 'job', 'job.result', 'config', 'ack', 'welcome', 'x'),
        id: fc.oneof(fc.constant('id-1'), fc.anything()),
        jobId: fc.anything(),
        status: fc.anything(),
        job: fc.anything(),
        config: fc.anything(),
      })
      .map((o) => JSON.stringify(o)),
  );

  it('parsing throws nothing but LinkDecodeError, from either side', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        for (const parse of [parseApplianceMessage, parseCloudMessage, parseLinkMessage]) {
          try {
            parse(input);
          } catch (e) {
            if (!(e instanceof LinkDecodeError)) throw e;
            expect(e.message.length).toBeLessThanOrEqual(1024);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('deep nesting is refused as malformed or invalid, never a crash', () => {
    const deep = `{"v":1,"type":"config","id":"c","version":1,"config":{"gateway":{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}}}`;
    for (const input of [deep, '['.repeat(500_000)]) {
      try {
        parseCloudMessage(input);
      } catch (e) {
        expect(e).toBeInstanceOf(LinkDecodeError);
      }
    }
  });

  it('never accepts more than the size limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), (extra) => {
        const big = JSON.stringify({ ...hello, version: 'v' });
        const padded = big.replace(
          '"version":"v"',
          `"version":"${'v'.repeat(LinkLimits.maxMessageBytes - big.length + 1 + extra)}"`,
        );
        expect(catchDecode(() => parseApplianceMessage(padded)).reason).toBe('oversized');
      }),
      { numRuns: 20 },
    );
  });
});
