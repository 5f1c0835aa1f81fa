import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { opensslOutput } from '../../../certs/testing/openssl.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { authenticatedBody, parseAuthKey, readCfsslResponse } from './cfssl-client.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('authenticatedBody (cfssl auth "standard" provider)', () => {
  it('token = HMAC-SHA-256(key, request) as openssl computes it; both base64', () => {
    const key = '0123456789ABCDEF0123456789ABCDEF';
    const request = json({
      certificate_request: '-----BEGIN CERTIFICATE REQUEST-----…',
      profile: 'authclient',
    });
    const expected = opensslOutput(
      ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${key}`, '-binary', '-out', 'mac', 'req'],
      { req: request },
      'mac',
    );
    const body = JSON.parse(authenticatedBody(request, parseAuthKey(key)).toString()) as Record<
      string,
      string
    >;
    expect(Buffer.from(body.token!, 'base64')).toEqual(expected);
    expect(Buffer.from(body.request!, 'base64')).toEqual(request);
  });
});

describe('parseAuthKey', () => {
  it.each([
    ['0123456789ABCDEF0123456789ABCDEF\n', 16],
    ['  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff  ', 32],
  ])('reads %j', (text, bytes) => {
    expect(parseAuthKey(text)).toHaveLength(bytes);
  });
  it.each([[''], ['0123'], ['xyz0123456789ABCDEF0123456789ABC'], ['0123456789ABCDEF0123456789ABCDE']])(
    'refuses %j as a config error',
    (text) => {
      expect(() => parseAuthKey(text)).toThrow(expect.objectContaining({ code: ErrorCodes.config }));
    },
  );
});

describe('readCfsslResponse', () => {
  it('returns result on success', () => {
    expect(readCfsslResponse(200, json({ success: true, result: { certificate: 'x' }, errors: [] }))).toEqual(
      {
        certificate: 'x',
      },
    );
  });

  it.each([
    [
      'unknown serial at revoke',
      400,
      { success: false, errors: [{ code: 11200, message: 'certificate not found' }] },
      ErrorCodes.notFound,
    ],
    [
      'bad token',
      400,
      { success: false, errors: [{ code: 400, message: 'invalid token' }] },
      ErrorCodes.unauthorized,
    ],
    [
      'policy refusal',
      400,
      { success: false, errors: [{ code: 5300, message: 'Policy violation' }] },
      ErrorCodes.badRequest,
    ],
    [
      'server failure',
      500,
      { success: false, errors: [{ code: 500, message: 'boom' }] },
      ErrorCodes.unavailable,
    ],
    ['success false without errors', 200, { success: false }, ErrorCodes.badRequest],
    ['not an object', 200, 42, ErrorCodes.unavailable],
  ])('%s → %s', (_name, status, body, code) => {
    expect(() => readCfsslResponse(status, json(body))).toThrow(expect.objectContaining({ code }));
  });

  it.each([
    [502, ErrorCodes.unavailable],
    [400, ErrorCodes.badRequest],
  ])('HTTP %i with a non-JSON body → %s', (status, code) => {
    expect(() => readCfsslResponse(status, Buffer.from('<html>bad gateway</html>'))).toThrow(
      expect.objectContaining({ code }),
    );
  });

  it('never throws anything but OutpostError (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.oneof(
          fc.json().map((t) => Buffer.from(t)),
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc
            .record({
              success: fc.anything(),
              result: fc.anything(),
              errors: fc.oneof(
                fc.anything(),
                fc.array(fc.record({ code: fc.anything(), message: fc.anything() })),
              ),
            })
            .map((o) => json(o)),
        ),
        (status, body) => {
          try {
            readCfsslResponse(status, body);
          } catch (e) {
            expect(e).toBeInstanceOf(OutpostError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
