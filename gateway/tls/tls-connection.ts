import type { X509Certificate } from 'node:crypto';
import { isIPv6, type Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { TlsFailure } from '../tunnel/counters.js';
import type { TunnelTransport } from '../tunnel/transport.js';
import type { ChunkPool } from './chunk-pool.js';
import type { Evp } from './evp.js';
import { HandshakeObserver, isUnsupported, type SessionKeys } from './handshake-observer.js';
import { OpensslFeed } from './openssl-feed.js';
import { OpensslTransport } from './openssl-transport.js';
import { MAX_CIPHERTEXT_TLS12, MAX_PLAINTEXT, TlsRecordSplitter } from './record.js';
import type { RecordLayerOptions } from './record-layer.js';
import { sequenceOf } from './record-layer.js';
import { RecordTransport } from './record-transport.js';
import { stopReading } from './socket-reading.js';

/** What the takeover to Outpost's record layer needs; absent, OpenSSL keeps every connection. */
export interface RecordLayerSetup {
  evp: Evp;
  pool: ChunkPool;
  layer?: RecordLayerOptions;
  onTlsFailure?: (kind: TlsFailure, detail: string) => void;
}

export interface TlsConnectionOptions {
  secureContext: SecureContext;
  requestCert: boolean;
  /** The CA certificates (DER) secureContext verifies client certificates against, when known exactly. */
  clientCaDer?: readonly Buffer[];
  recordLayer: RecordLayerSetup | undefined;
  /** Bytes queued towards a client beyond which its packets are dropped, not buffered. */
  maxQueuedBytes: number;
  /**
   * The client as a trusted balancer's PROXY v2 header named it (gateway/proxy); absent, the
   * client is the TCP peer. Bans, limits, logs and `sessions list` read remoteAddress.
   */
  client?: { address: string; port: number };
}

/** A connection taken off OpenSSL: everything its record layer needs to continue, anywhere. */
export interface TakenOver {
  socket: Socket;
  keys: SessionKeys;
  sequences: { client: number; server: number };
  /** Client bytes that arrived after the CONNECT request, still encrypted. */
  pending: Buffer[];
  /** CSTP bytes OpenSSL already decrypted past the CONNECT request. */
  head: Buffer;
}

/** The connection cannot leave OpenSSL (suite, version, unfollowed records); nothing was answered. */
export class TakeoverRefusedError extends Error {}

const clientSequenceLost = 'client sequence number not found';

/** Outpost's record layer over a taken-over connection. */
export function recordTransport(
  setup: RecordLayerSetup,
  taken: TakenOver,
  maxQueuedBytes: number,
): RecordTransport {
  return new RecordTransport({
    ...taken,
    evp: setup.evp,
    pool: setup.pool,
    maxQueuedBytes,
    ...(setup.layer ? { layer: setup.layer } : {}),
    ...(setup.onTlsFailure ? { onTlsFailure: setup.onTlsFailure } : {}),
  });
}

/** Resolves once everything written to the socket has been handed to the kernel. */
function flushed(socket: Socket): Promise<void> {
  if (socket.writableLength === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

/** How long OpenSSL may take to emit the sealed CONNECT answer (it normally does so at once). */
const answerTimeoutMs = 5000;

type Mode = 'observing' | 'holding' | 'passthrough' | 'taken-over';

const connections = new WeakMap<TLSSocket, TlsConnection>();

/** The connection a TLSSocket handed out by the HTTP server belongs to. */
export function connectionOf(socket: unknown): TlsConnection | undefined {
  return socket instanceof TLSSocket ? connections.get(socket) : undefined;
}

/**
 * One accepted TCP connection. OpenSSL (a TLSSocket over a stream we feed, openssl-feed.ts) runs the handshake and
 * the HTTP auth dialogue, while every TLS record in both directions passes through here and is
 * observed (handshake-observer.ts). At `CONNECT /CSCOSSLC/tunnel` the connection can leave
 * OpenSSL: the client sends nothing after its CONNECT until it has the answer, so all its records
 * have been given to OpenSSL; OpenSSL seals the answer; both sequence numbers are then pinned by
 * finding under which the last record of each direction authenticates; the TLSSocket is destroyed
 * (freeing OpenSSL's ~29 KiB of per-connection buffers) and the raw socket continues with
 * Outpost's record layer. When anything does not fit (TLS version, cipher, a sequence number that
 * cannot be pinned), the tunnel stays on the TLSSocket instead.
 *
 * Only whole client records are given to OpenSSL, so that what it consumed is exactly known.
 */
export class TlsConnection {
  readonly tls: TLSSocket;
  private readonly feed: OpensslFeed;
  private readonly observer = new HandshakeObserver();
  private readonly inbound = new TlsRecordSplitter(MAX_CIPHERTEXT_TLS12);
  private readonly outbound = new TlsRecordSplitter(MAX_CIPHERTEXT_TLS12);
  private mode: Mode;
  private observingServer: boolean;
  private held: Buffer[] = [];
  private serverRecordSeen: (() => void) | undefined;
  private peer: X509Certificate | undefined;
  /** presentedChainDer()'s answer once asked; null: not readable from the records. */
  private presented: Buffer[] | null | undefined;
  /** Until OpenSSL has finished the handshake (the TLSSocket's 'secure'). */
  private handshaking = true;

  constructor(
    readonly raw: Socket,
    private readonly o: TlsConnectionOptions,
  ) {
    this.mode = o.recordLayer ? 'observing' : 'passthrough';
    this.observingServer = o.recordLayer !== undefined;
    this.feed = new OpensslFeed({
      write: (chunks) => {
        if (chunks.length === 1) return this.fromOpenssl(chunks[0]!);
        // OpenSSL hands a handshake flight over as several records at once (Node corks the
        // stream around them): one socket write for all, not a syscall per record.
        raw.cork();
        for (const chunk of chunks) this.fromOpenssl(chunk);
        raw.uncork();
      },
      end: () => {
        if (this.mode !== 'taken-over') raw.end();
      },
      destroy: () => {
        if (this.mode !== 'taken-over') raw.destroy();
      },
    });
    raw.on('data', this.onRawData);
    raw.on('end', this.onRawEnd);
    raw.on('close', this.onRawClose);
    raw.on('error', this.onRawError);
    this.tls = new TLSSocket(this.feed as unknown as Socket, {
      isServer: true,
      secureContext: o.secureContext,
      requestCert: o.requestCert,
      rejectUnauthorized: false, // the certificate authenticator decides, so the client gets a form, not a reset
    });
    connections.set(this.tls, this);
    this.tls.once('secure', () => {
      this.handshaking = false;
    });
    if (o.recordLayer) this.tls.on('keylog', (line: Buffer) => this.observer.keylog(line));
  }

  /** The client's address: from the PROXY header behind a balancer, else the TCP peer's. */
  get remoteAddress(): string | undefined {
    return this.o.client?.address ?? this.raw.remoteAddress;
  }

  /**
   * The CA certificates OpenSSL verified the client's certificate against in the handshake (it
   * presented one, and SSL_get_verify_result says X509_V_OK), or undefined. A TLSSocket made
   * outside tls.Server never sets `authorized` (tls.Server's 'secure' handler does), so this asks
   * the TLSWrap what that handler asks: verifyError(), null when the presented certificate
   * verified. Only for a full handshake: a resumed session carries the result of an earlier one,
   * which this connection did not see made, so its chain is verified again by whoever asks (a
   * cookie resume never asks; openconnect does not resume TLS). Where the handle is gone, undefined.
   */
  get clientChainVerifiedAgainst(): readonly Buffer[] | undefined {
    const handle = (this.tls as unknown as { _handle?: { verifyError?(): Error | null } | null })._handle;
    if (!this.o.clientCaDer || typeof handle?.verifyError !== 'function') return undefined;
    if (this.tls.isSessionReused()) return undefined;
    if (!this.presentedChainDer()?.length && !this.peerCertificate()) return undefined;
    return handle.verifyError() === null ? this.o.clientCaDer : undefined;
  }

  /**
   * The certificates the client presented in a full TLS 1.3 handshake (DER, leaf first), read
   * from its handshake records (HandshakeObserver.clientCertificates), or undefined: then
   * peerCertificate() has them. Asking OpenSSL costs a parse of every certificate after the leaf
   * (Node 20 copies each with X509_dup, through OpenSSL 3.0's key decoders: ~0.3 ms of a ~4 ms
   * certificate login in bench:sessions --site, whose clients send their CA after the leaf, as
   * openconnect does).
   */
  presentedChainDer(): Buffer[] | undefined {
    if (this.presented === undefined) {
      const evp = this.o.recordLayer?.evp;
      const read = evp && !this.tls.isSessionReused() ? this.observer.clientCertificates(evp) : undefined;
      this.presented = read ?? null;
    }
    return this.presented ?? undefined;
  }

  /**
   * The certificate the client presented, the rest of the chain it sent linked as
   * `issuerCertificate`; undefined when it sent none. Asked of OpenSSL once and kept: Node 20's
   * first getPeerX509Certificate() takes the presented chain out of the SSL object (it copies each
   * certificate, a full parse, and deletes it from the session's chain), so any later call
   * returns the leaf without the certificates that came with it.
   */
  peerCertificate(): X509Certificate | undefined {
    this.peer ??= this.tls.getPeerX509Certificate();
    return this.peer;
  }

  /** The client's address family (its path MTU overhead), not the balancer's. */
  get remoteFamily(): string | undefined {
    if (!this.o.client) return this.raw.remoteFamily;
    return isIPv6(this.o.client.address) && !this.o.client.address.startsWith('::ffff:') ? 'IPv6' : 'IPv4';
  }

  /**
   * Sends the CONNECT answer and returns the transport the tunnel runs over, with the reason the
   * takeover was not made when it was not. `head` is what OpenSSL decrypted past the request.
   */
  async startTunnel(
    response: Buffer,
    head: Buffer,
  ): Promise<{ transport: TunnelTransport; notTakenOver?: string }> {
    const setup = this.o.recordLayer;
    if (!setup) return this.stayWithOpenssl(response, head, 'record layer: openssl (configured)');
    const keys = this.takeoverKeys();
    if (typeof keys === 'string') return this.stayWithOpenssl(response, head, keys);
    const pinned = await this.answerAndPin(setup, keys, response);
    if (typeof pinned === 'string') {
      if (pinned === clientSequenceLost) return this.stayWithOpenssl(response, head, pinned);
      return this.resumeOpenssl(head, pinned);
    }
    const taken = this.detach(pinned.keys, pinned.sequences, head);
    return { transport: recordTransport(setup, taken, this.o.maxQueuedBytes) };
  }

  /**
   * Like startTunnel, for a tunnel that will run in another process: the connection must leave
   * OpenSSL, so when it cannot (checked before anything is answered) this throws
   * TakeoverRefusedError and the caller refuses the CONNECT. On success the raw socket no longer
   * reads (its handle can be sent to a worker with `child.send(message, socket)`), the CONNECT
   * answer has reached the kernel, and every client byte read so far is in `pending`.
   */
  async handOff(response: Buffer, head: Buffer): Promise<TakenOver> {
    const setup = this.o.recordLayer;
    if (!setup) throw new TakeoverRefusedError('record layer: openssl (configured)');
    const keys = this.takeoverKeys();
    if (typeof keys === 'string') throw new TakeoverRefusedError(keys);
    const pinned = await this.answerAndPin(setup, keys, response);
    if (typeof pinned === 'string') {
      this.raw.destroy();
      throw new Error(`tunnel cannot leave OpenSSL after the answer: ${pinned}`);
    }
    await flushed(this.raw);
    const taken = this.detach(pinned.keys, pinned.sequences, head);
    // No more reads into this process: what the kernel holds now is the worker's to read. The
    // socket was flowing into onRawData until detach() (synchronously before this), so its
    // readable buffer is empty; reading it (read()) would start the handle again.
    stopReading(this.raw);
    this.raw.pause();
    return taken;
  }

  /**
   * Lets OpenSSL seal the answer, then pins both sequence numbers. Returns a reason string when
   * they cannot be pinned: clientSequenceLost before the answer was written, any other after.
   */
  private async answerAndPin(
    setup: RecordLayerSetup,
    keys: SessionKeys,
    response: Buffer,
  ): Promise<{ keys: SessionKeys; sequences: { client: number; server: number } } | string> {
    this.mode = 'holding';
    const clientLog = this.observer.client;
    const client = sequenceOf(
      setup.evp,
      keys.suite,
      keys.client.keys,
      clientLog.last!,
      clientLog.protectedRecords - 1,
      clientLog.protectedRecords - 1,
    );
    if (client < 0) return clientSequenceLost;
    const serverLog = this.observer.server;
    const expected = serverLog.protectedRecords + Math.ceil(response.length / MAX_PLAINTEXT);
    // The TLSSocket is destroyed at the takeover, so wait for its write to complete as well: a
    // write completing on a destroyed Node stream makes an ERR_STREAM_DESTROYED, stack trace and
    // all (writable.js errorBuffer), ~60 us of every takeover, for a callback nobody has.
    let written = false;
    const sealed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), answerTimeoutMs);
      this.serverRecordSeen = () => {
        if (serverLog.protectedRecords < expected || !written) return;
        clearTimeout(timer);
        this.serverRecordSeen = undefined;
        resolve(true);
      };
    });
    this.tls.write(response, () => {
      written = true;
      this.serverRecordSeen?.();
    });
    this.serverRecordSeen?.();
    if (!(await sealed)) {
      this.raw.destroy();
      throw new Error('OpenSSL did not emit the CONNECT answer');
    }
    const server = sequenceOf(
      setup.evp,
      keys.suite,
      keys.server.keys,
      serverLog.last!,
      expected - 1,
      expected - 1,
    );
    if (server < 0) return 'server sequence number not found';
    return { keys, sequences: { client: client + 1, server: server + 1 } };
  }

  /** The keys the connection would leave OpenSSL with, or why it cannot (derived once: HKDF per direction). */
  private takeoverKeys(): SessionKeys | string {
    if (this.mode !== 'observing') return 'the record stream could not be followed';
    // The client's handshake records are not needed past the login (a resume never reads them).
    this.observer.forgetClientRecords();
    const keys = this.observer.sessionKeys();
    if (isUnsupported(keys)) return keys.unsupported;
    if (!this.observer.client.last || !this.observer.server.last) return 'no protected records seen';
    return keys;
  }

  private stayWithOpenssl(
    response: Buffer,
    head: Buffer,
    reason: string | undefined,
  ): { transport: TunnelTransport; notTakenOver?: string } {
    this.tls.write(response);
    return this.resumeOpenssl(head, reason);
  }

  /** OpenSSL keeps the connection: it gets what was held back and every byte from now on. */
  private resumeOpenssl(head: Buffer, reason: string | undefined) {
    this.mode = 'passthrough';
    this.observingServer = false;
    const held = [...this.held, this.inbound.takePending()];
    this.held = [];
    for (const chunk of held) if (chunk.length > 0) this.feed.push(chunk);
    const transport = new OpensslTransport(this.tls, this.o.maxQueuedBytes, head);
    return reason === undefined ? { transport } : { transport, notTakenOver: reason };
  }

  /** Leaves OpenSSL: the TLSSocket goes, the raw socket and what is owed to the client stay. */
  private detach(keys: SessionKeys, sequences: { client: number; server: number }, head: Buffer): TakenOver {
    this.mode = 'taken-over';
    // Plaintext OpenSSL decrypted beyond the request but the HTTP parser left unread.
    const leftovers: Buffer[] = [head];
    for (let extra = this.tls.read() as Buffer | null; extra; extra = this.tls.read() as Buffer | null) {
      leftovers.push(extra);
    }
    const pending = [...this.held, this.inbound.takePending()].filter((b) => b.length > 0);
    this.held = [];
    this.raw.off('data', this.onRawData);
    this.raw.off('end', this.onRawEnd);
    this.raw.off('close', this.onRawClose);
    this.raw.off('error', this.onRawError);
    connections.delete(this.tls);
    this.tls.destroy();
    return {
      socket: this.raw,
      keys,
      sequences,
      pending,
      head: leftovers.length === 1 ? head : Buffer.concat(leftovers),
    };
  }

  private readonly onRawData = (chunk: Buffer): void => {
    switch (this.mode) {
      case 'passthrough':
        this.feed.push(chunk);
        return;
      case 'holding':
        this.held.push(chunk);
        return;
      case 'observing':
        try {
          if (this.handshaking) this.observeHandshake(chunk);
          else {
            this.inbound.push(chunk, (buffer, start, end) => {
              const record = buffer.subarray(start, end);
              if (this.mode === 'holding') return void this.held.push(Buffer.from(record));
              this.observer.clientRecord(buffer, start, end);
              this.feed.push(record);
            });
          }
        } catch {
          // Not a stream of TLS 1.2/1.3 records (garbage, an SSLv2-style hello): nothing we
          // would serve, and OpenSSL could not be handed the exact bytes any more.
          this.raw.destroy();
        }
        return;
      default:
    }
  };

  /**
   * During the handshake, a chunk's whole records go to OpenSSL in one push, not one by one: each
   * push is a pass through the stream, JSStreamSocket and TLSWrap, and a client's second flight
   * (TLS 1.3: CCS, Certificate, CertificateVerify, Finished) comes as several records in one
   * read. Every record is observed before the push, so what OpenSSL was given is still exactly
   * what was observed. The CONNECT request can only come after the handshake, where records go
   * one by one again so that those after it are held back.
   */
  private observeHandshake(chunk: Buffer): void {
    let runStart = 0;
    let runEnd = 0;
    this.inbound.push(chunk, (buffer, start, end) => {
      this.observer.clientRecord(buffer, start, end);
      if (buffer === chunk && (runEnd === runStart || start === runEnd)) {
        if (runEnd === runStart) runStart = start;
        runEnd = end;
        return;
      }
      // A record put together from several reads: after the run before it, on its own.
      if (runEnd > runStart) this.feed.push(chunk.subarray(runStart, runEnd));
      runStart = runEnd = 0;
      this.feed.push(buffer.subarray(start, end));
    });
    if (runEnd > runStart) this.feed.push(chunk.subarray(runStart, runEnd));
  }

  /** The takeover becomes impossible; OpenSSL gets the client's bytes unobserved from now on. */
  private stopObserving(): void {
    this.observingServer = false;
    if (this.mode !== 'observing') return;
    this.mode = 'passthrough';
    const pending = this.inbound.takePending();
    if (pending.length > 0) this.feed.push(pending);
  }

  private readonly onRawEnd = (): void => {
    this.feed.push(null);
  };

  private readonly onRawClose = (): void => {
    this.feed.destroy();
  };

  private readonly onRawError = (err: Error): void => {
    this.feed.destroy(err);
  };

  /** Bytes OpenSSL wrote for the client; after the takeover nothing of OpenSSL's may reach it. */
  private fromOpenssl(chunk: Buffer): void {
    if (this.mode === 'taken-over') return;
    if (this.observingServer) {
      try {
        this.outbound.push(chunk, (buffer, start, end) => this.observer.serverRecord(buffer, start, end));
      } catch {
        this.stopObserving();
      }
    }
    this.raw.write(chunk);
    this.serverRecordSeen?.();
  }
}
