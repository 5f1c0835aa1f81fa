import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CipherSuite } from '../tls/cipher-suites.js';
import { TAG_LENGTH } from '../tls/cipher-suites.js';
import type { Evp } from '../tls/evp.js';
import { tls12TrafficKeys } from '../tls/key-schedule.js';
import {
  encodeHandshake,
  HandshakeReassembler,
  HandshakeType,
  type ReassembledMessage,
  readHandshakeFragments,
} from './codec/handshake.js';
import {
  type ClientHello,
  type Extension,
  ExtensionType,
  encodeServerHello,
  findExtension,
  parsePskClientKeyExchange,
  RENEGOTIATION_INFO_SCSV,
} from './codec/hello.js';
import {
  DTLS_1_2,
  DTLS_RECORD_HEADER_LENGTH,
  DtlsAlert,
  DtlsContentType,
  DtlsDecodeError,
  type DtlsRecordView,
  emptyRecordView,
  encodePlainRecord,
  readRecord,
} from './codec/record.js';
import {
  extendedMasterSecret,
  finishedVerifyData,
  masterSecret,
  pskPremasterSecret,
  transcriptHash,
} from './key-schedule.js';
import { DtlsRecordProtection } from './record-protection.js';
import { ReplayWindow } from './replay-window.js';

/** What the CSTP session agreed for its DTLS channel (see negotiation.ts). */
export type DtlsSessionParams =
  | {
      readonly mode: 'psk';
      /** 32 bytes exported from the CSTP TLS session (key-schedule.ts PSK_EXPORTER_LABEL). */
      readonly psk: Buffer;
      /** Suites in the server's order of preference. */
      readonly suites: readonly CipherSuite[];
    }
  | {
      readonly mode: 'legacy';
      /** X-DTLS-Master-Secret, 48 bytes, sent by the client in CONNECT. */
      readonly masterSecret: Buffer;
      /** X-DTLS-Session-ID, 32 bytes, sent by the server in the CONNECT answer. */
      readonly sessionId: Buffer;
      readonly suite: CipherSuite;
    };

/** An established DTLS connection's state, handed from the handshake to the data channel. */
export interface EstablishedDtls {
  readonly mode: 'psk' | 'legacy';
  readonly suite: CipherSuite;
  /** Opens the client's epoch-1 records. */
  readonly opener: DtlsRecordProtection;
  /** Seals the server's epoch-1 records (continues after the server's Finished). */
  readonly sealer: DtlsRecordProtection;
  /** Epoch 1's anti-replay window, the client's Finished already in it. */
  readonly replay: ReplayWindow;
  /**
   * PSK only: the server's last flight again (ChangeCipherSpec + Finished, newly numbered), for
   * when the client retransmits its own because ours was lost (RFC 6347 §4.2.4).
   */
  readonly finalFlight?: () => Buffer;
}

export interface ServerHandshakeOptions {
  params: DtlsSessionParams;
  hello: ClientHello;
  /** The ClientHello as a whole message (encodeHandshake form), first in the transcript. */
  helloMessage: Buffer;
  helloMessageSeq: number;
  /** Record sequence number of the ClientHello: the server's epoch-0 records continue from it. */
  helloRecordSeq: number;
  evp: Evp;
  now: number;
  random?: (n: number) => Buffer;
  /** First retransmission timeout (RFC 6347 §4.2.4.1 suggests 1 s), doubled up to 8 s. */
  initialTimeoutMs?: number;
  /** The handshake gives up after this long. */
  lifetimeMs?: number;
}

/** A handshake that cannot continue; `alert` (when set) is sent to the client. */
export class DtlsHandshakeError extends Error {
  constructor(
    message: string,
    readonly alert?: DtlsAlert,
  ) {
    super(message);
    this.name = 'DtlsHandshakeError';
  }
}

interface FlightEntry {
  epoch: 0 | 1;
  type: DtlsContentType;
  payload: Buffer;
}

const MAX_EARLY_RECORDS = 4;
const CHANGE_CIPHER_SPEC = Buffer.of(1);

