import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { toPem } from '../../certs/pem.js';
import { caExtensions, TestPki } from '../../certs/testing/test-pki.js';
import { clientCaCertificates, gatewayTlsContext } from './gateway-tls-context.js';
import { withServer } from './testing/tls-client.js';
import { TlsConnection } from './tls-connection.js';

const pki = new TestPki({ prefix: 'outpost-client-ca-' });
pki.selfSigned('server', { subject: '/CN=127.0.0.1', days: 2 });
pki.selfSigned('device', { subject: '/CN=device', days: 2 });
pki.selfSigned('stranger', { subject: '/CN=stranger', days: 2 });
// A client certificate from an intermediate CA, sent with the intermediate.
pki.selfSigned('root', { subject: '/CN=Root CA', extensions: caExtensions, days: 2 });
pki.issue('intermediate', { issuer: 'root', subject: '/CN=Devices CA', extensions: caExtensions, days: 2 });
pki.issue('via', { issuer: 'intermediate', subject: '/CN=via-intermediate', days: 2 });
afterAll(() => pki.cleanup());
const pem = (name: string) => pki.read(`${name}.pem`);

describe('clientCaCertificates: the CA certificates a context verifies client certificates against', () => {
  it('is every CERTIFICATE block of every entry, in order', () => {
    const ders = clientCaCertificates([Buffer.from(pem('device') + pem('stranger')), pem('server')]);
    expect(ders?.map((d) => toPem('CERTIFICATE', d))).toEqual([
      pem('device'),
      pem('stranger'),
      pem('server'),
    ]);
  });

  it.each([
    [
      'a TRUSTED CERTIFICATE block (OpenSSL reads it too)',
      () => pem('device').replaceAll(' CERTIFICATE', ' TRUSTED CERTIFICATE'),
    ],
    ['an X509 CERTIFICATE block', () => pem('device').replaceAll(' CERTIFICATE', ' X509 CERTIFICATE')],
    ['a key block beside the certificate', () => pem('device') + pki.read('device.key')],
    ['a BEGIN line the PEM reader does not take', () => `${pem('device')}-----BEGIN CERTIFICATE-----\n`],
    ['no certificate at all', () => ''],
  ])('cannot be told exactly with %s: undefined', (_, bundle) => {
    expect(clientCaCertificates([bundle()])).toBeUndefined();
  });
});

const clientCa = [Buffer.from(pem('device'))];
// One TLS 1.3 ticket per handshake (the gateway's default sends none), to resume with.
const context = gatewayTlsContext({
  cert: pem('server'),
  key: pki.read('server.key'),
  clientCa,
  tls13Tickets: 1,
});

interface Seen {
  verifiedAgainst: readonly Buffer[] | undefined;
  /** The TLS 1.3 ticket the client got, to resume with. */
  session: Buffer | undefined;
  reused: boolean;
}

/**
 * What a TlsConnection says OpenSSL verified, for a client presenting `name`'s certificate
 * (resuming `session` when given). One context for all, so that its tickets resume.
 */
async function connectAs(name: string, session?: Buffer): Promise<Seen> {
  const clientCaDer = clientCaCertificates(clientCa)!;
  let seen: readonly Buffer[] | undefined;
  const onSocket = (raw: Socket) => {
    const connection = new TlsConnection(raw, {
      secureContext: context,
      requestCert: true,
      clientCaDer,
      recordLayer: undefined,
      maxQueuedBytes: 1 << 20,
    });
    connection.tls.on('error', () => raw.destroy());
    connection.tls.once('secure', () => {
      seen = connection.clientChainVerifiedAgainst;
    });
    // The client ends once it holds its ticket (sent after the handshake).
    connection.tls.on('end', () => connection.tls.end());
  };
  return withServer(onSocket, async (port) => {
    const client = connect({
      port,
      host: '127.0.0.1',
      rejectUnauthorized: false,
      cert: pem(name),
      key: pki.read(`${name}.key`),
      ...(session ? { session } : {}),
    });
    let ticket: Buffer | undefined;
    client.on('session', (s: Buffer) => {
      ticket = s;
      client.end();
    });
    let reused = false;
    client.once('secureConnect', () => {
      reused = client.isSessionReused();
      // A resumed session gets no new ticket (one per full handshake): it ends once it is up.
      if (session) client.end();
    });
    client.on('error', () => undefined);
    client.resume();
    await once(client, 'close');
    return { verifiedAgainst: seen, session: ticket, reused };
  });
}

async function verifiedAgainst(name: string): Promise<readonly Buffer[] | undefined> {
  return (await connectAs(name)).verifiedAgainst;
}

describe('TlsConnection.clientChainVerifiedAgainst', () => {
  it('names the CA certificates when OpenSSL verified the client certificate against them', async () => {
    const ders = await verifiedAgainst('device');
    expect(ders?.map((d) => toPem('CERTIFICATE', d))).toEqual([pem('device')]);
  });

  it('is undefined when the certificate did not verify', async () => {
    expect(await verifiedAgainst('stranger')).toBeUndefined();
  });

  it('is undefined on a resumed session: its verification was made in an earlier handshake', async () => {
    const first = await connectAs('device');
    expect(first.verifiedAgainst).toBeDefined();
    expect(first.session).toBeDefined();
    const second = await connectAs('device', first.session);
    expect(second.reused).toBe(true);
    expect(second.verifiedAgainst).toBeUndefined();
  });
});

describe('TlsConnection.peerCertificate', () => {
  it('keeps the chain the client sent, also after clientChainVerifiedAgainst was read', async () => {
    const rootCa = [Buffer.from(pem('root'))];
    const rootContext = gatewayTlsContext({
      cert: pem('server'),
      key: pki.read('server.key'),
      clientCa: rootCa,
    });
    let verified: readonly Buffer[] | undefined;
    let chain: string[] = [];
    const onSocket = (raw: Socket) => {
      const connection = new TlsConnection(raw, {
        secureContext: rootContext,
        requestCert: true,
        clientCaDer: clientCaCertificates(rootCa)!,
        recordLayer: undefined,
        maxQueuedBytes: 1 << 20,
      });
      connection.tls.on('error', () => raw.destroy());
      connection.tls.once('secure', () => {
        // The gateway's order (gateway-server.ts onRequest): the verification first, then the chain.
        verified = connection.clientChainVerifiedAgainst;
        for (let c = connection.peerCertificate(); c && chain.length < 4; c = c.issuerCertificate) {
          chain.push(c.subject);
        }
        // Node 20 hands the presented chain out once: the socket itself no longer has it.
        chain = [...chain, `then: ${connection.tls.getPeerX509Certificate()?.issuerCertificate?.subject}`];
        connection.tls.end();
      });
    };
    await withServer(onSocket, async (port) => {
      const client = connect({
        port,
        host: '127.0.0.1',
        rejectUnauthorized: false,
        cert: pem('via') + pem('intermediate'),
        key: pki.read('via.key'),
      });
      client.on('error', () => undefined);
      client.resume();
      await once(client, 'close');
    });
    expect(verified).toBeDefined();
    expect(chain).toEqual(['CN=via-intermediate', 'CN=Devices CA', 'then: undefined']);
  });
});
