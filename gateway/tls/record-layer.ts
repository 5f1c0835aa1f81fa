import type { Chunk, ChunkPool } from './chunk-pool.js';
import type { CipherSuite } from './cipher-suites.js';
import type { Evp } from './evp.js';
import type { SessionKeys } from './handshake-observer.js';
import { type TrafficKeys, tls13NextTrafficSecret, tls13TrafficKeys } from './key-schedule.js';
import {
  AlertDescription,
  ContentType,
  MAX_CIPHERTEXT_TLS12,
  MAX_CIPHERTEXT_TLS13,
  MAX_PLAINTEXT,
  RECORD_HEADER_LENGTH,
  TlsRecordError,
  TlsRecordSplitter,
} from './record.js';
import {
  canRekey,
  createOpener,
  createSealer,
  keyStoreLength,
  type RecordOpener,
  type RecordSealer,
} from './record-protection.js';

/** What the connection above the record layer is told. */
export interface RecordLayerEvents {
  /** Application data: `buffer[start, end)`, valid only during the call; `address` is buffer's. */
  data(buffer: Buffer, start: number, end: number, address: number): void;
  /** The peer sent close_notify: no more data will come (RFC 8446 §6.1). */
  closeNotify(): void;
  /** The layer queued records of its own (a KeyUpdate answer): flush them. */
  outputQueued(): void;
}

/** Sealed records waiting for the socket: `chunk.buffer[0, length)`. */
export interface SealedOutput {
  readonly chunk: Chunk;
  readonly length: number;
}

export interface RecordLayerOptions {
  /**
   * TLS 1.3: records sealed under one key before we update it (RFC 8446 §5.5: AES-GCM keys
   * should protect at most 2^24.5 full records). Default 2^24.
   */
  keyUpdateAfter?: number;
}

const HANDSHAKE_KEY_UPDATE = 24;
const ALERT_LEVEL_WARNING = 1;
const ALERT_LEVEL_FATAL = 2;

/**
 * The TLS record layer of one connection after the takeover from OpenSSL: opens the client's
 * records, hands application data up, answers TLS 1.3 KeyUpdates, and seals outgoing records into
 * pooled chunks that the caller writes to the socket in order. Records are never merged: every
 * `begin`/`end` pair is one record (CSTP needs one frame per record).
 *
 * Errors surface as TlsRecordError (with the alert to send) from `receive`; the caller then sends
 * `alert()` and closes. Nothing here touches a socket or a timer.
 */
export class RecordLayer {
  readonly suite: CipherSuite;
  private readonly splitter: TlsRecordSplitter;
  private readonly opener: RecordOpener;
  private readonly sealer: RecordSealer;
  /**
   * The connection's key material in one buffer (a Buffer costs about 230 bytes of heap, per held
   * tunnel): the opener's and the sealer's key ‖ iv (their KeyStores), then, TLS 1.3, the
   * client's and the server's current traffic secrets (KeyUpdate derives the next ones) from
   * `secretsAt`. Memory of its own (allocUnsafeSlow): a slice of Node's shared 8 KiB slabs would
   * keep the whole slab. Undefined once disposed.
   */
  private keyStore: Buffer | undefined;
  private readonly secretsAt: number;
  private readonly clientSecretLength: number;
  private readonly keyUpdateAfter: number;
  private current: Chunk | null = null;
  private used = 0;
  private ready: SealedOutput[] = [];
  private pendingLength = 0;
  private closed = false;

  constructor(
    private readonly evp: Evp,
    private readonly pool: ChunkPool,
    keys: SessionKeys,
    sequences: { client: number; server: number },
    private readonly events: RecordLayerEvents,
    options: RecordLayerOptions = {},
  ) {
    this.suite = keys.suite;
    const tls13 = keys.suite.version === 'TLSv1.3';
    this.splitter = new TlsRecordSplitter(tls13 ? MAX_CIPHERTEXT_TLS13 : MAX_CIPHERTEXT_TLS12);
    const client = keys.client.secret;
    const server = keys.server.secret;
    const protectionLength = keyStoreLength(keys.suite);
    this.secretsAt = 2 * protectionLength;
    this.clientSecretLength = client && server ? client.length : 0;
    const store = Buffer.allocUnsafeSlow(
      this.secretsAt + (client && server ? client.length + server.length : 0),
    );
    if (client && server) {
      client.copy(store, this.secretsAt);
      server.copy(store, this.secretsAt + client.length);
    }
    this.keyStore = store;
    this.opener = createOpener(evp, keys.suite, keys.client.keys, sequences.client, { buffer: store, at: 0 });
    try {
      this.sealer = createSealer(evp, keys.suite, keys.server.keys, sequences.server, {
        buffer: store,
        at: protectionLength,
      });
    } catch (e) {
      this.opener.dispose();
      store.fill(0);
      throw e;
    }
    this.keyUpdateAfter = options.keyUpdateAfter ?? 2 ** 24;
    if (pool.chunkSize < RECORD_HEADER_LENGTH + MAX_PLAINTEXT + this.sealer.prefix + this.sealer.suffix) {
      throw new RangeError('output chunks must hold a full record');
    }
  }