/**
 * The server side of one DTLS 1.2 handshake with a client whose address passed the cookie
 * exchange, for one of the two ways AnyConnect-style clients key their data channel:
 *
 * - PSK-NEGOTIATE (openconnect ≥ 8, ocserv): a full handshake with a plain-PSK suite, the PSK
 *   exported from the CSTP session.
 *     ClientHello → ServerHello, ServerHelloDone
 *     ClientKeyExchange(identity), [CCS], Finished → [CCS], Finished
 * - Legacy (Cisco): the abbreviated handshake that "resumes" the session X-DTLS-Session-ID with
 *   the master secret the client sent in X-DTLS-Master-Secret.
 *     ClientHello(session_id) → ServerHello(session_id), [CCS], Finished
 *     [CCS], Finished →
 *
 * Pure apart from the clock and the randomness given: records in, datagrams out. The transcript
 * starts at the ClientHello that carried the cookie (§4.2.1: the first ClientHello and the
 * HelloVerifyRequest are not hashed).
 */
export class ServerHandshake {
  readonly suite: CipherSuite;
  /** The ClientHello's random: a ClientHello with another is a new handshake, not a retransmission. */
  readonly clientRandom: Buffer;
  private readonly random: (n: number) => Buffer;
  private readonly evp: Evp;
  private readonly transcript: Buffer[] = [];
  private readonly reassembler: HandshakeReassembler;
  private readonly serverRandom: Buffer;
  private flight: FlightEntry[] = [];
  private epoch0Seq: number;
  private master: Buffer | undefined;
  private opener: DtlsRecordProtection | undefined;
  private sealer: DtlsRecordProtection | undefined;
  private changedCipher = false;
  private early: Buffer[] = [];
  private timeoutMs: number;
  private nextRetransmit: number;
  private readonly giveUpAt: number;
  private readonly useExtendedMasterSecret: boolean;
  private result: EstablishedDtls | undefined;
  private lastRetransmit: number;

  constructor(private readonly o: ServerHandshakeOptions) {
    this.random = o.random ?? randomBytes;
    this.evp = o.evp;
    const { hello, params } = o;
    // DTLS versions count down: 0xfefd (1.2) or lower (newer) is fine, 0xfeff (1.0) is not.
    if (hello.version > DTLS_1_2) {
      throw new DtlsHandshakeError('client offers only DTLS 1.0', DtlsAlert.protocolVersion);
    }
    if (!hello.compressionMethods.includes(0)) {
      throw new DtlsHandshakeError('client offers no null compression', DtlsAlert.illegalParameter);
    }
    const suite =
      params.mode === 'psk'
        ? params.suites.find((s) => hello.cipherSuites.includes(s.id))
        : hello.cipherSuites.includes(params.suite.id)
          ? params.suite
          : undefined;
    if (!suite) throw new DtlsHandshakeError('no cipher suite in common', DtlsAlert.handshakeFailure);
    this.suite = suite;
    this.clientRandom = Buffer.from(hello.random);
    this.serverRandom = this.random(32);
    this.epoch0Seq = o.helloRecordSeq;
    this.reassembler = new HandshakeReassembler(o.helloMessageSeq + 1);
    this.transcript.push(o.helloMessage);
    this.timeoutMs = o.initialTimeoutMs ?? 1000;
    this.nextRetransmit = o.now + this.timeoutMs;
    this.lastRetransmit = o.now; // the first flight goes out now
    this.giveUpAt = o.now + (o.lifetimeMs ?? 30_000);
    this.useExtendedMasterSecret =
      params.mode === 'psk' && findExtension(hello, ExtensionType.extendedMasterSecret) !== undefined;
    if (params.mode === 'psk') this.startFull();
    else this.startAbbreviated(params.masterSecret, params.sessionId);
  }

  /** Set once the client's Finished verified. */
  get established(): EstablishedDtls | undefined {
    return this.result;
  }

