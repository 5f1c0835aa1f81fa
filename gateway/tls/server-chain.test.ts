import { execFile } from 'node:child_process';
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext, TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { caExtensions, TestPki } from '../../certs/testing/test-pki.js';
import {
  defaultTls13Tickets,
  type GatewayTlsMaterial,
  gatewayTlsContext,
  gatewayTlsContextOptions,
} from './gateway-tls-context.js';
import { buildServerChain, certificatesIn, hasServerChain } from './server-chain.js';
import { withServer } from './testing/tls-client.js';

const pki = new TestPki({ prefix: 'outpost-server-chain-' });
pki.selfSigned('ca', { subject: '/CN=Chain Test CA', extensions: caExtensions });
pki.selfSigned('other', { subject: '/CN=Other CA', extensions: caExtensions });
pki.issue('server', { issuer: 'ca', subject: '/CN=127.0.0.1', extensions: ['subjectAltName=IP:127.0.0.1'] });
afterAll(() => pki.cleanup());

const leaf = pki.read('server.pem');
const ca = pki.read('ca.pem');
const other = pki.read('other.pem');
const key = pki.read('server.key');

/** The certificates a server on `context` sends (openssl s_client -showcerts, another implementation). */
async function sentCertificates(context: SecureContext, version: '-tls1_2' | '-tls1_3'): Promise<string[]> {
  const onSocket = (raw: Socket) => {
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context });
    tls.on('error', () => raw.destroy());
  };
  return withServer(onSocket, async (port) => {
    const run = promisify(execFile)('openssl', [
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-showcerts',
      version,
    ]);
    run.child.stdin?.end(); // EOF on stdin: s_client closes once the handshake is done
    const { stdout } = await run;
    return [...stdout.matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)].map(
      (m) => m[0],
    );
  });
}

const strip = (pem: string) => pem.replace(/\s+/g, '');

describe.each([
  ['a leaf alone, its CA among the client-certificate CAs', leaf, [ca], ['server', 'ca']],
  ['a leaf alone, its CA not in the store', leaf, [other], ['server']],
  ['a leaf with its CA in the certificate file', leaf + ca, [other], ['server', 'ca']],
] as const)('server chain: %s', (_, cert, clientCa, expected) => {
  const material: GatewayTlsMaterial = { cert, key, clientCa: clientCa.map((c) => Buffer.from(c)) };

  it.each(['-tls1_2', '-tls1_3'] as const)(
    'the gateway context sends what OpenSSL built per handshake (%s)',
    async (version) => {
      const perHandshake = await sentCertificates(
        createSecureContext(gatewayTlsContextOptions(material)),
        version,
      );
      const once_ = await sentCertificates(gatewayTlsContext(material), version);
      expect(once_.map(strip)).toEqual(perHandshake.map(strip));
      expect(once_.map(strip)).toEqual(expected.map((name) => strip(pki.read(`${name}.pem`))));
    },
  );

  it('the chain is built once, at context creation, only for a leaf alone', () => {
    const plain = createSecureContext(gatewayTlsContextOptions(material));
    const alone = certificatesIn(cert) === 1;
    // A leaf alone: OpenSSL holds no chain and would build one per handshake.
    expect(hasServerChain(plain)).toBe(!alone);
    expect(buildServerChain(plain, cert)).toBe(alone);
    expect(hasServerChain(plain)).toBe(true);
    expect(hasServerChain(gatewayTlsContext(material), defaultTls13Tickets)).toBe(true);
  });
});
