import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkPool } from './chunk-pool.js';
import { type CipherSuite, cipherSuite } from './cipher-suites.js';
import { loadEvp } from './evp.js';
import type { SessionKeys } from './handshake-observer.js';
import { tls13NextTrafficSecret, tls13TrafficKeys } from './key-schedule.js';
import { AlertDescription, ContentType, RECORD_HEADER_LENGTH } from './record.js';
import { PeerAlertError, RecordLayer, sequenceOf } from './record-layer.js';
import {
  canRekey,
  createOpener,
  createSealer,
  type RecordOpener,
  type RecordSealer,
} from './record-protection.js';

const evp = loadEvp()!;
const pool = new ChunkPool(evp, 64 * 1024, 4);
const tls13 = cipherSuite(0x1301, 'TLSv1.3')!;
const tls12 = cipherSuite(0xc02f, 'TLSv1.2')!;

/** Keys for both directions, and the client's view of them (its sealer opens nothing of ours). */
function session(suite: CipherSuite) {
  const clientSecret = randomBytes(32);
  const serverSecret = randomBytes(32);
  const tls12Keys = () => ({ key: randomBytes(suite.keyLength), iv: randomBytes(suite.ivLength) });
  const keys: SessionKeys =
    suite.version === 'TLSv1.3'
      ? {
          suite,
          client: { keys: tls13TrafficKeys(suite, clientSecret), secret: clientSecret },
          server: { keys: tls13TrafficKeys(suite, serverSecret), secret: serverSecret },
        }
      : { suite, client: { keys: tls12Keys() }, server: { keys: tls12Keys() } };
  const clientSeals = createSealer(evp, suite, keys.client.keys, 3);
  const clientOpens = createOpener(evp, suite, keys.server.keys, 7);
  const events = { data: [] as string[], closeNotify: 0, outputQueued: 0 };
  const layer = new RecordLayer(
    evp,
    pool,
    keys,
    { client: 3, server: 7 },
    {
      data: (b, s, e) => events.data.push(b.toString('utf8', s, e)),
      closeNotify: () => events.closeNotify++,
      outputQueued: () => events.outputQueued++,
    },
    { keyUpdateAfter: 1000 },
  );
  return { keys, clientSecret, serverSecret, clientSeals, clientOpens, layer, events };
}

function seal(sealer: RecordSealer, type: ContentType, payload: Buffer): Buffer {
  const buffer = Buffer.alloc(RECORD_HEADER_LENGTH + sealer.prefix + payload.length + sealer.suffix);
  payload.copy(buffer, RECORD_HEADER_LENGTH + sealer.prefix);
  return buffer.subarray(0, sealer.seal(buffer, evp.address(buffer), 0, type, payload.length));
}

function receive(layer: RecordLayer, bytes: Buffer): void {
  const copy = Buffer.from(bytes);
  layer.receive(copy, evp.address(copy));
}

/** Every record the layer sealed, opened by the client: [type, payload]. */
function output(layer: RecordLayer, opener: RecordOpener): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const { chunk, length } of layer.takeOutput()) {
    let at = 0;
    while (at < length) {
      const end = at + RECORD_HEADER_LENGTH + chunk.buffer.readUInt16BE(at + 3);
      expect(opener.open(chunk.buffer, chunk.address, at, end)).toBe(true);
      out.push([opener.type, chunk.buffer.toString('hex', opener.plainStart, opener.plainEnd)]);
      at = end;
    }
    pool.give(chunk);
  }
  return out;
}