  /** When `onTimer` next has something to do. */
  get deadline(): number {
    return this.result ? Number.POSITIVE_INFINITY : Math.min(this.nextRetransmit, this.giveUpAt);
  }

  /** The server's current flight as one datagram (records newly numbered each time). */
  sendFlight(): Buffer {
    const records: Buffer[] = [];
    for (const entry of this.flight) {
      if (entry.epoch === 0) {
        records.push(encodePlainRecord(entry.type, DTLS_1_2, 0, this.epoch0Seq++, entry.payload));
      } else {
        records.push(sealOne(this.evp, this.sealer!, entry.type, entry.payload));
      }
    }
    return Buffer.concat(records);
  }

  /**
   * Retransmits the flight when its timer ran out (doubling it, §4.2.4.1); throws
   * DtlsHandshakeError when the handshake is past its lifetime.
   */
  onTimer(now: number): Buffer | undefined {
    if (this.result) return undefined;
    if (now >= this.giveUpAt) throw new DtlsHandshakeError('handshake timed out');
    if (now < this.nextRetransmit) return undefined;
    this.timeoutMs = Math.min(this.timeoutMs * 2, 8000);
    this.nextRetransmit = now + this.timeoutMs;
    this.lastRetransmit = now;
    return this.sendFlight();
  }

  /**
   * One record from the client (`datagram[view.start, view.end)`, which may be decrypted in
   * place). Returns the datagram to send in answer, if any. Throws DtlsHandshakeError (with the
   * alert to send) when the handshake fails; DtlsDecodeError from the codecs is turned into one.
   */
  onRecord(datagram: Buffer, view: DtlsRecordView, now: number): Buffer | undefined {
    if (this.result) return undefined;
    try {
      return this.record(datagram, view, now);
    } catch (e) {
      if (e instanceof DtlsDecodeError) throw new DtlsHandshakeError(e.message, e.alert);
      throw e;
    }
  }

  private record(datagram: Buffer, view: DtlsRecordView, now: number): Buffer | undefined {
    if (view.epoch === 0) {
      const fragment = datagram.subarray(view.start + DTLS_RECORD_HEADER_LENGTH, view.end);
      if (view.type === DtlsContentType.changeCipherSpec) {
        if (!fragment.equals(CHANGE_CIPHER_SPEC)) throw new DtlsDecodeError('malformed ChangeCipherSpec');
        this.changedCipher = true;
        return this.drainEarly(now);
      }
      // Unauthenticated alerts could come from anyone who knows the address: the timer ends a
      // handshake the client abandoned.
      if (view.type !== DtlsContentType.handshake) return undefined;
      return this.handshakeFragments(fragment, now);
    }
    if (view.epoch !== 1) return undefined;
    if (!this.opener || !this.changedCipher) {
      if (this.early.length < MAX_EARLY_RECORDS) {
        this.early.push(Buffer.from(datagram.subarray(view.start, view.end)));
      }
      return undefined;
    }
    return this.protectedRecord(datagram, view, now);
  }

  private protectedRecord(datagram: Buffer, view: DtlsRecordView, now: number): Buffer | undefined {
    const opener = this.opener!;
    if (!opener.open(datagram, this.evp.address(datagram), view.start, view.end)) return undefined; // forged or garbage
    if (view.type !== DtlsContentType.handshake) return undefined; // data before Finished: dropped
    const out = this.handshakeFragments(datagram.subarray(opener.plainStart, opener.plainEnd), now, true);
    if (this.result) this.result.replay.accept(view.seqHigh, view.seqLow);
    return out;
  }

  private handshakeFragments(fragment: Buffer, now: number, protectedRecord = false): Buffer | undefined {
    let retransmitted = false;
    for (const f of readHandshakeFragments(fragment)) {
      if (this.reassembler.add(f) === 'old') retransmitted = true;
    }
    let answer: Buffer | undefined;
    for (let m = this.reassembler.take(); m; m = this.reassembler.take()) {
      answer = this.message(m, protectedRecord) ?? answer;
    }
    // The client repeats its last flight because ours got lost: send ours again, at most once a
    // quarter second (§4.2.4; the rate limit keeps a replayed datagram from amplifying).
    if (!answer && retransmitted && !this.result && now - this.lastRetransmit >= 250) {
      this.lastRetransmit = now;
      return this.sendFlight();
    }
    return answer;
  }

