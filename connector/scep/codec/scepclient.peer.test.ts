import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContentCipherName } from '../../../certs/cms/index.js';
import { FailInfo, MessageType, PkiStatus } from './constants.js';
import { encodeCaCertResponse } from './ca-cert-response.js';
import { capabilities } from './capabilities.js';
import { type DecodedPkiMessage, decodePkiMessage } from './decode-pki-message.js';
import { encodeCertRep } from './encode-cert-rep.js';
import { decodeGetMessageParam } from './get-message-param.js';
import { fixture, fixtureDir, fixtureKey, fixtureSigner } from './test-support.js';

/**
 * Peer experiment, not a unit test: a minimal SCEP server made of this codec, enrolled against by
 * the real micromdm scepclient 2.1.0. It proves which reply ciphers scepclient decrypts and that
 * its POST and URL-safe GET requests decode. Needs `scepclient` and `openssl`; opt in with
 * OUTPOST_PEER_TESTS=1 (it spawns processes, so it stays out of the default unit run).
 */
const enabled = process.env.OUTPOST_PEER_TESTS === '1';
const run = promisify(execFile);

interface ServerBehaviour {
  caps: string;
  replyCipher?: ContentCipherName;
  fail?: boolean;
  seen: DecodedPkiMessage[];
  gets: number;
}

const raCertDer = fixture('ra.crt.der');
const raPrivateKey = fixtureKey('ra.key');
const raSigner = fixtureSigner('ra.key');

function issue(csrDer: Buffer): Buffer {
  const serial = `0x${randomBytes(8).toString('hex')}`;
  return execFileSync(
    'openssl',
    ['x509', '-req', '-inform', 'DER', '-CA', 'ra.crt.der', '-CAform', 'DER', '-CAkey', 'ra.key', '-set_serial', serial, '-days', '1', '-outform', 'DER'],
    { input: csrDer, cwd: fixtureDir, stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function handle(behaviour: ServerBehaviour, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = request.url ?? '';
  const operation = new URL(url, 'http://x').searchParams.get('operation');
  if (operation === 'GetCACert') {
    const { body: der, contentType } = encodeCaCertResponse([raCertDer]);
    response.writeHead(200, { 'content-type': contentType }).end(der);
    return;
  }
  if (operation === 'GetCACaps') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end(behaviour.caps);
    return;
  }
  let der: Buffer;
  if (request.method === 'POST') der = await body(request);
  else {
    behaviour.gets++;
    der = decodeGetMessageParam(/[?&]message=([^&]*)/.exec(url)?.[1] ?? '');
  }
  const message = decodePkiMessage(der, { raCertDer, raPrivateKey, maxBytes: 64 * 1024 });
  behaviour.seen.push(message);
  const common = {
    transactionId: message.transactionId,
    recipientNonce: message.senderNonce,
    senderNonce: randomBytes(16),
    requesterCertDer: message.signerCertDer,
    raCertDer,
    raSigner,
    hash: message.digestAlgorithm,
    cipher: message.contentCipher,
    replyCipher: behaviour.replyCipher,
  };
  const reply = behaviour.fail
    ? encodeCertRep({ ...common, status: PkiStatus.FAILURE, failInfo: FailInfo.badRequest })
    : message.payload.kind === 'csr'
      ? encodeCertRep({ ...common, status: PkiStatus.SUCCESS, issuedCertsDer: [issue(message.payload.csrDer), raCertDer] })
      : encodeCertRep({ ...common, status: PkiStatus.FAILURE, failInfo: FailInfo.badRequest });
  response.writeHead(200, { 'content-type': 'application/x-pki-message' }).end(reply);
}

describe.skipIf(!enabled)('micromdm scepclient 2.1.0 against this codec (OUTPOST_PEER_TESTS=1)', () => {
  let server: Server;
  let url: string;
  const behaviour: ServerBehaviour = { caps: capabilities(), seen: [], gets: 0 };
  const dirs: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      handle(behaviour, req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scep`;
  });
  afterAll(() => {
    server?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function enroll(dir: string, cn: string): Promise<{ code: number; log: string }> {
    const args = ['-server-url', url, '-private-key', join(dir, 'key.pem'), '-certificate', join(dir, 'cert.pem'), '-cn', cn, '-challenge', 'x', '-keySize', '2048', '-debug'];
    try {
      const { stderr, stdout } = await run('scepclient', args, { timeout: 20_000 });
      return { code: 0, log: stdout + stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, log: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  function newDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-scepclient-'));
    dirs.push(dir);
    return dir;
  }

  it.each(['des-cbc', 'des-ede3-cbc', 'aes-128-cbc', 'aes-256-cbc'] as const)(
    'decrypts a %s CertRep (POST)',
    async (replyCipher) => {
      Object.assign(behaviour, { caps: capabilities(), replyCipher, fail: false });
      const dir = newDir();
      const result = await enroll(dir, `cipher-${replyCipher}`);
      expect(result.code, result.log).toBe(0);
      expect(new X509Certificate(readFileSync(join(dir, 'cert.pem'))).subject).toContain(`CN=cipher-${replyCipher}`);
      expect(behaviour.seen.at(-1)).toMatchObject({ messageType: MessageType.PKCSReq, contentCipher: 'des-cbc', digestAlgorithm: 'sha1' });
    },
  );

  it('GETs with URL-safe base64 when POST is not advertised, and renews with RenewalReq', async () => {
    Object.assign(behaviour, { caps: 'Renewal\nSHA-1', replyCipher: undefined, fail: false, gets: 0 });
    const dir = newDir();
    expect((await enroll(dir, 'get-client')).code).toBe(0);
    expect(behaviour.gets).toBe(1);
    const renewed = await enroll(dir, 'get-client');
    expect(renewed.code, renewed.log).toBe(0);
    expect(behaviour.seen.at(-1)?.messageType).toBe(MessageType.RenewalReq);
  });

  it('stops on a FAILURE CertRep', async () => {
    Object.assign(behaviour, { caps: capabilities(), replyCipher: undefined, fail: true });
    const result = await enroll(newDir(), 'refused');
    expect(result.code).not.toBe(0);
    expect(result.log).toMatch(/fail/i);
  });
});