  /** Bytes a record adds around its plaintext. */
  get overhead(): number {
    return RECORD_HEADER_LENGTH + this.sealer.prefix + this.sealer.suffix;
  }

  /** Sealed bytes not yet taken by the caller. */
  get pendingBytes(): number {
    return this.pendingLength + this.used;
  }

  get sequences(): { client: number; server: number } {
    return { client: this.opener.sequence, server: this.sealer.sequence };
  }

  /**
   * Opens every complete record in `chunk[0, length)` (which it may overwrite; nothing of it is
   * kept after the call, so the caller may reuse it); throws TlsRecordError.
   */
  receive(chunk: Buffer, chunkAddress: number, length = chunk.length): void {
    this.splitter.push(
      chunk,
      (buffer, start, end) =>
        this.openRecord(buffer, buffer === chunk ? chunkAddress : this.evp.address(buffer), start, end),
      length,
    );
  }

  /**
   * Starts a record of at most `length` plaintext bytes and returns the chunk to write them into,
   * at `plaintextOffset`. Finish with `end`.
   */
  begin(length: number): Chunk {
    if (length > MAX_PLAINTEXT) throw new RangeError(`record plaintext of ${length} bytes`);
    if (canRekey(this.sealer) && this.sealer.sequence >= this.keyUpdateAfter) this.updateOwnKeys(false);
    this.reserve(length);
    return this.current!;
  }

  /** Where `begin`'s plaintext goes in its chunk. */
  get plaintextOffset(): number {
    return this.used + RECORD_HEADER_LENGTH + this.sealer.prefix;
  }

  /** Seals the record begun last, `length` bytes of plaintext of `type`. */
  end(type: ContentType, length: number): void {
    const chunk = this.current!;
    this.used += this.sealer.seal(chunk.buffer, chunk.address, this.used, type, length);
  }

  /** Queues an alert record (after which the caller closes, except for a warning). */
  alert(description: AlertDescription): void {
    if (this.closed) return;
    const fatal = description !== AlertDescription.closeNotify;
    const chunk = this.begin(2);
    const at = this.plaintextOffset;
    chunk.buffer[at] = fatal ? ALERT_LEVEL_FATAL : ALERT_LEVEL_WARNING;
    chunk.buffer[at + 1] = description;
    this.end(ContentType.alert, 2);
    if (fatal || description === AlertDescription.closeNotify) this.closed = true;
  }

  /** Everything sealed so far, in order; the chunks are the caller's until it gives them back. */
  takeOutput(): SealedOutput[] {
    if (this.current && this.used > 0) {
      this.ready.push({ chunk: this.current, length: this.used });
      this.current = null;
      this.used = 0;
    }
    const out = this.ready;
    this.ready = [];
    this.pendingLength = 0;
    return out;
  }

  /**
   * Frees both EVP contexts while the tunnel is idle; the next record makes them again (see
   * record-protection.ts). Keys, sequence numbers and TLS 1.3 secrets are kept.
   */
  hibernate(): void {
    this.opener.release();
    this.sealer.release();
  }

  /** Frees the EVP contexts and any chunk held; the layer is unusable afterwards. */
  dispose(): void {
    this.closed = true;
    this.opener.dispose();
    this.sealer.dispose();
    if (this.current) this.pool.give(this.current);
    for (const out of this.ready) this.pool.give(out.chunk);
    this.current = null;
    this.ready = [];
    this.keyStore?.fill(0);
    this.keyStore = undefined;
  }

  private reserve(length: number): void {
    const needed = RECORD_HEADER_LENGTH + this.sealer.prefix + length + this.sealer.suffix;
    if (this.current && this.used + needed <= this.current.buffer.length) return;
    if (this.current) {
      this.ready.push({ chunk: this.current, length: this.used });
      this.pendingLength += this.used;
    }
    this.current = this.pool.take();
    this.used = 0;
  }

  private openRecord(buffer: Buffer, address: number, start: number, end: number): void {
    if (!this.opener.open(buffer, address, start, end)) {
      throw new TlsRecordError(AlertDescription.badRecordMac, 'record does not authenticate');
    }
    const { type, plainStart, plainEnd } = this.opener;
    if (plainEnd - plainStart > MAX_PLAINTEXT) {
      throw new TlsRecordError(
        AlertDescription.recordOverflow,
        `plaintext of ${plainEnd - plainStart} bytes`,
      );
    }
    switch (type) {
      case ContentType.applicationData:
        if (plainEnd > plainStart) this.events.data(buffer, plainStart, plainEnd, address);
        return;
      case ContentType.alert:
        return this.onAlert(buffer, plainStart, plainEnd);
      case ContentType.handshake:
        return this.onHandshake(buffer, plainStart, plainEnd);
      default:
        throw new TlsRecordError(
          AlertDescription.unexpectedMessage,
          `content type ${type} after the handshake`,
        );
    }
  }

