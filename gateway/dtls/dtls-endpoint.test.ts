import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pskPreference, pskSuites } from './cipher-suites.js';
import { readHandshakeFragments } from './codec/handshake.js';
import { DtlsContentType, sequenceOf, splitDatagram } from './codec/record.js';
import {
  APP_ID,
  CLIENT,
  handshake,
  harness,
  legacyClient,
  legacyHarness,
  PSK,
  pskClient,
} from './testing/harness.js';
import { fixedBytes, TestClient } from './testing/test-client.js';

describe('DTLS endpoint: handshakes', () => {
  it.each([
    ['PSK-NEGOTIATE', false],
    ['PSK-NEGOTIATE with extended master secret', true],
  ])('%s: cookie, full handshake, then data both ways', (_name, ems) => {
    const h = harness();
    const client = handshake(h, pskClient(h.evp, { extendedMasterSecret: ems }));
    expect(h.channels).toHaveLength(1);
    const channel = h.channels[0]!;
    expect(channel.protocol).toBe('DTLSv1.2 TLS_PSK_WITH_AES_128_GCM_SHA256');
    expect(h.endpoint.handshakes).toBe(0);
    h.deliver(client.seal(Buffer.from('00450000', 'hex')));
    expect(h.data.map((d) => d.toString('hex'))).toEqual(['00450000']);
    channel.sendPayload(Buffer.from('04', 'hex'));
    expect(client.open(h.sent.at(-1)!).map((p) => p.toString('hex'))).toEqual(['04']);
  });

  it('PSK: picks the server preference among the suites offered, ChaCha20 first after a ChaCha20 control channel', () => {
    const h = harness({ mode: 'psk', psk: PSK, suites: pskPreference('chacha20-poly1305') });
    handshake(h, pskClient(h.evp, { expectSuite: pskSuites.chacha20 }));
    expect(h.channels[0]!.suite.name).toBe('TLS_PSK_WITH_CHACHA20_POLY1305_SHA256');
  });

  it('legacy: resumes X-DTLS-Session-ID with X-DTLS-Master-Secret (abbreviated handshake)', () => {
    const h = legacyHarness();
    const client = handshake(h, legacyClient(h.evp));
    expect(h.channels[0]!.mode).toBe('legacy');
    h.deliver(client.seal(Buffer.from('00aa', 'hex')));
    expect(h.data.map((d) => d.toString('hex'))).toEqual(['00aa']);
  });

  it('legacy: a client that does not offer the agreed suite gets handshake_failure and no channel', () => {
    const h = legacyHarness();
    const client = legacyClient(h.evp, { suites: [0x009d] });
    const [hvr] = h.deliver(client.clientHello()[0]!);
    const [alert] = h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!);
    expect(alert!.toString('hex')).toMatch(/^15fefd0000.{12}00020228$/);
    expect(h.drops).toEqual(['handshake-failed']);
    expect(h.endpoint.handshakes).toBe(0);
  });

  it('PSK: a client with another PSK gets no channel: its Finished does not authenticate, the handshake expires', () => {
    const h = harness();
    const client = pskClient(h.evp, { secret: fixedBytes('wrong psk', 32) });
    expect(() => handshake(h, client)).toThrow(/did not complete/);
    expect(h.channels).toHaveLength(0);
    expect(h.endpoint.handshakes).toBe(1);
    h.endpoint.tick(1_000_000 + 30_000);
    expect(h.endpoint.handshakes).toBe(0);
    expect(h.drops).toEqual(['handshake-timeout']);
  });

  it.each([
    ['PSK', false],
    ['legacy', true],
  ])(
    '%s: a Finished that authenticates but does not verify gets decrypt_error and no channel',
    (_n, isLegacy) => {
      const h = isLegacy ? legacyHarness() : harness();
      const client = isLegacy
        ? legacyClient(h.evp, { suites: [0x009c], corruptFinished: true })
        : pskClient(h.evp, { corruptFinished: true });
      expect(() => handshake(h, client)).toThrow();
      expect(h.drops).toEqual(['handshake-failed']);
      expect(h.sent.at(-1)!.subarray(-2).toString('hex')).toBe('0233'); // fatal decrypt_error (51)
      expect(h.channels).toHaveLength(0);
      expect(h.endpoint.handshakes).toBe(0);
    },
  );

  it('property: the client flight fragmented at any size and reordered still completes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.boolean(), (size, reverse) => {
        const h = harness();
        const client = pskClient(h.evp, { fragment: size });
        const [hvr] = h.deliver(client.clientHello()[0]!);
        const flight4 = h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!);
        const flight5 = client.receive(flight4[0]!);
        // The CCS must precede the Finished it announces; fragments of each message in any order.
        const ccs = flight5.findIndex((d) => d[0] === DtlsContentType.changeCipherSpec);
        const cke = flight5.slice(0, ccs);
        const finished = flight5.slice(ccs + 1);
        const order = (a: Buffer[]) => (reverse ? a.reverse() : a);
        const ordered = [...order(cke), flight5[ccs]!, ...order(finished)];
        const answers = ordered.flatMap((d) => h.deliver(d));
        for (const d of answers) client.receive(d);
        expect(client.established).toBe(true);
        expect(h.channels).toHaveLength(1);
      }),
      { numRuns: 40 },
    );
  });

  it('an epoch-1 Finished that overtakes the CCS is held until the CCS arrives', () => {
    const h = harness();
    const client = pskClient(h.evp);
    const [hvr] = h.deliver(client.clientHello()[0]!);
    const [flight4] = h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!);
    const [cke, ccs, finished] = client.receive(flight4!);
    expect(h.deliver(cke!)).toEqual([]);
    expect(h.deliver(finished!)).toEqual([]);
    const [answer] = h.deliver(ccs!);
    client.receive(answer!);
    expect(client.established).toBe(true);
  });
});