  private message(m: ReassembledMessage, protectedRecord: boolean): Buffer | undefined {
    const params = this.o.params;
    if (
      m.type === HandshakeType.clientKeyExchange &&
      params.mode === 'psk' &&
      !this.master &&
      !protectedRecord
    ) {
      parsePskClientKeyExchange(m.body); // any identity: openconnect sends "psk", nobody checks it
      this.transcript.push(m.message);
      const premaster = pskPremasterSecret(params.psk);
      this.master = this.useExtendedMasterSecret
        ? extendedMasterSecret(this.suite, premaster, transcriptHash(this.suite, this.transcript))
        : masterSecret(this.suite, premaster, this.clientRandom, this.serverRandom);
      premaster.fill(0);
      this.makeKeys();
      return undefined;
    }
    if (m.type === HandshakeType.finished && protectedRecord && this.master) {
      const expected = finishedVerifyData(
        this.suite,
        this.master,
        'client',
        transcriptHash(this.suite, this.transcript),
      );
      if (m.body.length !== expected.length || !timingSafeEqual(m.body, expected)) {
        throw new DtlsHandshakeError('client Finished does not verify', DtlsAlert.decryptError);
      }
      this.transcript.push(m.message);
      return this.finish();
    }
    throw new DtlsHandshakeError(`unexpected handshake message ${m.type}`, DtlsAlert.unexpectedMessage);
  }

  /** PSK: ServerHello, ServerHelloDone. No ServerKeyExchange: no identity hint (RFC 4279 §2). */
  private startFull(): void {
    const { hello, helloMessageSeq } = this.o;
    const extensions: Extension[] = [];
    const renegotiation = findExtension(hello, ExtensionType.renegotiationInfo);
    if (renegotiation !== undefined || hello.cipherSuites.includes(RENEGOTIATION_INFO_SCSV)) {
      // RFC 5746 §3.6: an initial handshake carries an empty renegotiated_connection both ways.
      if (renegotiation !== undefined && !renegotiation.equals(Buffer.of(0))) {
        throw new DtlsHandshakeError('renegotiation_info not empty', DtlsAlert.handshakeFailure);
      }
      extensions.push({ type: ExtensionType.renegotiationInfo, data: Buffer.of(0) });
    }
    if (this.useExtendedMasterSecret) {
      extensions.push({ type: ExtensionType.extendedMasterSecret, data: Buffer.alloc(0) });
    }
    // An empty session_id: this session is never resumed (openconnect put the App-ID in its
    // session_id; echoing it would announce a resumption).
    const serverHello = this.serverHello(Buffer.alloc(0), extensions);
    const done = encodeHandshake(HandshakeType.serverHelloDone, helloMessageSeq + 1, Buffer.alloc(0));
    this.transcript.push(serverHello, done);
    this.flight = [
      { epoch: 0, type: DtlsContentType.handshake, payload: serverHello },
      { epoch: 0, type: DtlsContentType.handshake, payload: done },
    ];
  }

  /**
   * Legacy: the abbreviated handshake, the server's Finished first (RFC 5246 §7.3). No
   * extensions in the ServerHello: this "resumes" a session that never ran a handshake, so it
   * has no extended master secret to confirm, and ocserv leaves out renegotiation_info too
   * (worker-http.c %NO_SESSION_HASH:%DISABLE_SAFE_RENEGOTIATION, ocserv #193).
   */
  private startAbbreviated(master: Buffer, sessionId: Buffer): void {
    const { hello, helloMessageSeq } = this.o;
    if (hello.sessionId.length !== sessionId.length || !timingSafeEqual(hello.sessionId, sessionId)) {
      throw new DtlsHandshakeError(
        'session_id is not the agreed X-DTLS-Session-ID',
        DtlsAlert.handshakeFailure,
      );
    }
    this.master = Buffer.from(master);
    this.makeKeys();
    const serverHello = this.serverHello(sessionId, []);
    this.transcript.push(serverHello);
    const finished = this.serverFinished(helloMessageSeq + 1);
    this.flight = [
      { epoch: 0, type: DtlsContentType.handshake, payload: serverHello },
      { epoch: 0, type: DtlsContentType.changeCipherSpec, payload: CHANGE_CIPHER_SPEC },
      { epoch: 1, type: DtlsContentType.handshake, payload: finished },
    ];
  }

