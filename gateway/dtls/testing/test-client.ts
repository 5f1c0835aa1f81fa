import { createHash } from 'node:crypto';
import type { CipherSuite } from '../../tls/cipher-suites.js';
import { TAG_LENGTH } from '../../tls/cipher-suites.js';
import type { Evp } from '../../tls/evp.js';
import { tls12TrafficKeys } from '../../tls/key-schedule.js';
import {
  encodeHandshake,
  fragmentHandshake,
  HANDSHAKE_HEADER_LENGTH,
  HandshakeType,
  readHandshakeFragments,
} from '../codec/handshake.js';
import {
  DTLS_1_2,
  DTLS_RECORD_HEADER_LENGTH,
  DtlsContentType,
  encodePlainRecord,
  splitDatagram,
} from '../codec/record.js';
import {
  extendedMasterSecret,
  finishedVerifyData,
  masterSecret,
  pskPremasterSecret,
  transcriptHash,
} from '../key-schedule.js';
import { DtlsRecordProtection } from '../record-protection.js';

/** Deterministic bytes for fixtures. */
export const fixedBytes = (label: string, n: number): Buffer => {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 64 < n; i++) out.push(createHash('sha512').update(`${label}/${i}`).digest());
  return Buffer.concat(out).subarray(0, n);
};

export interface TestClientOptions {
  evp: Evp;
  mode: 'psk' | 'legacy';
  /** PSK, or the legacy master secret. */
  secret: Buffer;
  /** ClientHello session_id: the App-ID (PSK) or X-DTLS-Session-ID (legacy). */
  sessionId: Buffer;
  suites: number[];
  /** The suite the server will pick (for the legacy key schedule and for checks). */
  expectSuite: CipherSuite;
  extendedMasterSecret?: boolean;
  random?: Buffer;
  /** Handshake fragment size for the client's messages (to exercise reassembly). */
  fragment?: number;
  /** Sends a Finished whose verify_data is wrong (under the right keys). */
  corruptFinished?: boolean;
}

/**
 * A minimal DTLS 1.2 client for unit tests of the server: PSK full handshake and legacy
 * abbreviated handshake, built from the same codec but the client's side of each step. Real
 * peers (openssl s_client, gnutls-cli, openconnect) check the server against other
 * implementations in test/.
 */
export class TestClient {
  private epoch0 = 0;
  private messageSeq = 0;
  private transcript: Buffer[] = [];
  private hello: Buffer | undefined;
  private serverRandom: Buffer | undefined;
  private master: Buffer | undefined;
  sealer: DtlsRecordProtection | undefined;
  opener: DtlsRecordProtection | undefined;
  readonly random: Buffer;
  established = false;

  constructor(private readonly o: TestClientOptions) {
    this.random = o.random ?? fixedBytes('client random', 32);
  }

  /** ClientHello with `cookie` (empty for the first). */
  clientHello(cookie: Buffer = Buffer.alloc(0)): Buffer[] {
    const suites = Buffer.alloc(this.o.suites.length * 2);
    for (const [i, s] of this.o.suites.entries()) suites.writeUInt16BE(s, 2 * i);
    const exts: Buffer[] = [];
    if (this.o.extendedMasterSecret) exts.push(Buffer.from('00170000', 'hex'));
    exts.push(Buffer.from('ff01000100', 'hex'));
    const extBlock = Buffer.concat(exts);
    const body = Buffer.concat([
      Buffer.from('fefd', 'hex'),
      this.random,
      Buffer.of(this.o.sessionId.length),
      this.o.sessionId,
      Buffer.of(cookie.length),
      cookie,
      Buffer.from([suites.length >> 8, suites.length & 0xff]),
      suites,
      Buffer.of(1, 0),
      Buffer.from([extBlock.length >> 8, extBlock.length & 0xff]),
      extBlock,
    ]);
    const message = encodeHandshake(HandshakeType.clientHello, this.messageSeq++, body);
    this.hello = message;
    return [this.record(DtlsContentType.handshake, message)];
  }

  /** The cookie of a HelloVerifyRequest datagram. */
  static cookieOf(datagram: Buffer): Buffer {
    const [record] = splitDatagram(datagram);
    const [f] = readHandshakeFragments(
      datagram.subarray(record!.start + DTLS_RECORD_HEADER_LENGTH, record!.end),
    );
    if (f?.type !== HandshakeType.helloVerifyRequest) throw new Error('not a HelloVerifyRequest');
    return Buffer.from(f.bytes.subarray(3, 3 + f.bytes[2]!));
  }

