import { randomBytes } from 'node:crypto';
import { buildCertificate, randomSerial } from '../../certs/certificate.js';
import { buildCsr } from '../../certs/csr.js';
import { generateKeyPair, type KeyPair, keyPairSigner, spkiDer } from '../../certs/keys.js';
import { encodePkiMessage, MessageType } from '../../connector/scep/codec/index.js';

/** One device identity: an RSA-2048 key and the self-signed "SCEP SIGNER" certificate scepclient uses. */
export interface DeviceKey {
  pair: KeyPair;
  signerCertDer: Buffer;
}

export interface PreparedRequest {
  cn: string;
  key: DeviceKey;
  transactionId: string;
  body: Buffer;
}

export async function makeDeviceKeys(count: number): Promise<DeviceKey[]> {
  const pairs = await Promise.all(Array.from({ length: count }, () => generateKeyPair('rsa-2048')));
  const now = Date.now();
  return pairs.map((pair) => ({
    pair,
    signerCertDer: buildCertificate(
      {
        subject: 'CN=SCEP SIGNER,O=bench',
        spkiDer: spkiDer(pair.publicKey),
        serial: randomSerial(),
        notBefore: new Date(now - 3600_000),
        notAfter: new Date(now + 86400_000),
        isCa: false,
        keyUsage: ['digitalSignature', 'keyEncipherment'],
        eku: [],
      },
      keyPairSigner(pair),
      'sha256',
    ),
  }));
}

/**
 * Precomputes PKCSReq messages (CSR with the challenge, envelope to the RA, signature) so the
 * timed phase measures the server, not the client's RSA work. Transaction ids are random, so each
 * message is a distinct enrollment even when device keys are reused.
 */
export function prepareRequests(
  keys: DeviceKey[],
  count: number,
  raCertDer: Buffer,
  challenge: string,
  prefix: string,
  /** The subject CN of request i (default `${prefix}-${i}`): e.g. directory users for enrichment. */
  cnOf: (i: number) => string = (i) => `${prefix}-${i}`,
): PreparedRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const key = keys[i % keys.length]!;
    const cn = cnOf(i);
    const csrDer = buildCsr(`CN=${cn},O=bench`, key.pair, { challengePassword: challenge });
    const transactionId = randomBytes(20).toString('hex');
    const body = encodePkiMessage({
      messageType: MessageType.PKCSReq,
      transactionId,
      senderNonce: randomBytes(16),
      payload: { kind: 'csr', csrDer },
      signerCertDer: key.signerCertDer,
      signer: keyPairSigner(key.pair),
      recipientCertDer: raCertDer,
      cipher: 'aes-128-cbc',
      hash: 'sha256',
    });
    return { cn, key, transactionId, body };
  });
}