  private serverHello(sessionId: Buffer, extensions: Extension[]): Buffer {
    return encodeHandshake(
      HandshakeType.serverHello,
      this.o.helloMessageSeq,
      encodeServerHello({
        version: DTLS_1_2,
        random: this.serverRandom,
        sessionId,
        cipherSuite: this.suite.id,
        extensions,
      }),
    );
  }

  private makeKeys(): void {
    const keys = tls12TrafficKeys(this.suite, this.master!, this.clientRandom, this.serverRandom);
    this.opener = new DtlsRecordProtection(this.evp, this.suite, keys.client, false, 1);
    this.sealer = new DtlsRecordProtection(this.evp, this.suite, keys.server, true, 1);
  }

  private serverFinished(messageSeq: number): Buffer {
    const verify = finishedVerifyData(
      this.suite,
      this.master!,
      'server',
      transcriptHash(this.suite, this.transcript),
    );
    const message = encodeHandshake(HandshakeType.finished, messageSeq, verify);
    this.transcript.push(message);
    return message;
  }

  /** The client's Finished verified: PSK answers with CCS + Finished; both are established. */
  private finish(): Buffer | undefined {
    const replay = new ReplayWindow();
    let answer: Buffer | undefined;
    let finalFlight: (() => Buffer) | undefined;
    if (this.o.params.mode === 'psk') {
      const finished = this.serverFinished(this.o.helloMessageSeq + 2);
      this.flight = [
        { epoch: 0, type: DtlsContentType.changeCipherSpec, payload: CHANGE_CIPHER_SPEC },
        { epoch: 1, type: DtlsContentType.handshake, payload: finished },
      ];
      answer = this.sendFlight();
      finalFlight = () => this.sendFlight();
    }
    this.master?.fill(0);
    this.result = {
      mode: this.o.params.mode,
      suite: this.suite,
      opener: this.opener!,
      sealer: this.sealer!,
      replay,
      ...(finalFlight ? { finalFlight } : {}),
    };
    this.early = [];
    return answer;
  }

  /** Epoch-1 records that came before the keys or the CCS, now that both are there. */
  private drainEarly(now: number): Buffer | undefined {
    if (!this.opener || !this.changedCipher) return undefined;
    const early = this.early;
    this.early = [];
    let answer: Buffer | undefined;
    for (const record of early) {
      const view = emptyRecordView();
      readRecord(record, 0, view);
      answer = this.protectedRecord(record, view, now) ?? answer;
      if (this.result) break;
    }
    return answer;
  }

  /** Frees the record protection when the handshake is abandoned (not after it was handed on). */
  dispose(): void {
    if (this.result) return;
    this.opener?.dispose();
    this.sealer?.dispose();
    this.master?.fill(0);
  }
}

/** One protected record of `payload` (handshake path: allocates). */
function sealOne(evp: Evp, sealer: DtlsRecordProtection, type: DtlsContentType, payload: Buffer): Buffer {
  const buffer = Buffer.alloc(DTLS_RECORD_HEADER_LENGTH + sealer.prefix + payload.length + TAG_LENGTH);
  payload.copy(buffer, DTLS_RECORD_HEADER_LENGTH + sealer.prefix);
  const length = sealer.seal(buffer, evp.address(buffer), 0, type, payload.length);
  return buffer.subarray(0, length);
}