  /**
   * The server's flight; returns the client's answer as datagrams (PSK: CKE, CCS, Finished;
   * legacy: CCS, Finished) or [] once established.
   */
  receive(datagram: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (const r of splitDatagram(datagram)) {
      if (r.type === DtlsContentType.changeCipherSpec) continue;
      if (r.epoch === 1) {
        if (!this.opener!.open(datagram, this.o.evp.address(datagram), r.start, r.end)) {
          throw new Error('server record does not authenticate');
        }
        if (r.type !== DtlsContentType.handshake) continue;
        const body = datagram.subarray(
          this.opener!.plainStart + HANDSHAKE_HEADER_LENGTH,
          this.opener!.plainEnd,
        );
        const expected = finishedVerifyData(
          this.o.expectSuite,
          this.master!,
          'server',
          transcriptHash(this.o.expectSuite, this.transcript),
        );
        if (!body.equals(expected)) throw new Error('server Finished does not verify');
        this.transcript.push(datagram.subarray(this.opener!.plainStart, this.opener!.plainEnd));
        if (this.o.mode === 'legacy') out.push(...this.finishedFlight());
        this.established = true;
        continue;
      }
      for (const f of readHandshakeFragments(datagram.subarray(r.start + DTLS_RECORD_HEADER_LENGTH, r.end))) {
        const message = encodeHandshake(f.type as HandshakeType, f.messageSeq, f.bytes);
        if (f.type === HandshakeType.serverHello) {
          this.transcript = [this.hello!, message];
          this.serverRandom = Buffer.from(f.bytes.subarray(2, 34));
          if (this.o.mode === 'legacy') {
            this.master = Buffer.from(this.o.secret);
            this.keys();
          }
        } else if (f.type === HandshakeType.serverHelloDone) {
          this.transcript.push(message);
          out.push(...this.pskFlight());
        }
      }
    }
    return out;
  }

  /** Seals an application-data record (one datagram). */
  seal(payload: Buffer): Buffer {
    return this.protect(DtlsContentType.applicationData, payload);
  }

  /** Opens one server datagram of application data; returns the payloads. */
  open(datagram: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (const r of splitDatagram(datagram)) {
      if (!this.opener!.open(datagram, this.o.evp.address(datagram), r.start, r.end))
        throw new Error('bad record');
      out.push(Buffer.from(datagram.subarray(this.opener!.plainStart, this.opener!.plainEnd)));
    }
    return out;
  }

  private pskFlight(): Buffer[] {
    const identity = Buffer.from('psk');
    const cke = encodeHandshake(
      HandshakeType.clientKeyExchange,
      this.messageSeq++,
      Buffer.concat([Buffer.of(0, identity.length), identity]),
    );
    this.transcript.push(cke);
    const suite = this.o.expectSuite;
    const pms = pskPremasterSecret(this.o.secret);
    this.master = this.o.extendedMasterSecret
      ? extendedMasterSecret(suite, pms, transcriptHash(suite, this.transcript))
      : masterSecret(suite, pms, this.random, this.serverRandom!);
    this.keys();
    return [...this.fragments(cke), ...this.finishedFlight()];
  }

  private finishedFlight(): Buffer[] {
    const suite = this.o.expectSuite;
    const verify = finishedVerifyData(suite, this.master!, 'client', transcriptHash(suite, this.transcript));
    if (this.o.corruptFinished) verify[0]! ^= 1;
    const finished = encodeHandshake(HandshakeType.finished, this.messageSeq++, verify);
    this.transcript.push(finished);
    const ccs = this.record(DtlsContentType.changeCipherSpec, Buffer.of(1));
    return [ccs, ...fragmentHandshake(finished, this.o.fragment ?? 1 << 14).map((f) => this.protect(22, f))];
  }

  private fragments(message: Buffer): Buffer[] {
    return fragmentHandshake(message, this.o.fragment ?? 1 << 14).map((f) =>
      this.record(DtlsContentType.handshake, f),
    );
  }

  private keys(): void {
    const keys = tls12TrafficKeys(this.o.expectSuite, this.master!, this.random, this.serverRandom!);
    this.sealer = new DtlsRecordProtection(this.o.evp, this.o.expectSuite, keys.client, true, 1);
    this.opener = new DtlsRecordProtection(this.o.evp, this.o.expectSuite, keys.server, false, 1);
  }

  private record(type: DtlsContentType, fragment: Buffer): Buffer {
    return encodePlainRecord(type, DTLS_1_2, 0, this.epoch0++, fragment);
  }

  private protect(type: DtlsContentType, payload: Buffer): Buffer {
    const s = this.sealer!;
    const buffer = Buffer.alloc(DTLS_RECORD_HEADER_LENGTH + s.prefix + payload.length + TAG_LENGTH);
    payload.copy(buffer, DTLS_RECORD_HEADER_LENGTH + s.prefix);
    return buffer.subarray(0, s.seal(buffer, this.o.evp.address(buffer), 0, type, payload.length));
  }
}
