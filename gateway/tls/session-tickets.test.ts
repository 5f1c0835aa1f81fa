import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect, createSecureContext, type SecureContext, TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTls13Tickets, gatewayTlsContext, gatewayTlsContextOptions } from './gateway-tls-context.js';
import { setTls13Tickets } from './session-tickets.js';
import { selfSignedP256, withServer } from './testing/tls-client.js';

const { cert, key, remove } = selfSignedP256();
afterAll(remove);

/**
 * NewSessionTicket messages a TLS 1.3 client receives from a server on `context` (with a client
 * certificate, as certificate auth asks for one), counted by the client's 'session' events.
 */
async function ticketsSent(context: SecureContext): Promise<number> {
  const onSocket = (raw: Socket) => {
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context, requestCert: true });
    tls.on('error', () => raw.destroy());
    tls.on('data', () => tls.end());
  };
  return withServer(onSocket, async (port) => {
    const client = connect({
      port,
      host: '127.0.0.1',
      ca: cert,
      cert,
      key,
      checkServerIdentity: () => undefined,
      minVersion: 'TLSv1.3',
    });
    let tickets = 0;
    client.on('session', () => tickets++);
    await once(client, 'secureConnect');
    // The tickets follow the client's Finished; the server answers the byte once it has read it.
    client.write('x');
    client.resume();
    await once(client, 'close');
    return tickets;
  });
}

describe('TLS 1.3 tickets per handshake', () => {
  it("OpenSSL's default context sends two", async () => {
    const context = createSecureContext(gatewayTlsContextOptions({ cert, key, clientCa: [cert] }));
    expect(await ticketsSent(context)).toBe(2);
  });

  it('the gateway context sends none by default', async () => {
    expect(defaultTls13Tickets).toBe(0);
    expect(await ticketsSent(gatewayTlsContext({ cert, key, clientCa: [cert] }))).toBe(0);
  });

  it.each([0, 1, 2])('the gateway context with tls13Tickets %i sends that many', async (n) => {
    const context = gatewayTlsContext({ cert, key, clientCa: [cert], tls13Tickets: n });
    expect(await ticketsSent(context)).toBe(n);
  });

  it.each([0, 1, 3])('setTls13Tickets(%i) is what the client sees', async (n) => {
    const context = createSecureContext(gatewayTlsContextOptions({ cert, key, clientCa: [cert] }));
    expect(setTls13Tickets(context, n)).toBe(true);
    expect(await ticketsSent(context)).toBe(n);
  });
});
