import fc from 'fast-check';
import { legacySuites, pskSuites } from '../../gateway/dtls/cipher-suites.js';
import { DtlsChannel } from '../../gateway/dtls/dtls-channel.js';
import { DtlsRecordProtection } from '../../gateway/dtls/record-protection.js';
import { ReplayWindow } from '../../gateway/dtls/replay-window.js';
import { fixedBytes } from '../../gateway/dtls/testing/test-client.js';
import type { CipherSuite } from '../../gateway/tls/cipher-suites.js';
import { type Evp, loadEvp } from '../../gateway/tls/evp.js';
import { applyByteOps, byteOp } from '../byte-mutations.js';
import { type FuzzTarget, invariant } from '../target.js';

const keys = (suite: CipherSuite, who: string) => ({
  key: fixedBytes(`${who} key`, suite.keyLength),
  iv: fixedBytes(`${who} iv`, suite.ivLength),
});

/** Client datagrams: one or more records (data, alerts, a renegotiation attempt, an epoch-0 retransmission). */
function datagrams(evp: Evp, suite: CipherSuite): Buffer[] {
  const sealer = new DtlsRecordProtection(evp, suite, keys(suite, 'client'), true, 1);
  const seal = (type: 21 | 22 | 23, hex: string) => {
    const payload = Buffer.from(hex, 'hex');
    const b = Buffer.alloc(sealer.overhead + payload.length);
    payload.copy(b, 13 + sealer.prefix);
    return b.subarray(0, sealer.seal(b, evp.address(b), 0, type, payload.length));
  };
  const out = [
    seal(23, `00${'45'.repeat(60)}`),
    Buffer.concat([seal(23, '03'), seal(23, '07'), seal(23, `00${'ab'.repeat(1400)}`)]),
    seal(22, '010000000000000000000000'),
    seal(21, '0100'),
    seal(21, '022800'),
    Buffer.from('16fefd0000000000000007000c100000000002000000000000', 'hex'),
    seal(23, ''),
  ];
  sealer.dispose();
  return out;
}

export interface RecordInput {
  suite: number;
  order: number[];
  ops: Parameters<typeof applyByteOps>[1];
  target: number;
}

/**
 * An established DTLS channel (gateway/dtls DtlsChannel.receive, the data path's record layer)
 * fed real sealed datagrams under fixed keys, reordered, repeated and damaged. It must never
 * throw; every record it delivers must have authenticated once (no replay gets through).
 */
export function dtlsRecordTarget(): FuzzTarget<RecordInput> {
  const evp = loadEvp();
  if (!evp) throw new Error('dtls-record needs koffi and Node libcrypto (loadEvp failed)');
  const suites = [pskSuites.aes128Gcm, pskSuites.chacha20, legacySuites[3]!.suite];
  const sets = suites.map((s) => datagrams(evp, s));
  return {
    name: 'dtls-record',
    arbitrary: fc.record({
      suite: fc.nat(suites.length - 1),
      order: fc.array(fc.nat(10), { minLength: 1, maxLength: 10 }),
      ops: fc.array(byteOp, { maxLength: 3 }),
      target: fc.nat(10),
    }),
    check: ({ suite, order, ops, target }) => {
      const s = suites[suite]!;
      const set = sets[suite]!;
      const state = {
        mode: 'psk' as const,
        suite: s,
        opener: new DtlsRecordProtection(evp, s, keys(s, 'client'), false, 1),
        sealer: new DtlsRecordProtection(evp, s, keys(s, 'server'), true, 1),
        replay: new ReplayWindow(),
        finalFlight: () => Buffer.alloc(1),
      };
      const delivered = new Set<string>();
      let duplicate = false;
      const channel = new DtlsChannel(evp, state, '192.0.2.1', 1, {
        send: () => {},
        forget: () => {},
        drop: () => {},
      });
      channel.setHandlers({
        data: (buffer, start, end) => {
          const header = start - channel.prefix - 13;
          const key = `${buffer.readBigUInt64BE(header + 3)}:${buffer.subarray(start, end).toString('hex')}`;
          if (delivered.has(key)) duplicate = true;
          delivered.add(key);
        },
        closed: () => {},
      });
      try {
        order.forEach((i, n) => {
          const d = Buffer.from(set[i % set.length]!);
          const sent = n === target % order.length ? Buffer.from(applyByteOps(d, ops)) : d;
          channel.receive(sent, evp.address(sent), n * 100);
        });
      } finally {
        channel.close('done', true);
      }
      invariant(!duplicate, 'a record was delivered twice');
    },
    isExpectedError: () => false,
    show: (i) => JSON.stringify(i),
  };
}