describe('DTLS endpoint: retransmission (RFC 6347 §4.2.4)', () => {
  it('sends its flight again when the client repeats its ClientHello, at most every 250 ms', () => {
    const h = harness();
    const client = pskClient(h.evp);
    const [hvr] = h.deliver(client.clientHello()[0]!);
    const hello2 = client.clientHello(TestClient.cookieOf(hvr!))[0]!;
    const [first] = h.deliver(hello2, CLIENT, 1_000_000);
    expect(h.deliver(hello2, CLIENT, 1_000_100)).toEqual([]);
    const [again] = h.deliver(hello2, CLIENT, 1_000_300);
    expect(again).toBeDefined();
    // The same messages, in records numbered anew.
    const seqs = (d: Buffer) => splitDatagram(d).map(sequenceOf);
    expect(seqs(again!)[0]).toBeGreaterThan(seqs(first!).at(-1)!);
    expect(h.endpoint.handshakes).toBe(1);
  });

  it('retransmits on its timer, doubling it, and gives the handshake up after its lifetime', () => {
    const h = harness();
    const client = pskClient(h.evp);
    const [hvr] = h.deliver(client.clientHello()[0]!);
    h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!, CLIENT, 0);
    const at = (t: number) => {
      const before = h.sent.length;
      h.endpoint.tick(t);
      return h.sent.length - before;
    };
    expect(at(999)).toBe(0);
    expect(at(1000)).toBe(1);
    expect(at(2999)).toBe(0);
    expect(at(3000)).toBe(1);
    expect(at(30_000)).toBe(0);
    expect(h.endpoint.handshakes).toBe(0);
    expect(h.drops).toEqual(['handshake-timeout']);
  });

  it('PSK: answers a repeated client flight with its CCS + Finished again once established', () => {
    const h = harness();
    const client = pskClient(h.evp);
    const [hvr] = h.deliver(client.clientHello()[0]!);
    const [flight4] = h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!);
    const flight5 = client.receive(flight4!);
    const answers = flight5.flatMap((d) => h.deliver(d));
    expect(answers).toHaveLength(1); // lost on its way
    const [again] = h.deliver(flight5[0]!, CLIENT, 1_001_000);
    client.receive(again!);
    expect(client.established).toBe(true);
  });
});

