import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ChunkPool } from '../../gateway/tls/chunk-pool.js';
import { type CipherSuite, cipherSuite } from '../../gateway/tls/cipher-suites.js';
import { type Evp, loadEvp } from '../../gateway/tls/evp.js';
import type { SessionKeys } from '../../gateway/tls/handshake-observer.js';
import { tls13NextTrafficSecret, tls13TrafficKeys } from '../../gateway/tls/key-schedule.js';
import { type ContentType, RECORD_HEADER_LENGTH, TlsRecordError } from '../../gateway/tls/record.js';
import { RecordLayer } from '../../gateway/tls/record-layer.js';
import { canRekey, createSealer, type RecordSealer } from '../../gateway/tls/record-protection.js';
import { applyByteOps, byteOp, chunking, splitInto } from '../byte-mutations.js';
import type { FuzzTarget } from '../target.js';

/** Fixed key material, so that a seed reproduces the same streams. */
const bytes = (label: string, n: number) => createHash('sha512').update(label).digest().subarray(0, n);

function sessionKeys(suite: CipherSuite): SessionKeys {
  if (suite.version === 'TLSv1.3') {
    const client = bytes('client', suite.hash === 'sha384' ? 48 : 32);
    const server = bytes('server', suite.hash === 'sha384' ? 48 : 32);
    return {
      suite,
      client: { keys: tls13TrafficKeys(suite, client), secret: client },
      server: { keys: tls13TrafficKeys(suite, server), secret: server },
    };
  }
  const keys = (l: string) => ({
    key: bytes(`${l}key`, suite.keyLength),
    iv: bytes(`${l}iv`, suite.ivLength),
  });
  return { suite, client: { keys: keys('c') }, server: { keys: keys('s') } };
}

function seal(evp: Evp, sealer: RecordSealer, type: ContentType, payload: Buffer): Buffer {
  const buffer = Buffer.alloc(RECORD_HEADER_LENGTH + sealer.prefix + payload.length + sealer.suffix);
  payload.copy(buffer, RECORD_HEADER_LENGTH + sealer.prefix);
  return buffer.subarray(0, sealer.seal(buffer, evp.address(buffer), 0, type, payload.length));
}

type Plain = [ContentType, string];
/** Record sequences a client sends after the takeover: data, alerts, KeyUpdate, oddities. */
const scripts: Plain[][] = [
  [
    [23, '68656c6c6f'],
    [23, ''],
  ],
  [
    [23, 'ab'.repeat(1400)],
    [21, '0100'],
  ],
  [[21, '0232']],
  [
    [22, '1800000101'],
    [23, '6166746572'],
  ],
  [
    [22, '1800000100'],
    [22, '1800000100'],
  ],
  [[22, '0100000400000000']],
  [[20, '01']],
  [[23, '00'.repeat(16384)]],
  [[99 as ContentType, '00']],
];

interface Stream {
  suite: CipherSuite;
  bytes: Buffer;
}

function sealedStreams(evp: Evp): Stream[] {
  const suites = [
    cipherSuite(0x1301, 'TLSv1.3')!,
    cipherSuite(0x1303, 'TLSv1.3')!,
    cipherSuite(0xc02f, 'TLSv1.2')!,
  ];
  const streams: Stream[] = [];
  for (const suite of suites) {
    for (const script of scripts) {
      const keys = sessionKeys(suite);
      const sealer = createSealer(evp, suite, keys.client.keys, 0);
      let secret = keys.client.secret;
      const records: Buffer[] = [];
      for (const [type, hex] of script) {
        records.push(seal(evp, sealer, type, Buffer.from(hex, 'hex')));
        // After our KeyUpdate the client seals under its next traffic secret (RFC 8446 §4.6.3).
        if (type === 22 && hex.startsWith('18') && secret && canRekey(sealer)) {
          secret = tls13NextTrafficSecret(suite, secret);
          sealer.rekey(tls13TrafficKeys(suite, secret));
        }
      }
      sealer.dispose();
      streams.push({ suite, bytes: Buffer.concat(records) });
    }
  }
  return streams;
}

export interface RecordLayerInput {
  stream: number;
  bytes: Buffer;
  cuts: number[];
}

/**
 * The takeover record layer (gateway/tls RecordLayer.receive): real sealed records under fixed
 * keys, damaged (bit flips, cut, lengths changed, garbage), fed in arbitrary chunks to a fresh
 * layer. Only TlsRecordError (with the alert to send) may come out.
 */
export function tlsRecordLayerTarget(): FuzzTarget<RecordLayerInput> {
  const evp = loadEvp();
  if (!evp) throw new Error('tls-record-layer needs koffi and Node libcrypto (loadEvp failed)');
  const pool = new ChunkPool(evp, 64 * 1024, 8);
  const streams = sealedStreams(evp);
  const events = { data: () => {}, closeNotify: () => {}, outputQueued: () => {} };
  return {
    name: 'tls-record-layer',
    arbitrary: fc
      .record({
        stream: fc.nat(streams.length - 1),
        ops: fc.array(byteOp, { maxLength: 3 }),
        garbage: fc.oneof(
          { weight: 6, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
        ),
        cuts: chunking,
      })
      .map(({ stream, ops, garbage, cuts }) => ({
        stream,
        bytes: garbage ? Buffer.from(garbage) : applyByteOps(streams[stream]!.bytes, ops),
        cuts,
      })),
    check: ({ stream, bytes, cuts }) => {
      const suite = streams[stream]!.suite;
      const layer = new RecordLayer(evp, pool, sessionKeys(suite), { client: 0, server: 0 }, events);
      try {
        for (const piece of splitInto(bytes, cuts)) {
          const chunk = Buffer.from(piece); // the layer decrypts in place
          layer.receive(chunk, evp.address(chunk));
        }
      } finally {
        for (const out of layer.takeOutput()) pool.give(out.chunk);
        layer.dispose();
      }
    },
    isExpectedError: (e) => e instanceof TlsRecordError,
    show: (i) => JSON.stringify({ stream: i.stream, bytes: i.bytes.toString('hex'), cuts: i.cuts }),
  };
}
