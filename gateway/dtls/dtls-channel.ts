import type { CipherSuite } from '../tls/cipher-suites.js';
import type { Evp } from '../tls/evp.js';
import {
  DTLS_RECORD_HEADER_LENGTH,
  DtlsAlert,
  DtlsContentType,
  type DtlsRecordView,
  emptyRecordView,
  readRecord,
} from './codec/record.js';
import type { EstablishedDtls } from './server-handshake.js';

/** Why a datagram (or the rest of it) was dropped on an established channel; a fixed set (metric label). */
export type DtlsChannelDrop = 'malformed' | 'replay' | 'bad-record-mac' | 'unexpected-record' | 'old-epoch';

export interface DtlsChannelHandlers {
  /**
   * One record of application data: `buffer[start, end)` (CSTP over DTLS: a type byte, then
   * the packet), valid only during the call; `address` is the buffer's native address.
   */
  data(buffer: Buffer, start: number, end: number, address: number): void;
  /** The channel ended (once): the client's close_notify or fatal alert, or `close()`. */
  closed(reason: string): void;
}

/** What the channel needs from the socket it lives on. */
export interface DtlsChannelLink {
  send(datagram: Buffer, length: number): void;
  /** The channel closed: forget it. */
  forget(channel: DtlsChannel): void;
  drop(reason: DtlsChannelDrop): void;
}

/**
 * An established DTLS 1.2 connection with one client address: opens the client's epoch-1
 * records in place (the anti-replay window first, so a replayed or stale record costs no
 * decryption; the first record that does not authenticate ends the datagram, so a forged
 * datagram costs at most one decryption attempt) and seals the server's. Every record carries
 * one CSTP-over-DTLS payload: a type byte (AC_PKT_*) and its data.
 */
export class DtlsChannel {
  readonly suite: CipherSuite;
  readonly mode: 'psk' | 'legacy';
  private handlers: DtlsChannelHandlers | undefined;
  private readonly view: DtlsRecordView = emptyRecordView();
  private closedReason: string | undefined;
  private lastFinalFlight = Number.NEGATIVE_INFINITY;
  /** Set when a record arrived since the last `takeActivity` (liveness for DPD). */
  private activity = false;
  private finalFlight: (() => Buffer) | undefined;

  constructor(
    private readonly evp: Evp,
    private readonly state: EstablishedDtls,
    readonly address: string,
    readonly port: number,
    private readonly link: DtlsChannelLink,
  ) {
    this.suite = state.suite;
    this.mode = state.mode;
    this.finalFlight = state.finalFlight;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** "DTLSv1.2 TLS_PSK_WITH_AES_128_GCM_SHA256", for the log. */
  get protocol(): string {
    return `DTLSv1.2 ${this.suite.name}`;
  }

  /** Bytes between the record header and the plaintext (the GCM explicit nonce). */
  get prefix(): number {
    return this.state.sealer.prefix;
  }

  /** Bytes a record adds around its plaintext. */
  get overhead(): number {
    return this.state.sealer.overhead;
  }

  setHandlers(handlers: DtlsChannelHandlers): void {
    this.handlers = handlers;
  }

  /** True once after records arrived (then false until more do). */
  takeActivity(): boolean {
    const a = this.activity;
    this.activity = false;
    return a;
  }

  /**
   * Seals one record of application data in place: its plaintext (`length` bytes) is at
   * `at + 13 + prefix` of `buffer` (native address `address`), with 16 writable bytes after it.
   * Returns the record's length.
   */
  seal(buffer: Buffer, address: number, at: number, length: number): number {
    return this.state.sealer.seal(buffer, address, at, DtlsContentType.applicationData, length);
  }

  /** Seals `payload` into a fresh datagram and sends it (control messages: DPD, keepalive). */
  sendPayload(payload: Uint8Array): void {
    if (!this.closed) this.sendRecord(DtlsContentType.applicationData, payload);
  }

  /**
   * One datagram from the client's address, `datagram[start, end)` (the whole buffer by
   * default; `address` is the buffer's native address), decrypted in place.
   */
  receive(datagram: Buffer, address: number, now: number, start = 0, end = datagram.length): void {
    const view = this.view;
    for (let at = start; at < end && !this.closed; at = view.end) {
      try {
        readRecord(datagram, at, view, end);
      } catch {
        return this.link.drop('malformed');
      }
      if (view.epoch !== 1) {
        this.unprotected(view, now);
        continue;
      }
      const { replay, opener } = this.state;
      if (!replay.check(view.seqHigh, view.seqLow)) {
        this.link.drop('replay');
        continue;
      }
      if (!opener.open(datagram, address, view.start, view.end)) return this.link.drop('bad-record-mac');
      replay.accept(view.seqHigh, view.seqLow);
      this.activity = true;
      this.finalFlight = undefined; // the client sends data: it has our Finished
      switch (view.type) {
        case DtlsContentType.applicationData:
          if (opener.plainEnd > opener.plainStart) {
            this.handlers?.data(datagram, opener.plainStart, opener.plainEnd, address);
          }
          break;
        case DtlsContentType.alert:
          this.alert(datagram, opener.plainStart, opener.plainEnd);
          break;
        default:
          // A handshake under epoch 1 is a renegotiation (rekey method "ssl"), which is not
          // offered; anything else has no meaning here.
          this.link.drop('unexpected-record');
      }
    }
  }

  /**
   * Ends the channel: sends close_notify unless `silent`, frees the keys. The client's next
   * handshake (or TLS) carries on.
   */
  close(reason: string, silent = false): void {
    if (this.closed) return;
    if (!silent) this.sendAlert(DtlsAlert.closeNotify);
    this.closedReason = reason;
    this.state.opener.dispose();
    this.state.sealer.dispose();
    this.link.forget(this);
    this.handlers?.closed(reason);
  }

  /** Frees EVP contexts while idle; the next record makes them again. */
  hibernate(): void {
    this.state.opener.release();
    this.state.sealer.release();
  }

  private unprotected(view: DtlsRecordView, now: number): void {
    // Epoch 0 after the handshake: the client repeating its last flight because our
    // CCS + Finished got lost (RFC 6347 §4.2.4): send them again, at most 4 times a second.
    if (view.epoch === 0 && view.type === DtlsContentType.handshake && this.finalFlight) {
      if (now - this.lastFinalFlight >= 250) {
        this.lastFinalFlight = now;
        const flight = this.finalFlight();
        this.link.send(flight, flight.length);
      }
      return;
    }
    this.link.drop('old-epoch');
  }

  private alert(buffer: Buffer, start: number, end: number): void {
    if (end - start !== 2) return this.close('malformed alert from the client', true);
    const level = buffer[start]!;
    const description = buffer[start + 1]!;
    if (description === DtlsAlert.closeNotify) return this.close('client close_notify');
    if (level === 2) return this.close(`alert ${description} from the client`, true);
  }

  private sendAlert(description: DtlsAlert): void {
    this.sendRecord(
      DtlsContentType.alert,
      Buffer.of(description === DtlsAlert.closeNotify ? 1 : 2, description),
    );
  }

  private sendRecord(type: DtlsContentType, payload: Uint8Array): void {
    const { sealer } = this.state;
    const buffer = Buffer.allocUnsafe(sealer.overhead + payload.length);
    buffer.set(payload, DTLS_RECORD_HEADER_LENGTH + sealer.prefix);
    const length = sealer.seal(buffer, this.evp.address(buffer), 0, type, payload.length);
    this.link.send(buffer, length);
  }
}