describe('DTLS endpoint: what unauthenticated datagrams cost', () => {
  it('answers a ClientHello without a cookie with a HelloVerifyRequest and keeps nothing', () => {
    const h = harness();
    const client = pskClient(h.evp);
    const [hello] = client.clientHello();
    const [hvr] = h.deliver(hello!);
    const [record] = splitDatagram(hvr!);
    expect(record).toMatchObject({ type: DtlsContentType.handshake, version: 0xfeff, epoch: 0 });
    expect(sequenceOf(record!)).toBe(sequenceOf(splitDatagram(hello!)[0]!));
    const [f] = readHandshakeFragments(hvr!.subarray(13));
    expect(f).toMatchObject({ type: 3, messageSeq: 0, offset: 0 });
    expect(hvr!.length).toBeLessThan(hello!.length); // no amplification
    expect(h.endpoint.handshakes).toBe(0);
    expect(h.ciphers()).toBe(0);
  });

  it('a cookie minted for another source address is refused: a new HelloVerifyRequest, no state', () => {
    const h = harness();
    const client = pskClient(h.evp);
    const [hvr] = h.deliver(client.clientHello()[0]!, { address: '198.51.100.7', port: 1234 });
    const answer = h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!);
    expect(answer).toHaveLength(1);
    expect(readHandshakeFragments(answer[0]!.subarray(13))[0]!.type).toBe(3);
    expect(h.drops).toEqual(['bad-cookie']);
    expect(h.endpoint.handshakes).toBe(0);
  });

  it('a verified address naming no known session gets nothing', () => {
    const h = harness();
    const client = pskClient(h.evp, { sessionId: fixedBytes('other app id', 32) });
    const [hvr] = h.deliver(client.clientHello()[0]!);
    expect(h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!)).toEqual([]);
    expect(h.drops).toEqual(['unknown-session']);
    expect(h.endpoint.handshakes).toBe(0);
  });

  it('property: any datagram from an unknown address costs no decryption and leaves no state', () => {
    const h = harness();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(3), (bytes, kind) => {
        // Random bytes, or made to look like protected data, an alert, or a ClientHello.
        const d = Buffer.from(bytes);
        if (d.length > 13 && kind > 0) {
          d[0] = [23, 21, 22][kind - 1]!;
          d[1] = 0xfe;
          d[2] = 0xfd;
        }
        h.deliver(d, { address: '203.0.113.9', port: 999 });
        expect(h.endpoint.handshakes).toBe(0);
        expect(h.ciphers()).toBe(0);
      }),
    );
  });

  it('on an established channel: a replay costs no decryption, a forged datagram one at most', () => {
    const h = harness();
    const client = handshake(h, pskClient(h.evp));
    const packet = client.seal(Buffer.from('0045', 'hex'));
    // Three records with fresh numbers but garbage inside (sealed before counting: the test
    // client shares the counting EVP).
    const forged = [1, 2, 3].map((i) => {
      const r = client.seal(Buffer.from('0045', 'hex'));
      r[r.length - 1]! ^= i;
      return r;
    });
    h.deliver(packet);
    const afterOne = h.ciphers();
    h.deliver(packet);
    h.deliver(Buffer.concat([packet, packet]));
    expect(h.ciphers()).toBe(afterOne);
    expect(h.drops).toEqual(['replay', 'replay', 'replay']);
    // The first record that fails ends the datagram.
    h.deliver(Buffer.concat(forged));
    expect(h.ciphers()).toBe(afterOne + 1);
    expect(h.drops.at(-1)).toBe('bad-record-mac');
    expect(h.data).toHaveLength(1);
  });

  it('a forged record does not move the replay window; the genuine one behind it still passes', () => {
    const h = harness();
    const client = handshake(h, pskClient(h.evp));
    const genuine = client.seal(Buffer.from('01', 'hex'));
    const forged = Buffer.from(genuine);
    forged[forged.length - 3]! ^= 0x80;
    h.deliver(forged);
    h.deliver(genuine);
    expect(h.data.map((d) => d.toString('hex'))).toEqual(['01']);
  });

  it('bounds the handshakes in progress; one per session', () => {
    const h = harness();
    for (let port = 1; port <= 3; port++) {
      const client = pskClient(h.evp, { random: fixedBytes(`r${port}`, 32) });
      const from = { address: CLIENT.address, port };
      const [hvr] = h.deliver(client.clientHello()[0]!, from);
      h.deliver(client.clientHello(TestClient.cookieOf(hvr!))[0]!, from);
    }
    // Same App-ID from three ports: each newer handshake replaced the older.
    expect(h.endpoint.handshakes).toBe(1);
    expect(APP_ID.length).toBe(32);
  });

  it('a close_notify from the client closes the channel; its records are then dropped', () => {
    const h = harness();
    const client = handshake(h, pskClient(h.evp));
    const closed: string[] = [];
    h.channels[0]!.setHandlers({ data: () => {}, closed: (r) => closed.push(r) });
    const buffer = Buffer.alloc(13 + 8 + 2 + 16);
    buffer[13 + 8] = 1;
    buffer[13 + 8 + 1] = 0;
    const sealer = client.sealer!;
    const alert = buffer.subarray(0, sealer.seal(buffer, h.evp.address(buffer), 0, DtlsContentType.alert, 2));
    h.deliver(alert);
    expect(closed).toEqual(['client close_notify']);
    expect(h.endpoint.size).toBe(0);
    h.deliver(client.seal(Buffer.from('00', 'hex')));
    expect(h.drops.at(-1)).toBe('not-client-hello');
  });
});
