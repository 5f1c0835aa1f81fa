import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContentCipherName, decodeSignedData, decryptEnvelopedData } from '../../../certs/cms/index.js';
import { encodeCaCertResponse } from './ca-cert-response.js';
import { capabilities } from './capabilities.js';
import { FailInfo, MessageType, PkiStatus } from './constants.js';
import { type DecodedPkiMessage, decodePkiMessage } from './decode-pki-message.js';
import { encodeCertRep } from './encode-cert-rep.js';
import { encodePkiMessage } from './encode-pki-message.js';
import { decodeGetMessageParam } from './get-message-param.js';
import { fixture, fixtureDir, fixtureKey, fixtureSigner } from './testing/fixtures.js';

/**
 * Peer experiment, not a unit test: a minimal SCEP server made of this codec, enrolled against by
 * the real micromdm scepclient 2.1.0 and certmonger 0.79. It proves which reply ciphers scepclient
 * decrypts, that POST, URL-safe GET and standard-base64 GET requests decode, and that certmonger
 * accepts our CertRep. Needs `scepclient`, certmonger, `openssl` (and root for the certmonger
 * daemon sandbox); opt in with
 * OUTPOST_PEER_TESTS=1 (it spawns processes, so it stays out of the default unit run).
 */
const enabled = process.env.OUTPOST_PEER_TESTS === '1';
const SCEP_SUBMIT = '/usr/lib/certmonger/scep-submit';
const PEERS = process.env.OUTPOST_PEERS_DIR ?? '/work/shared/peers';
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
    [
      'x509',
      '-req',
      '-inform',
      'DER',
      '-CA',
      'ra.crt.der',
      '-CAform',
      'DER',
      '-CAkey',
      'ra.key',
      '-set_serial',
      serial,
      '-days',
      '1',
      '-outform',
      'DER',
    ],
    { input: csrDer, cwd: fixtureDir, stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function handle(
  behaviour: ServerBehaviour,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
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
      ? encodeCertRep({
          ...common,
          status: PkiStatus.SUCCESS,
          issuedCertsDer: [issue(message.payload.csrDer), raCertDer],
        })
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
    const args = [
      '-server-url',
      url,
      '-private-key',
      join(dir, 'key.pem'),
      '-certificate',
      join(dir, 'cert.pem'),
      '-cn',
      cn,
      '-challenge',
      'x',
      '-keySize',
      '2048',
      '-debug',
    ];
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
      expect(new X509Certificate(readFileSync(join(dir, 'cert.pem'))).subject).toContain(
        `CN=cipher-${replyCipher}`,
      );
      expect(behaviour.seen.at(-1)).toMatchObject({
        messageType: MessageType.PKCSReq,
        contentCipher: 'des-cbc',
        digestAlgorithm: 'sha1',
      });
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

  it('certmonger scep-submit: GETs our PKCSReq in standard base64 and accepts our CertRep', async () => {
    Object.assign(behaviour, { caps: capabilities(), replyCipher: undefined, fail: false, gets: 0 });
    const dir = newDir();
    const raPem = join(dir, 'ra.pem');
    writeFileSync(raPem, new X509Certificate(raCertDer).toString());
    const request = encodePkiMessage({
      messageType: MessageType.PKCSReq,
      transactionId: 'submit-1',
      senderNonce: randomBytes(16),
      payload: { kind: 'csr', csrDer: fixture('device.csr.der') },
      signerCertDer: fixture('requester.crt.der'),
      signer: fixtureSigner('requester.key'),
      recipientCertDer: raCertDer,
      cipher: 'aes-256-cbc',
      hash: 'sha256',
    });
    const requestPem = join(dir, 'req.pem');
    writeFileSync(requestPem, `-----BEGIN PKCS7-----\n${request.toString('base64')}\n-----END PKCS7-----\n`);
    const { stdout } = await run(SCEP_SUBMIT, ['-u', url, '-r', raPem, '-N', raPem, '-p', requestPem], {
      timeout: 20_000,
    });
    expect(behaviour.gets).toBe(1);
    // scep-submit prints the verified pkcsPKIEnvelope; it is encrypted to the requester (AES-256, mirrored)
    const envelope = Buffer.from(stdout.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const decrypted = decryptEnvelopedData(
      envelope,
      { certDer: fixture('requester.crt.der'), privateKey: fixtureKey('requester.key') },
      { maxBytes: 65536 },
    );
    expect(decrypted.contentCipher).toBe('aes-256-cbc');
    expect(
      new X509Certificate(decodeSignedData(decrypted.content, { maxBytes: 65536 }).certificates[0]!).subject,
    ).toContain('CN=codec-device');
  });

  it('certmonger daemon enrolls: its own PKCSReq decodes and it accepts our CertRep', async () => {
    Object.assign(behaviour, { caps: capabilities(), replyCipher: undefined, fail: false });
    const dir = newDir();
    const raPem = join(dir, 'ra.pem');
    writeFileSync(raPem, new X509Certificate(raCertDer).toString());
    const script = join(PEERS, 'certmonger-scep-enroll.sh');
    const { stdout } = await run(script, [url, 'cm-codec-1', 'x', join(dir, 'out'), raPem], {
      timeout: 150_000,
    });
    expect(stdout).toContain('MONITORING');
    expect(behaviour.seen.at(-1)).toMatchObject({
      messageType: MessageType.PKCSReq,
      contentCipher: 'aes-256-cbc',
      digestAlgorithm: 'sha256',
    });
  }, 160_000);

  it('stops on a FAILURE CertRep', async () => {
    Object.assign(behaviour, { caps: capabilities(), replyCipher: undefined, fail: true });
    const result = await enroll(newDir(), 'refused');
    expect(result.code).not.toBe(0);
    expect(result.log).toMatch(/fail/i);
  });
});