describe('RecordLayer', () => {
  it('opens application data in order and seals one record per begin/end', () => {
    const { clientSeals, clientOpens, layer, events } = session(tls13);
    receive(
      layer,
      Buffer.concat([seal(clientSeals, 23, Buffer.from('one')), seal(clientSeals, 23, Buffer.from('two'))]),
    );
    expect(events.data).toEqual(['one', 'two']);
    for (const text of ['a', 'bb']) {
      const chunk = layer.begin(text.length);
      chunk.buffer.write(text, layer.plaintextOffset);
      layer.end(ContentType.applicationData, text.length);
    }
    expect(output(layer, clientOpens)).toEqual([
      [23, Buffer.from('a').toString('hex')],
      [23, Buffer.from('bb').toString('hex')],
    ]);
    expect(layer.sequences).toEqual({ client: 5, server: 9 });
    layer.dispose();
  });

  it('follows a client KeyUpdate and answers update_requested with its own (RFC 8446 §4.6.3)', () => {
    const { clientSeals, clientOpens, clientSecret, serverSecret, layer, events } = session(tls13);
    receive(layer, seal(clientSeals, 22, Buffer.from('1800000101', 'hex')));
    expect(events.outputQueued).toBe(1);
    if (!canRekey(clientSeals) || !canRekey(clientOpens)) throw new Error('TLS 1.3 protections rekey');
    clientSeals.rekey(tls13TrafficKeys(tls13, tls13NextTrafficSecret(tls13, clientSecret)));
    receive(layer, seal(clientSeals, 23, Buffer.from('after update')));
    expect(events.data).toEqual(['after update']);
    // Our KeyUpdate(update_not_requested) under the old keys; the client then switches too.
    const ours = layer.takeOutput();
    const first = ours[0]!;
    expect(clientOpens.open(first.chunk.buffer, first.chunk.address, 0, first.length)).toBe(true);
    expect(first.chunk.buffer.toString('hex', clientOpens.plainStart, clientOpens.plainEnd)).toBe(
      '1800000100',
    );
    pool.give(first.chunk);
    clientOpens.rekey(tls13TrafficKeys(tls13, tls13NextTrafficSecret(tls13, serverSecret)));
    const chunk = layer.begin(2);
    chunk.buffer.write('ok', layer.plaintextOffset);
    layer.end(ContentType.applicationData, 2);
    expect(output(layer, clientOpens)).toEqual([[23, Buffer.from('ok').toString('hex')]]);
    layer.dispose();
  });

  it('reports close_notify, turns a fatal alert into PeerAlertError, and sends alerts', () => {
    const a = session(tls13);
    receive(a.layer, seal(a.clientSeals, 21, Buffer.of(1, 0)));
    expect(a.events.closeNotify).toBe(1);
    expect(() => receive(a.layer, seal(a.clientSeals, 21, Buffer.of(2, 40)))).toThrow(PeerAlertError);
    const b = session(tls12);
    receive(b.layer, seal(b.clientSeals, 21, Buffer.of(1, 100))); // a TLS 1.2 warning is ignored
    b.layer.alert(AlertDescription.badRecordMac);
    expect(output(b.layer, b.clientOpens)).toEqual([[21, '0214']]);
    a.layer.dispose();
    b.layer.dispose();
  });

  it.each([
    ['a TLS 1.2 handshake message (renegotiation)', tls12, 22, '0100000100', /renegotiation/],
    ['a TLS 1.3 handshake message other than KeyUpdate', tls13, 22, '0400000100', /other than KeyUpdate/],
    ['a TLS 1.3 KeyUpdate with a bad request value', tls13, 22, '1800000102', /KeyUpdate request 2/],
    ['change_cipher_spec inside protection', tls13, 20, '01', /content type 20 after the handshake/],
    ['an alert of the wrong length', tls13, 21, '020000', /alert of wrong length/],
  ])('refuses %s', (_, suite, type, hex, message) => {
    const { clientSeals, layer } = session(suite);
    expect(() => receive(layer, seal(clientSeals, type as ContentType, Buffer.from(hex, 'hex')))).toThrow(
      message,
    );
    layer.dispose();
  });

  it('finds the sequence number a record was sealed under, or -1', () => {
    const { keys } = session(tls12);
    const sealer = createSealer(evp, tls12, keys.server.keys, 11);
    const record = seal(sealer, 23, Buffer.from('pin me'));
    expect(sequenceOf(evp, tls12, keys.server.keys, record, 3, 20)).toBe(11);
    expect(sequenceOf(evp, tls12, keys.server.keys, record, 11, 11)).toBe(11);
    expect(sequenceOf(evp, tls12, keys.server.keys, record, 5, 10)).toBe(-1);
    sealer.dispose();
  });
});
