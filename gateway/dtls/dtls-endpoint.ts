import { randomBytes } from 'node:crypto';
import type { Evp } from '../tls/evp.js';
import { encodeHandshake, HandshakeType, readHandshakeFragments } from './codec/handshake.js';
import {
  applicationIdOf,
  type ClientHello,
  encodeHelloVerifyRequest,
  parseClientHello,
} from './codec/hello.js';
import {
  DTLS_1_0,
  DTLS_1_2,
  DTLS_RECORD_HEADER_LENGTH,
  DtlsContentType,
  type DtlsRecordView,
  emptyRecordView,
  encodePlainRecord,
  readRecord,
  sequenceOf,
} from './codec/record.js';
import { CookieJar } from './cookie-jar.js';
import { DtlsChannel, type DtlsChannelDrop } from './dtls-channel.js';
import { DtlsHandshakeError, type DtlsSessionParams, ServerHandshake } from './server-handshake.js';
import type { DtlsSocketDrop } from './udp-socket.js';

/** Why a datagram was dropped, a fixed set (metric label values an unauthenticated peer picks among). */
export type DtlsDrop =
  | DtlsChannelDrop
  | DtlsSocketDrop
  | 'not-client-hello'
  | 'fragmented-hello'
  | 'bad-cookie'
  | 'unknown-session'
  | 'busy'
  | 'handshake-failed'
  | 'handshake-timeout';

export type DtlsEvent = 'hello-verify' | 'handshake-started' | 'established';

/** The CSTP session a ClientHello's application ID names. */
export interface DtlsPeerSession {
  readonly params: DtlsSessionParams;
  /** A handshake for this session completed: `channel` carries its datagrams from now on. */
  established(channel: DtlsChannel): void;
}

export interface DtlsEndpointOptions {
  evp: Evp;
  cookies?: CookieJar;
  /** The session with this X-DTLS-App-ID / X-DTLS-Session-ID (empty when the hello names none), if any. */
  lookup(applicationId: Buffer): DtlsPeerSession | undefined;
  send(datagram: Buffer, length: number, address: string, port: number): void;
  random?: (n: number) => Buffer;
  /** Handshakes in progress at once (each needs a verified cookie and a known session). */
  maxHandshakes?: number;
  handshakeLifetimeMs?: number;
  onDrop?(reason: DtlsDrop): void;
  onEvent?(event: DtlsEvent, channel?: DtlsChannel): void;
}

interface Pending {
  handshake: ServerHandshake;
  session: DtlsPeerSession;
  address: string;
  port: number;
}

const key = (address: string, port: number) => `${address}|${port}`;

/**
 * The DTLS server on one UDP socket: demultiplexes datagrams by source address to established
 * channels and handshakes in progress, and answers everything else statelessly.
 *
 * A datagram from an address with no channel and no handshake gets exactly this: if it is an
 * unfragmented ClientHello, a HelloVerifyRequest with an HMAC cookie (cookie-jar.ts), or, when it
 * carries a valid cookie and names a known session, a handshake. Anything else is dropped without
 * a decryption or any state. A spoofed source never sees the cookie, so it never gets past that.
 * Handshakes are bounded in number, one per session at a time, and expire.
 */
export class DtlsEndpoint {
  private readonly channels = new Map<string, DtlsChannel>();
  private readonly pending = new Map<string, Pending>();
  private readonly pendingBySession = new Map<DtlsPeerSession, string>();
  private readonly cookies: CookieJar;
  private readonly random: (n: number) => Buffer;
  private readonly maxHandshakes: number;
  private readonly view: DtlsRecordView = emptyRecordView();
  /** The last source and its map key: a batch of datagrams mostly comes from one client. */
  private lastAddress = '';
  private lastPort = -1;
  private lastKey = '';

  constructor(private readonly o: DtlsEndpointOptions) {
    this.cookies = o.cookies ?? new CookieJar();
    this.random = o.random ?? randomBytes;
    this.maxHandshakes = o.maxHandshakes ?? 1024;
  }

  /** Handshakes in progress. */
  get handshakes(): number {
    return this.pending.size;
  }

  /** Established channels. */
  get size(): number {
    return this.channels.size;
  }

