import type { Socket } from 'node:net';
import { FRAME_HEADER_LENGTH, FrameType, writeFrameHeader } from '../cstp/index.js';
import type { TlsFailure } from '../tunnel/counters.js';
import type { LastFrame, RecordLayerKind, TransportHandlers, TunnelTransport } from '../tunnel/transport.js';
import type { ChunkPool } from './chunk-pool.js';
import type { CipherSuite } from './cipher-suites.js';
import type { Evp } from './evp.js';
import type { SessionKeys } from './handshake-observer.js';
import { AlertDescription, ContentType, TlsRecordError } from './record.js';
import {
  PeerAlertError,
  RecordLayer,
  type RecordLayerEvents,
  type RecordLayerOptions,
} from './record-layer.js';
import { readIntoSharedBuffer, startReading } from './socket-reading.js';

/**
 * A tunnel without a record either way for this long gives up its EVP contexts (about 5 KiB per
 * tunnel, a third of an idle tunnel's memory) until the next record; mobile clients keep tunnels
 * open and quiet for hours, sending a keepalive now and then.
 */
const hibernateAfterMs = 10_000;

/** "TLSv1.3 TLS_AES_128_GCM_SHA256", one string per suite: not a concatenated string per tunnel. */
const protocols = new Map<CipherSuite, string>();
function protocolOf(suite: CipherSuite): string {
  let protocol = protocols.get(suite);
  if (protocol === undefined) {
    protocol = `${suite.version} ${suite.name}`;
    protocols.set(suite, protocol);
  }
  return protocol;
}

/**
 * The transport a tunnel's socket carries, for the socket's listeners: they are functions shared
 * by every tunnel (RecordTransport's static ones, called on the socket), not closures per tunnel,
 * which an idle tunnel would keep in the heap (with their contexts) for as long as it lasts.
 */
const transportKey = Symbol('RecordTransport');
type TunnelSocket = Socket & { [transportKey]?: RecordTransport };

export interface RecordTransportOptions {
  socket: Socket;
  evp: Evp;
  pool: ChunkPool;
  keys: SessionKeys;
  sequences: { client: number; server: number };
  /** Client bytes that arrived after the CONNECT request, still encrypted. */
  pending: Buffer[];
  /** CSTP bytes OpenSSL already decrypted past the CONNECT request. */
  head: Buffer;
  maxQueuedBytes: number;
  /** Sealed bytes gathered before a socket write (many records, one write). */
  flushBytes?: number;
  layer?: RecordLayerOptions;
  onTlsFailure?: (kind: TlsFailure, detail: string) => void;
}

/**
 * A tunnel over the raw TCP socket with Outpost's record layer (gateway/tls), after OpenSSL did
 * the handshake and the auth dialogue. Downstream, frames are sealed one per record straight into
 * pooled chunks and written many records per write: at the end of the current turn of the event
 * loop, or as soon as `flushBytes` are waiting. Upstream, whole socket reads are opened in place,
 * in one read buffer shared by the thread's tunnels (socket-reading.ts).
 * The connection then holds no OpenSSL buffers: a raw socket, two EVP contexts and counters.
 */
export class RecordTransport implements TunnelTransport, RecordLayerEvents {
  readonly kind: RecordLayerKind = 'outpost';
  readonly protocol: string;
  private readonly layer: RecordLayer;
  // Fields rather than the options object: that one holds the takeover's leftovers (buffers that
  // may pin whole socket chunks), which an idle tunnel must not keep.
  private readonly socket: Socket;
  private readonly evp: Evp;
  private readonly pool: ChunkPool;
  private readonly maxQueuedBytes: number;
  private readonly onTlsFailure: ((kind: TlsFailure, detail: string) => void) | undefined;
  private handlers: TransportHandlers | undefined;
  private early: Buffer[] = [];
  private flushScheduled = false;
  private readonly flushBytes: number;
  /** The native address of the thread's shared read buffer, or -1 when reads come as 'data' chunks. */
  private readonly readAddress: number;
  private ended = false;
  private writeClosed = false;
  /** A record went either way since the last `idle` call. */
  private active = true;
  private quietSince = 0;
  /** The layer's EVP contexts were freed and no record went either way since. */
  private hibernated = false;

