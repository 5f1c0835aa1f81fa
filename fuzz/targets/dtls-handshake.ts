import fc from 'fast-check';
import { harness, legacyClient, legacyHarness, pskClient } from '../../gateway/dtls/testing/harness.js';
import { TestClient } from '../../gateway/dtls/testing/test-client.js';
import { applyByteOps, byteOp } from '../byte-mutations.js';
import { type FuzzTarget, invariant } from '../target.js';

interface Script {
  legacy: boolean;
  datagrams: Buffer[];
}

/** Every datagram a client sends in one whole handshake, then two data records and close_notify. */
function record(legacy: boolean, options: { fragment?: number; ems?: boolean }): Script {
  const h = legacy ? legacyHarness() : harness();
  const client = legacy
    ? legacyClient(h.evp, { ...options, suites: [0x009c] })
    : pskClient(h.evp, { ...options, extendedMasterSecret: options.ems ?? false });
  const datagrams: Buffer[] = [];
  const send = (d: Buffer) => {
    datagrams.push(d);
    return h.deliver(d);
  };
  const [hvr] = send(client.clientHello()[0]!);
  let flight = send(client.clientHello(TestClient.cookieOf(hvr!))[0]!);
  while (!client.established) flight = flight.flatMap((d) => client.receive(d)).flatMap(send);
  for (const d of flight) client.receive(d);
  send(Buffer.concat([client.seal(Buffer.from('0045000014', 'hex')), client.seal(Buffer.from('03', 'hex'))]));
  invariant(h.channels.length === 1 && h.data.length === 2, 'the recorded handshake did not complete');
  return { legacy, datagrams };
}

export interface HandshakeInput {
  script: number;
  /** Which datagram is damaged, and how. */
  target: number;
  ops: Parameters<typeof applyByteOps>[1];
  /** A datagram of garbage sent before datagram `at`, or none. */
  garbage: { at: number; bytes: Uint8Array } | null;
  /** Datagrams sent twice (a retransmission or a replay). */
  repeat: number[];
}

/**
 * The DTLS server end to end (gateway/dtls DtlsEndpoint): recorded client handshakes (PSK, PSK
 * with extended master secret and fragmented messages, legacy) replayed into a fresh endpoint
 * with one datagram damaged, garbage inserted and datagrams repeated. The endpoint must never
 * throw (every decode and handshake failure is a counted drop) and never hold more than one
 * handshake and one channel for the one client.
 */
export function dtlsHandshakeTarget(): FuzzTarget<HandshakeInput> {
  const scripts = [record(false, {}), record(false, { fragment: 9, ems: true }), record(true, {})];
  return {
    name: 'dtls-handshake',
    arbitrary: fc.record({
      script: fc.nat(scripts.length - 1),
      target: fc.nat(20),
      ops: fc.array(byteOp, { maxLength: 3 }),
      garbage: fc.option(fc.record({ at: fc.nat(20), bytes: fc.uint8Array({ maxLength: 120 }) }), {
        freq: 3,
      }),
      repeat: fc.array(fc.nat(20), { maxLength: 3 }),
    }),
    check: ({ script, target, ops, garbage, repeat }) => {
      const { legacy, datagrams } = scripts[script]!;
      const h = legacy ? legacyHarness() : harness();
      datagrams.forEach((d, i) => {
        if (garbage && garbage.at % datagrams.length === i) h.deliver(Buffer.from(garbage.bytes));
        const sent = i === target % datagrams.length ? applyByteOps(d, ops) : d;
        h.deliver(sent);
        if (repeat.some((r) => r % datagrams.length === i)) h.deliver(sent);
      });
      h.endpoint.tick(1_000_000 + 60_000);
      invariant(h.endpoint.handshakes === 0, 'a handshake outlived its lifetime');
      invariant(h.endpoint.size <= 1, 'more than one channel for one client');
    },
    isExpectedError: () => false,
    show: (i) =>
      JSON.stringify({
        ...i,
        garbage: i.garbage && { at: i.garbage.at, bytes: Buffer.from(i.garbage.bytes).toString('hex') },
      }),
  };
}
