import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildCertificate, parseCertificate, randomSerial } from '../../../certs/certificate.js';
import { buildCsr, parseCsr } from '../../../certs/csr.js';
import { generateKeyPair, type KeyPair, keyPairSigner, spkiDer } from '../../../certs/keys.js';
import { parseDn } from '../../../certs/name.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import {
  type DecodedPkiMessage,
  decodeGetMessageParam,
  decodePkiMessage,
  encodeCertRep,
  FailInfo,
  MessageType,
  PkiStatus,
} from '../../scep/codec/index.js';
import type { IssuedCertificate, IssueRequest } from '../ca-backend.js';
import { ScepUpstreamCa } from './scep-upstream-ca.js';
import { algorithmsFor } from './upstream-messages.js';

// The backend against a fake upstream SCEP CA made of this repository's own codec: what a real
// upstream (micromdm scepserver, test/scepserver-upstream.test.ts) cannot be made to do on cue —
// PENDING, refusals, replayed nonces, wrong certificates, oversized answers.

type Behaviour =
  | 'success'
  | 'pending'
  | 'failure'
  | 'wrongNonce'
  | 'otherKey'
  | 'http500'
  | 'http404'
  | 'huge';

const T0 = new Date('2025-06-01T12:00:00Z');
const profile = { name: 'device', validityDays: 30, keyUsage: [], eku: [] };

let caKeys: KeyPair;
let caDer: Buffer;
let otherKeys: KeyPair;

beforeAll(async () => {
  [caKeys, otherKeys] = await Promise.all([generateKeyPair('rsa-2048'), generateKeyPair('rsa-2048')]);
  caDer = buildCertificate(
    {
      subject: 'CN=Fake Upstream CA,O=Test',
      spkiDer: spkiDer(caKeys.publicKey),
      serial: randomSerial(),
      notBefore: new Date('2025-01-01T00:00:00Z'),
      notAfter: new Date('2035-01-01T00:00:00Z'),
      isCa: true,
      keyUsage: ['digitalSignature', 'keyEncipherment', 'keyCertSign', 'cRLSign'],
      eku: [],
    },
    keyPairSigner(caKeys),
    'sha256',
  );
});

interface Seen {
  method: string;
  message: DecodedPkiMessage;
}

