import type { Evp } from '../../tls/evp.js';
import { loadEvp } from '../../tls/evp.js';
import { legacySuites, pskPreference, pskSuites } from '../cipher-suites.js';
import { CookieJar } from '../cookie-jar.js';
import type { DtlsChannel } from '../dtls-channel.js';
import { type DtlsDrop, DtlsEndpoint, type DtlsPeerSession } from '../dtls-endpoint.js';
import type { DtlsSessionParams } from '../server-handshake.js';
import { fixedBytes, TestClient, type TestClientOptions } from './test-client.js';

/** Node's libcrypto with a count of EVP_Cipher calls (each one is a record decryption or encryption). */
export function countingEvp(): { evp: Evp; ciphers: () => number } {
  const real = loadEvp();
  if (!real) throw new Error('these tests need koffi and the libcrypto symbols of node');
  let n = 0;
  const evp: Evp = {
    ...real,
    cipher: (ctx, out, input, length) => {
      n++;
      return real.cipher(ctx, out, input, length);
    },
  };
  return { evp, ciphers: () => n };
}

export const APP_ID = fixedBytes('app id', 32);
export const PSK = fixedBytes('psk', 32);
export const CLIENT = { address: '192.0.2.10', port: 40000 };
/** Bytes around each datagram the harness delivers (see `deliver`). */
const junk = fixedBytes('junk around a datagram', 23);

export interface Harness {
  endpoint: DtlsEndpoint;
  sent: Buffer[];
  drops: DtlsDrop[];
  channels: DtlsChannel[];
  data: Buffer[];
  ciphers: () => number;
  evp: Evp;
  /** Delivers a datagram from `from` (default CLIENT); returns what the server sent in answer. */
  deliver(datagram: Buffer, from?: { address: string; port: number }, now?: number): Buffer[];
}

/**
 * One endpoint with one session (`params`, App-ID APP_ID), a fake network that collects what the
 * server sends, and a fixed clock.
 */
export function harness(
  params: DtlsSessionParams = { mode: 'psk', psk: PSK, suites: pskPreference() },
): Harness {
  const { evp, ciphers } = countingEvp();
  const sent: Buffer[] = [];
  const drops: DtlsDrop[] = [];
  const channels: DtlsChannel[] = [];
  const data: Buffer[] = [];
  const session: DtlsPeerSession = {
    params,
    established(channel) {
      channels.push(channel);
      channel.setHandlers({
        data: (buffer, start, end) => data.push(Buffer.from(buffer.subarray(start, end))),
        closed: () => {},
      });
    },
  };
  let counter = 0;
  const endpoint = new DtlsEndpoint({
    evp,
    cookies: new CookieJar({ now: () => 1_000_000, random: (n) => fixedBytes('cookie secret', n) }),
    lookup: (id) => (id.equals(params.mode === 'legacy' ? params.sessionId : APP_ID) ? session : undefined),
    send: (datagram, length) => sent.push(Buffer.from(datagram.subarray(0, length))),
    random: (n) => fixedBytes(`server random ${counter++}`, n),
    onDrop: (r) => drops.push(r),
  });
  return {
    endpoint,
    sent,
    drops,
    channels,
    data,
    ciphers,
    evp,
    deliver(datagram, from = CLIENT, now = 1_000_000) {
      const before = sent.length;
      // Inside a larger buffer, as the batched receive hands datagrams over (a slot of many):
      // nothing may be read or written outside [start, end).
      const framed = Buffer.concat([junk, datagram, junk]);
      endpoint.receive(framed, from.address, from.port, now, -1, junk.length, junk.length + datagram.length);
      if (!framed.subarray(0, junk.length).equals(junk) || !framed.subarray(-junk.length).equals(junk)) {
        throw new Error('the endpoint wrote outside the datagram');
      }
      return sent.slice(before);
    },
  };
}

export function pskClient(evp: Evp, extra: Partial<TestClientOptions> = {}): TestClient {
  return new TestClient({
    evp,
    mode: 'psk',
    secret: PSK,
    sessionId: APP_ID,
    suites: [0x00a9, 0xccab, 0x00a8],
    expectSuite: pskSuites.aes128Gcm,
    ...extra,
  });
}

/** Runs a whole handshake through the harness; returns the established client. */
export function handshake(h: Harness, client: TestClient, from = CLIENT): TestClient {
  const [hvr] = h.deliver(client.clientHello()[0]!, from);
  let flight = h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!, from);
  for (let round = 0; round < 4 && !client.established; round++) {
    const answers = flight.flatMap((d) => client.receive(d));
    flight = answers.flatMap((d) => h.deliver(d, from));
  }
  for (const d of flight) client.receive(d);
  if (!client.established) throw new Error('handshake did not complete');
  return client;
}

export const LEGACY_SESSION_ID = fixedBytes('legacy session id', 32);
export const LEGACY_MASTER = fixedBytes('legacy master', 48);
/** OC-DTLS1_2-AES128-GCM: TLS_RSA_WITH_AES_128_GCM_SHA256 resumed. */
export const LEGACY_SUITE = legacySuites.find((s) => s.name === 'OC-DTLS1_2-AES128-GCM')!.suite;

/** A harness whose one session agreed legacy DTLS (LEGACY_SESSION_ID, LEGACY_MASTER, LEGACY_SUITE). */
export function legacyHarness(): Harness {
  return harness({
    mode: 'legacy',
    masterSecret: LEGACY_MASTER,
    sessionId: LEGACY_SESSION_ID,
    suite: LEGACY_SUITE,
  });
}

export function legacyClient(evp: Evp, extra: Partial<TestClientOptions> = {}): TestClient {
  return new TestClient({
    evp,
    mode: 'legacy',
    secret: LEGACY_MASTER,
    sessionId: LEGACY_SESSION_ID,
    suites: [0x009d, 0x009c],
    expectSuite: LEGACY_SUITE,
    ...extra,
  });
}