  constructor(o: RecordTransportOptions) {
    this.protocol = protocolOf(o.keys.suite);
    this.socket = o.socket;
    this.evp = o.evp;
    this.pool = o.pool;
    this.maxQueuedBytes = o.maxQueuedBytes;
    this.onTlsFailure = o.onTlsFailure;
    this.flushBytes = o.flushBytes ?? 48 * 1024;
    // The layer's events are this transport's own methods (data, closeNotify, outputQueued).
    this.layer = new RecordLayer(o.evp, o.pool, o.keys, o.sequences, this, o.layer);
    const socket: TunnelSocket = o.socket;
    socket.setNoDelay(true);
    if (o.head.length > 0) this.early.push(Buffer.from(o.head));
    socket[transportKey] = this;
    // Reads into the thread's shared buffer where Node allows it, else one 'data' chunk per read.
    this.readAddress = readIntoSharedBuffer(socket, o.evp.address, RecordTransport.onSharedRead);
    if (this.readAddress < 0) socket.on('data', RecordTransport.onSocketData);
    socket.on('end', RecordTransport.onSocketEnd);
    socket.on('close', RecordTransport.onSocketEnd);
    socket.on('error', RecordTransport.onSocketError);
    // A socket paused for a hand-off (TlsConnection.handOff) and kept in this process does not
    // resume on 'data' listeners, nor restart its handle's reads.
    socket.resume();
    startReading(socket);
    for (const chunk of o.pending) this.receive(chunk, this.evp.address(chunk));
  }

  setHandlers(handlers: TransportHandlers): void {
    this.handlers = handlers;
    const early = this.early;
    this.early = [];
    for (const chunk of early) handlers.data(chunk, 0, chunk.length, -1);
    if (this.ended) handlers.closed(this.endReason);
  }

  sendPacket(data: Buffer, offset: number, length: number, address: number): boolean {
    if (this.writeClosed) return false;
    if (this.socket.writableLength + this.layer.pendingBytes > this.maxQueuedBytes) return false;
    this.active = true;
    const chunk = this.layer.begin(FRAME_HEADER_LENGTH + length);
    const at = this.layer.plaintextOffset;
    writeFrameHeader(chunk.buffer, at, FrameType.data, length);
    if (address >= 0) this.evp.copy(chunk.address + at + FRAME_HEADER_LENGTH, address + offset, length);
    else data.copy(chunk.buffer, at + FRAME_HEADER_LENGTH, offset, offset + length);
    this.layer.end(ContentType.applicationData, FRAME_HEADER_LENGTH + length);
    this.afterSeal();
    return true;
  }

  sendFrame(type: FrameType, payload?: Uint8Array): void {
    if (this.writeClosed) return;
    this.seal(type, payload);
  }

  end(lastFrame?: LastFrame, graceMs = 2000): void {
    if (this.writeClosed) return;
    if (lastFrame !== undefined) this.seal(lastFrame.type, lastFrame.payload);
    this.layer.alert(AlertDescription.closeNotify);
    this.finishWriting();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.close('destroyed');
  }

  /** True until the layer hibernated after `hibernateAfterMs` without a record (then false until one comes). */
  idle(now: number): boolean {
    if (this.active) {
      this.active = false;
      this.quietSince = now;
      this.hibernated = false;
      return true;
    }
    if (this.hibernated || this.ended) return false;
    if (now - this.quietSince < hibernateAfterMs) return true;
    this.layer.hibernate();
    this.hibernated = true;
    return false;
  }

  private seal(type: FrameType, payload?: Uint8Array): void {
    this.active = true;
    const length = payload?.length ?? 0;
    const chunk = this.layer.begin(FRAME_HEADER_LENGTH + length);
    const at = this.layer.plaintextOffset;
    writeFrameHeader(chunk.buffer, at, type, length);
    if (payload && length > 0) chunk.buffer.set(payload, at + FRAME_HEADER_LENGTH);
    this.layer.end(ContentType.applicationData, FRAME_HEADER_LENGTH + length);
    this.afterSeal();
  }