class FakeUpstream {
  caps = 'POSTPKIOperation\nSHA-256\nAES';
  next: Behaviour[] = [];
  seen: Seen[] = [];
  private readonly spkiByTransaction = new Map<string, Buffer>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/scep`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    switch (url.searchParams.get('operation')) {
      case 'GetCACaps':
        res.end(this.caps);
        return;
      case 'GetCACert':
        res.setHeader('content-type', 'application/x-x509-ca-cert');
        res.end(caDer);
        return;
      default: {
        const der =
          req.method === 'POST'
            ? Buffer.concat(chunks)
            : decodeGetMessageParam(url.searchParams.get('message')!);
        const message = decodePkiMessage(der, {
          raCertDer: caDer,
          raPrivateKey: caKeys.privateKey,
          maxBytes: 1 << 20,
        });
        this.seen.push({ method: req.method!, message });
        if (message.payload.kind === 'csr') {
          this.spkiByTransaction.set(message.transactionId, parseCsr(message.payload.csrDer).spkiDer);
        }
        res.end(this.reply(message, this.next.shift() ?? 'success', res));
      }
    }
  }

  private reply(message: DecodedPkiMessage, behaviour: Behaviour, res: ServerResponse): Buffer {
    if (behaviour === 'http500' || behaviour === 'http404') {
      res.statusCode = behaviour === 'http500' ? 500 : 404;
      return Buffer.from('no');
    }
    if (behaviour === 'huge') return Buffer.alloc(2 * 1024 * 1024);
    const base = {
      transactionId: message.transactionId,
      recipientNonce: behaviour === 'wrongNonce' ? randomBytes(16) : message.senderNonce,
      senderNonce: randomBytes(16),
      requesterCertDer: message.signerCertDer,
      raCertDer: caDer,
      raSigner: keyPairSigner(caKeys),
      cipher: message.contentCipher,
    };
    if (behaviour === 'pending') return encodeCertRep({ ...base, status: PkiStatus.PENDING });
    if (behaviour === 'failure')
      return encodeCertRep({ ...base, status: PkiStatus.FAILURE, failInfo: FailInfo.badRequest });
    const spki =
      behaviour === 'otherKey'
        ? spkiDer(otherKeys.publicKey)
        : this.spkiByTransaction.get(message.transactionId)!;
    const issued = buildCertificate(
      {
        subject: 'CN=issued',
        spkiDer: spki,
        issuer: caDer,
        serial: randomSerial(),
        notBefore: T0,
        notAfter: new Date(T0.getTime() + 86_400_000),
        isCa: false,
        keyUsage: ['digitalSignature'],
        eku: ['clientAuth'],
      },
      keyPairSigner(caKeys),
      'sha256',
    );
    return encodeCertRep({ ...base, status: PkiStatus.SUCCESS, issuedCertsDer: [issued] });
  }
}

describe('ScepUpstreamCa against a fake upstream', () => {
  const upstream = new FakeUpstream();
  let dir: string;
  let now: Date;
  let backend: ScepUpstreamCa;
  let request: IssueRequest;

  beforeAll(() => upstream.start());
  afterAll(() => upstream.stop());
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-upstream-unit-'));
    now = T0;
    upstream.next = [];
    upstream.seen = [];
    upstream.caps = 'POSTPKIOperation\nSHA-256\nAES';
    backend = await ScepUpstreamCa.open({
      url: upstream.url,
      dir,
      timeoutMs: 2000,
      pollIntervalSeconds: 60,
      pollTimeoutSeconds: 3600,
      clock: () => now,
    });
    const keys = await generateKeyPair('ec-p256');
    request = { csr: parseCsr(buildCsr('CN=device,O=Example', keys)), profile, requester: 'test' };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function caught(work: Promise<unknown>): Promise<OutpostError> {
    const e = await work.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OutpostError);
    return e as OutpostError;
  }

  it('creates its client key 0600 and learns the upstream chain at first start', () => {
    expect(statSync(join(dir, 'ra-client.key')).mode & 0o777).toBe(0o600);
    expect(backend.caChain()).toEqual([caDer]);
  });

  it('issues: a PKCSReq with the device CSR, AES-128 and SHA-256 POSTed as the caps allow', async () => {
    const issued = (await backend.issue(request)) as IssuedCertificate;
    expect(parseCertificate(issued.der).spkiDer.equals(request.csr.spkiDer)).toBe(true);
    const [sent] = upstream.seen;
    expect(sent!.method).toBe('POST');
    expect(sent!.message.messageType).toBe(MessageType.PKCSReq);
    expect(sent!.message.contentCipher).toBe('aes-128-cbc');
    expect(sent!.message.digestAlgorithm).toBe('sha256');
    expect(sent!.message.payload).toEqual({ kind: 'csr', csrDer: request.csr.der });
  });

  it('a CA that only promises DES gets single DES, SHA-1 and GET', async () => {
    upstream.caps = 'Renewal';
    const fresh = await ScepUpstreamCa.open({
      url: upstream.url,
      dir,
      timeoutMs: 2000,
      pollIntervalSeconds: 60,
      pollTimeoutSeconds: 3600,
    });
    await fresh.issue(request);
    const sent = upstream.seen.at(-1)!;
    expect([sent.method, sent.message.contentCipher, sent.message.digestAlgorithm]).toEqual([
      'GET',
      'des-cbc',
      'sha1',
    ]);
  });

  it('PENDING: polls with CertPoll at most once per interval, then gets the certificate', async () => {
    upstream.next = ['pending', 'pending'];
    expect(await backend.issue(request)).toEqual({ pending: true });
    now = new Date(T0.getTime() + 30_000);
    expect(await backend.poll(request, T0)).toEqual({ pending: true });
    expect(upstream.seen).toHaveLength(1); // too soon: not asked
    now = new Date(T0.getTime() + 61_000);
    expect(await backend.poll(request, T0)).toEqual({ pending: true });
    now = new Date(T0.getTime() + 122_000);
    const issued = (await backend.poll(request, T0)) as IssuedCertificate;
    expect(parseCertificate(issued.der).spkiDer.equals(request.csr.spkiDer)).toBe(true);
    const polls = upstream.seen.slice(1);
    expect(polls.map((s) => s.message.messageType)).toEqual([MessageType.CertPoll, MessageType.CertPoll]);
    expect(new Set(upstream.seen.map((s) => s.message.transactionId)).size).toBe(1);
    expect(polls[0]!.message.payload).toMatchObject({
      kind: 'issuerAndSubject',
      issuerDer: parseCertificate(caDer).subject.der,
      subjectDer: request.csr.subject.der,
    });
  });

  it('gives a pending request up after pollTimeoutSeconds without asking', async () => {
    now = new Date(T0.getTime() + 3601_000);
    const e = await caught(backend.poll(request, T0));
    expect(e.code).toBe(ErrorCodes.badRequest);
    expect(upstream.seen).toHaveLength(0);
  });

  it.each([
    ['failure', ErrorCodes.badRequest, 'failInfo badRequest'],
    ['wrongNonce', ErrorCodes.badSignature, 'does not answer this request'],
    ['otherKey', ErrorCodes.badSignature, 'for another key'],
    ['http500', ErrorCodes.unavailable, 'HTTP 500'],
    ['http404', ErrorCodes.badRequest, 'HTTP 404'],
    ['huge', ErrorCodes.unavailable, 'larger than'],
  ] as const)('%s → %s', async (behaviour, code, text) => {
    upstream.next = [behaviour];
    const e = await caught(backend.issue(request));
    expect(e.code).toBe(code);
    expect(e.message).toContain(text);
  });

  it.each([
    [
      'an extension',
      { extraExtensions: [{ oid: '1.3.6.1.4.1.311.25.2', critical: false, valueDer: Buffer.from([5, 0]) }] },
    ],
    ['a subject override', { subject: parseDn('CN=someone else').der }],
    ['other SANs', { sans: { dns: ['x.example'], email: [], uri: [], ip: [], upn: [] } }],
  ])('refuses %s it cannot carry, before asking the upstream', async (_name, extra) => {
    const e = await caught(backend.issue({ ...request, ...extra }));
    expect(e.code).toBe(ErrorCodes.unsupported);
    expect(upstream.seen).toHaveLength(0);
  });

  it('has no revocation', async () => {
    expect((await caught(backend.revoke('01', 'keyCompromise'))).code).toBe(ErrorCodes.unsupported);
  });
});

describe('algorithmsFor (RFC 8894 §3.5.2 capabilities)', () => {
  it.each([
    ['Renewal\nSHA-1\nSHA-256\nAES\nDES3\nSCEPStandard\nPOSTPKIOperation', 'aes-128-cbc', 'sha256', true],
    ['DES3\nSHA-1', 'des-ede3-cbc', 'sha1', false],
    ['SCEPStandard', 'aes-128-cbc', 'sha256', true],
    ['aes\npostpkioperation', 'aes-128-cbc', 'sha1', true],
    ['', 'des-cbc', 'sha1', false],
  ])('%j → %s %s post=%s', (caps, cipher, hash, post) => {
    const words = new Set(
      caps
        .split('\n')
        .filter(Boolean)
        .map((w) => w.toUpperCase()),
    );
    expect(algorithmsFor(words)).toEqual({ cipher, hash, post });
  });
});
