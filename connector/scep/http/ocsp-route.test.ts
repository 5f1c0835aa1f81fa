import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { certificateThumbprint } from '../../../certs/certificate.js';
import { buildCsr, parseCsr } from '../../../certs/csr.js';
import { generateKeyPair } from '../../../certs/keys.js';
import {
  buildOcspRequest,
  encodeCertId,
  OCSP_REQUEST_LIMITS,
  parseOcspResponse,
} from '../../../certs/ocsp/index.js';
import { BuiltinCa } from '../../ca/builtin/builtin-ca.js';
import { OcspSignerKeeper } from '../../ca/builtin/ocsp-signer.js';
import { OcspResponder } from '../../revocation/ocsp-responder.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import { createConnectorHttp } from './connector-http.js';
import { registerOcspRoute } from './ocsp-route.js';

describe('OCSP over HTTP (RFC 6960 A.1)', () => {
  let root: string;
  let app: FastifyInstance;
  let request: Buffer;
  let serialHex: string;
  const logLines: Array<Record<string, unknown>> = [];
  const counted: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'outpost-ocsp-http-'));
    const dir = join(root, 'ca');
    const inventory = new SqliteInventory(openDatabase(':memory:'));
    const ca = await BuiltinCa.open({ dir, keyAlgorithm: 'ec-p384', inventory });
    const signing = await OcspSignerKeeper.open({
      store: ca.keyStore,
      ca: { cert: ca.caCertificate, signer: ca.caSigner },
      hash: 'sha256',
    });
    const issuer = { subjectDer: ca.caCertificate.subject.der, spkiDer: ca.caCertificate.spkiDer };
    const responder = new OcspResponder({ issuer, inventory, signing, validityMs: 3600_000 });
    const issued = await ca.issue({
      csr: parseCsr(buildCsr('CN=http-leaf', await generateKeyPair('ec-p256'))),
      profile: { name: 'device', validityDays: 30, keyUsage: ['digitalSignature'], eku: [] },
      requester: 'test',
    });
    await inventory.record({
      serialHex: issued.serialHex,
      subject: 'CN=http-leaf',
      sans: [],
      profile: 'device',
      requester: 'test',
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      status: 'valid',
      thumbprint: certificateThumbprint(issued.der),
      der: issued.der,
    });
    serialHex = issued.serialHex;
    // With a 32-octet nonce the base64 is well over find-my-way's default 100-character parameter.
    request = buildOcspRequest([encodeCertId(issuer, serialHex, 'sha256')], Buffer.alloc(32, 0xfb));
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    app = createConnectorHttp({ maxBodyBytes: 262144, requestTimeoutMs: 5000 });
    registerOcspRoute(app, { responder, logger, metrics: { ocsp: (status) => counted.push(status) } });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    logLines.length = 0;
    counted.length = 0;
  });

  function statusOf(body: Buffer): string[] {
    const parsed = parseOcspResponse(body);
    return parsed.basic ? parsed.basic.responses.map((r) => r.status.kind) : [parsed.status];
  }

  it('POST application/ocsp-request answers application/ocsp-response', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/ocsp',
      headers: { 'content-type': 'application/ocsp-request' },
      payload: request,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/ocsp-response');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(statusOf(res.rawPayload)).toEqual(['good']);
    expect(counted).toEqual(['good']);
  });

  it.each([
    ['standard base64, URL-encoded', (b: Buffer) => encodeURIComponent(b.toString('base64'))],
    ['URL-safe base64', (b: Buffer) => b.toString('base64url')],
    ['standard base64 with raw slashes and plus signs', (b: Buffer) => b.toString('base64')],
  ])('GET /ocsp/<%s>', async (_name, encode) => {
    // The 0xfb nonce makes '+' and '/' appear, where the alphabets and URL encoding differ.
    expect(request.toString('base64')).toMatch(/\+.*\/|\/.*\+/);
    const bytes = request;
    const res = await app.inject({ method: 'GET', url: `/ocsp/${encode(bytes)}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/ocsp-response');
    expect(statusOf(res.rawPayload)).toEqual(['good']);
  });

  it.each([
    ['POST garbage', { method: 'POST' as const, url: '/ocsp', payload: Buffer.from('garbage') }],
    ['POST empty body', { method: 'POST' as const, url: '/ocsp' }],
    ['GET not base64', { method: 'GET' as const, url: '/ocsp/AB*CD' }],
    [
      'GET base64 of garbage',
      { method: 'GET' as const, url: `/ocsp/${Buffer.from('garbage').toString('base64')}` },
    ],
    [
      'GET too long',
      { method: 'GET' as const, url: `/ocsp/${'A'.repeat(OCSP_REQUEST_LIMITS.maxBytes * 2)}` },
    ],
  ])('%s: HTTP 200 with malformedRequest and one log line', async (_name, inject) => {
    const res = await app.inject({ ...inject, headers: { 'content-type': 'application/ocsp-request' } });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.toString('hex')).toBe('30030a0101');
    expect(logLines.filter((l) => l.msg === 'OCSP request malformed')).toHaveLength(1);
    expect(counted).toEqual(['malformedRequest']);
  });

  it('a path that cannot be URL-decoded is refused by the router (400) before the handler', async () => {
    expect((await app.inject({ method: 'GET', url: '/ocsp/%%41' })).statusCode).toBe(400);
  });

  it('refuses a POST body over the limit before reading it (413), and still serves afterwards', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/ocsp',
      headers: { 'content-type': 'application/ocsp-request' },
      payload: Buffer.alloc(OCSP_REQUEST_LIMITS.maxBytes + 1, 0x30),
    });
    expect(res.statusCode).toBe(413);
    const again = await app.inject({ method: 'POST', url: '/ocsp', payload: request });
    expect(statusOf(again.rawPayload)).toEqual(['good']);
  });
});