  /** Many records per socket write: at the end of this turn of the event loop, or once enough wait. */
  private afterSeal(): void {
    if (this.layer.pendingBytes >= this.flushBytes) this.flush();
    else this.scheduleFlush();
  }

  // Socket listeners and the deferred flush, shared by every tunnel (see transportKey). Node calls
  // a listener on its socket (`this`).
  private static readonly onSharedRead = function (this: Socket, length: number, buffer: Buffer): void {
    const transport = (this as TunnelSocket)[transportKey]!;
    transport.receive(buffer, transport.readAddress, length);
  };

  private static readonly onSocketData = function (this: Socket, chunk: Buffer): void {
    const transport = (this as TunnelSocket)[transportKey]!;
    transport.receive(chunk, transport.evp.address(chunk));
  };

  private static readonly onSocketEnd = function (this: Socket): void {
    (this as TunnelSocket)[transportKey]!.close('connection closed');
  };

  private static readonly onSocketError = function (this: Socket, err: Error): void {
    (this as TunnelSocket)[transportKey]!.close(`socket error: ${err.message}`);
  };

  private static readonly flushLater = (transport: RecordTransport): void => transport.flush();

  /** RecordLayerEvents: the layer queued records of its own (a KeyUpdate answer). */
  outputQueued(): void {
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(RecordTransport.flushLater, this);
  }

  private flush(): void {
    this.flushScheduled = false;
    const out = this.layer.takeOutput();
    if (out.length === 0) return;
    const { socket, pool } = this;
    if (socket.destroyed) {
      for (const o of out) pool.give(o.chunk);
      return;
    }
    if (out.length > 1) socket.cork();
    for (const { chunk, length } of out)
      socket.write(chunk.buffer.subarray(0, length), () => pool.give(chunk));
    if (out.length > 1) socket.uncork();
  }

  /** Client bytes `chunk[0, length)` at native `address`; nothing of them is kept after the call. */
  private receive(chunk: Buffer, address: number, length = chunk.length): void {
    if (this.ended) return;
    this.active = true;
    try {
      this.layer.receive(chunk, address, length);
    } catch (e) {
      this.onRecordError(e);
    }
  }

  /** RecordLayerEvents: application data from the client (valid only during the call). */
  data(buffer: Buffer, start: number, end: number, address: number): void {
    if (this.handlers) this.handlers.data(buffer, start, end, address);
    else this.early.push(Buffer.from(buffer.subarray(start, end)));
  }

  private onRecordError(e: unknown): void {
    if (e instanceof PeerAlertError) {
      this.onTlsFailure?.('peer-alert', e.message);
      this.socket.destroy();
      return this.close(`TLS alert ${e.description} from the client`);
    }
    const error =
      e instanceof TlsRecordError ? e : new TlsRecordError(AlertDescription.internalError, String(e));
    const kind: TlsFailure =
      error.alert === AlertDescription.badRecordMac ? 'bad-record-mac' : 'record-error';
    this.onTlsFailure?.(kind, error.message);
    if (!this.writeClosed) {
      this.layer.alert(error.alert);
      this.finishWriting();
    }
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.close(`TLS error: ${error.message}`);
  }

  /** RecordLayerEvents: close_notify from the client: answer with ours (RFC 8446 §6.1) and close. */
  closeNotify(): void {
    if (!this.writeClosed) {
      this.layer.alert(AlertDescription.closeNotify);
      this.finishWriting();
    }
    this.close('client close_notify');
  }

  /** Flushes what is sealed and half-closes; nothing is sealed after this. */
  private finishWriting(): void {
    this.writeClosed = true;
    this.flush();
    this.socket.end();
  }

  private endReason = '';

  private close(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    this.writeClosed = true;
    // The socket may still be writing sealed chunks: their write callbacks give them back.
    const out = this.layer.takeOutput();
    const { socket } = this;
    if (!socket.destroyed && !socket.writableEnded && out.length > 0) {
      for (const { chunk, length } of out) {
        socket.write(chunk.buffer.subarray(0, length), () => this.pool.give(chunk));
      }
    } else for (const o of out) this.pool.give(o.chunk);
    this.layer.dispose();
    this.handlers?.closed(reason);
  }
}