  private onAlert(buffer: Buffer, start: number, end: number): void {
    if (end - start !== 2) throw new TlsRecordError(AlertDescription.decodeError, 'alert of wrong length');
    const level = buffer[start]!;
    const description = buffer[start + 1]!;
    if (description === AlertDescription.closeNotify) return this.events.closeNotify();
    // TLS 1.2 warnings may be ignored (RFC 5246 §7.2.2); TLS 1.3 alerts are all fatal (§6.2).
    if (level === ALERT_LEVEL_WARNING && this.suite.version === 'TLSv1.2') return;
    this.closed = true;
    throw new PeerAlertError(description);
  }

  /**
   * TLS 1.3: only KeyUpdate may follow the handshake here (we never ask for post-handshake
   * authentication), one whole message per record (RFC 8446 §5.1: KeyUpdate must end a record).
   * TLS 1.2: a handshake message would start a renegotiation, which the fast path refuses.
   */
  private onHandshake(buffer: Buffer, start: number, end: number): void {
    if (this.suite.version === 'TLSv1.2') {
      throw new TlsRecordError(AlertDescription.unexpectedMessage, 'renegotiation is not supported');
    }
    if (
      end - start !== 5 ||
      buffer[start] !== HANDSHAKE_KEY_UPDATE ||
      buffer.readUIntBE(start + 1, 3) !== 1
    ) {
      throw new TlsRecordError(AlertDescription.unexpectedMessage, 'handshake message other than KeyUpdate');
    }
    const request = buffer[start + 4];
    if (request !== 0 && request !== 1) {
      throw new TlsRecordError(AlertDescription.decodeError, `KeyUpdate request ${request}`);
    }
    if (!this.keyStore || this.clientSecretLength === 0) {
      throw new TlsRecordError(AlertDescription.internalError, 'no traffic secret');
    }
    const clientSecret = this.nextSecret(this.secretsAt, this.secretsAt + this.clientSecretLength);
    if (canRekey(this.opener)) this.opener.rekey(tls13TrafficKeys(this.suite, clientSecret));
    if (request === 1) {
      this.updateOwnKeys(false);
      this.events.outputQueued();
    }
  }

  /** Sends KeyUpdate under the current keys, then switches to the next server secret (§4.6.3). */
  private updateOwnKeys(requestUpdate: boolean): void {
    if (!canRekey(this.sealer) || !this.keyStore || this.clientSecretLength === 0) return;
    this.reserve(5);
    const chunk = this.current!;
    const at = this.plaintextOffset;
    chunk.buffer[at] = HANDSHAKE_KEY_UPDATE;
    chunk.buffer.writeUIntBE(1, at + 1, 3);
    chunk.buffer[at + 4] = requestUpdate ? 1 : 0;
    this.end(ContentType.handshake, 5);
    const serverSecret = this.nextSecret(this.secretsAt + this.clientSecretLength, this.keyStore.length);
    const keys: TrafficKeys = tls13TrafficKeys(this.suite, serverSecret);
    this.sealer.rekey(keys);
  }

  /** Replaces the secret at `keyStore[start, end)` with the next one (RFC 8446 §7.2) and returns it. */
  private nextSecret(start: number, end: number): Buffer {
    const current = this.keyStore!.subarray(start, end);
    const next = tls13NextTrafficSecret(this.suite, current);
    next.copy(current);
    next.fill(0);
    return current;
  }
}

/** The peer ended the connection with a fatal alert. */
export class PeerAlertError extends TlsRecordError {
  constructor(readonly description: number) {
    super(AlertDescription.closeNotify, `peer sent alert ${description}`);
    this.name = 'PeerAlertError';
  }
}

/**
 * The sequence number under which `record` authenticates with `keys`, trying `hint` first and
 * then every number from `upTo` down to 0; -1 when none does (then the connection stays with
 * OpenSSL). The record is not modified.
 */
export function sequenceOf(
  evp: Evp,
  suite: CipherSuite,
  keys: TrafficKeys,
  record: Buffer,
  hint: number,
  upTo: number,
): number {
  const opener = createOpener(evp, suite, keys);
  const copy = Buffer.allocUnsafeSlow(record.length);
  const address = evp.address(copy);
  const tryAt = (seq: number) => {
    record.copy(copy);
    opener.seek(seq);
    try {
      return opener.open(copy, address, 0, copy.length);
    } catch {
      return false;
    }
  };
  try {
    if (hint >= 0 && tryAt(hint)) return hint;
    for (let seq = upTo; seq >= 0; seq--) if (seq !== hint && tryAt(seq)) return seq;
    return -1;
  } finally {
    opener.dispose();
  }
}