  /** When `tick` next has work (a retransmission or an expiry). */
  get deadline(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const p of this.pending.values()) d = Math.min(d, p.handshake.deadline);
    return d;
  }

  /**
   * One datagram from address:port: `buffer[start, end)` (the whole buffer by default);
   * `native` is the buffer's native address, or -1 when unknown.
   */
  receive(
    buffer: Buffer,
    address: string,
    port: number,
    now: number,
    native = -1,
    start = 0,
    end = buffer.length,
  ): void {
    if (address !== this.lastAddress || port !== this.lastPort) {
      this.lastAddress = address;
      this.lastPort = port;
      this.lastKey = key(address, port);
    }
    const k = this.lastKey;
    const hello = isClientHello(buffer, start, end);
    const channel = this.channels.get(k);
    if (channel && !hello) {
      return channel.receive(buffer, native >= 0 ? native : this.o.evp.address(buffer), now, start, end);
    }
    // Handshakes and strangers: rare, a view of their own.
    const datagram = start === 0 && end === buffer.length ? buffer : buffer.subarray(start, end);
    const pending = this.pending.get(k);
    if (pending && (!hello || pending.handshake.clientRandom.equals(datagram.subarray(27, 59)))) {
      return this.continueHandshake(pending, k, datagram, now);
    }
    if (!hello) return this.drop('not-client-hello');
    this.stateless(datagram, address, port, k, now);
  }

  /** Retransmits flights whose timers ran out and drops expired handshakes. */
  tick(now: number): void {
    for (const [k, p] of this.pending) {
      if (p.handshake.deadline > now) continue;
      try {
        const flight = p.handshake.onTimer(now);
        if (flight) this.o.send(flight, flight.length, p.address, p.port);
      } catch {
        this.abandon(k, p);
        this.drop('handshake-timeout');
      }
    }
  }

  /** Forgets a session's handshake in progress (the CSTP session ended). */
  cancel(session: DtlsPeerSession): void {
    const k = this.pendingBySession.get(session);
    const p = k === undefined ? undefined : this.pending.get(k);
    if (k !== undefined && p) this.abandon(k, p);
  }

  /** Closes every channel and handshake (the socket is going away). */
  close(): void {
    for (const [k, p] of this.pending) this.abandon(k, p);
    for (const c of [...this.channels.values()]) c.close('DTLS endpoint closed');
  }

  private stateless(datagram: Buffer, address: string, port: number, k: string, now: number): void {
    const view = this.view;
    let hello: ClientHello;
    let messageSeq: number;
    let helloMessage: Buffer;
    try {
      readRecord(datagram, 0, view);
      const [first] = readHandshakeFragments(
        datagram.subarray(view.start + DTLS_RECORD_HEADER_LENGTH, view.end),
      );
      if (!first || first.type !== HandshakeType.clientHello) return this.drop('not-client-hello');
      // Like OpenSSL's DTLSv1_listen: a ClientHello must fit one datagram to be answered statelessly.
      if (first.offset !== 0 || first.bytes.length !== first.length) return this.drop('fragmented-hello');
      hello = parseClientHello(first.bytes);
      messageSeq = first.messageSeq;
      helloMessage = encodeHandshake(HandshakeType.clientHello, messageSeq, first.bytes);
    } catch {
      return this.drop('malformed');
    }
    const recordSeq = sequenceOf(view);
    if (hello.cookie.length === 0 || !this.cookies.verify(address, port, hello.parameters, hello.cookie)) {
      if (hello.cookie.length > 0) this.drop('bad-cookie');
      // RFC 6347 §4.2.1: the HelloVerifyRequest repeats the ClientHello's record sequence number
      // and message_seq; version DTLS 1.0 in record and body.
      const hvr = encodeHandshake(
        HandshakeType.helloVerifyRequest,
        messageSeq,
        encodeHelloVerifyRequest(this.cookies.make(address, port, hello.parameters)),
      );
      const record = encodePlainRecord(DtlsContentType.handshake, DTLS_1_0, 0, recordSeq, hvr);
      this.o.send(record, record.length, address, port);
      this.o.onEvent?.('hello-verify');
      return;
    }
    let appId: Buffer | undefined;
    try {
      appId = applicationIdOf(hello);
    } catch {
      return this.drop('malformed');
    }
    const session = this.o.lookup(appId ?? Buffer.alloc(0));
    if (!session) return this.drop('unknown-session');
    // One handshake per session and per address: a newer one replaces the older.
    const previousKey = this.pendingBySession.get(session);
    const previous = previousKey === undefined ? undefined : this.pending.get(previousKey);
    if (previousKey !== undefined && previous) this.abandon(previousKey, previous);
    const sameAddress = this.pending.get(k);
    if (sameAddress) this.abandon(k, sameAddress);
    if (this.pending.size >= this.maxHandshakes) return this.drop('busy');
    let handshake: ServerHandshake;
    try {
      handshake = new ServerHandshake({
        params: session.params,
        hello,
        helloMessage,
        helloMessageSeq: messageSeq,
        helloRecordSeq: recordSeq + 1,
        evp: this.o.evp,
        now,
        random: this.random,
        ...(this.o.handshakeLifetimeMs ? { lifetimeMs: this.o.handshakeLifetimeMs } : {}),
      });
    } catch (e) {
      if (e instanceof DtlsHandshakeError && e.alert !== undefined) {
        this.sendAlert(address, port, recordSeq + 1, e.alert);
      }
      return this.drop('handshake-failed');
    }
    const p: Pending = { handshake, session, address, port };
    this.pending.set(k, p);
    this.pendingBySession.set(session, k);
    const flight = handshake.sendFlight();
    this.o.send(flight, flight.length, address, port);
    this.o.onEvent?.('handshake-started');
  }

  private continueHandshake(p: Pending, k: string, datagram: Buffer, now: number): void {
    const view = this.view;
    for (let at = 0; at < datagram.length; at = view.end) {
      try {
        readRecord(datagram, at, view);
      } catch {
        return this.drop('malformed');
      }
      let answer: Buffer | undefined;
      try {
        answer = p.handshake.onRecord(datagram, view, now);
      } catch (e) {
        if (e instanceof DtlsHandshakeError && e.alert !== undefined) {
          this.sendAlert(p.address, p.port, 0, e.alert);
        }
        this.abandon(k, p);
        return this.drop('handshake-failed');
      }
      if (answer) this.o.send(answer, answer.length, p.address, p.port);
      const established = p.handshake.established;
      if (established) {
        this.pending.delete(k);
        this.pendingBySession.delete(p.session);
        const channel = this.open(p, k, established);
        // Records after the client's Finished in the same datagram belong to the channel.
        if (view.end < datagram.length) {
          const rest = datagram.subarray(view.end);
          channel.receive(rest, this.o.evp.address(rest), now);
        }
        return;
      }
    }
  }

  private open(p: Pending, k: string, established: NonNullable<ServerHandshake['established']>): DtlsChannel {
    const { address, port } = p;
    this.channels.get(k)?.close('replaced by a new handshake', true);
    const channel = new DtlsChannel(this.o.evp, established, address, port, {
      send: (datagram, length) => this.o.send(datagram, length, address, port),
      forget: (c) => {
        if (this.channels.get(k) === c) this.channels.delete(k);
      },
      drop: (reason) => this.drop(reason),
    });
    this.channels.set(k, channel);
    this.o.onEvent?.('established', channel);
    p.session.established(channel);
    return channel;
  }

  private abandon(k: string, p: Pending): void {
    p.handshake.dispose();
    this.pending.delete(k);
    if (this.pendingBySession.get(p.session) === k) this.pendingBySession.delete(p.session);
  }

  /** A fatal alert in the clear (epoch 0): the handshake failed before keys were in use. */
  private sendAlert(address: string, port: number, sequence: number, alert: number): void {
    const record = encodePlainRecord(DtlsContentType.alert, DTLS_1_2, 0, sequence, Buffer.of(2, alert));
    this.o.send(record, record.length, address, port);
  }

  private drop(reason: DtlsDrop): void {
    this.o.onDrop?.(reason);
  }
}

/**
 * Whether a datagram starts with an epoch-0 handshake record holding a ClientHello fragment that
 * is long enough to carry its random (bytes 27..59: record header 13, handshake header 12,
 * client_version 2).
 */
function isClientHello(d: Buffer, start: number, end: number): boolean {
  return (
    end - start >= 59 &&
    d[start] === DtlsContentType.handshake &&
    d[start + 3] === 0 &&
    d[start + 4] === 0 &&
    d[start + DTLS_RECORD_HEADER_LENGTH] === HandshakeType.clientHello
  );
}
