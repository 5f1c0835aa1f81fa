import type { TLSSocket } from 'node:tls';
import { encodeFrame, FRAME_HEADER_LENGTH, FrameType, writeFrameHeader } from '../cstp/index.js';
import type { LastFrame, TransportHandlers, TunnelTransport } from '../tunnel/transport.js';

/**
 * The tunnel over Node's TLSSocket: OpenSSL keeps the record layer (the fallback when the
 * takeover is off or impossible). One `write` per frame, with `_writev` disabled, so that Node
 * never merges queued frames into one SSL_write and thus one record.
 */
export class OpensslTransport implements TunnelTransport {
  readonly kind = 'openssl';
  readonly protocol: string;
  private handlers: TransportHandlers | undefined;
  private ended = false;

  constructor(
    private readonly socket: TLSSocket,
    private readonly maxQueuedBytes: number,
    /** Bytes OpenSSL already decrypted past the CONNECT request. */
    head: Buffer,
  ) {
    this.protocol = `${socket.getProtocol() ?? '?'} ${socket.getCipher()?.standardName ?? '?'}`;
    (socket as unknown as { _writev: unknown })._writev = null;
    socket.setNoDelay(true);
    const early: Buffer[] = head.length > 0 ? [head] : [];
    socket.on('data', (chunk: Buffer) =>
      this.handlers ? this.handlers.data(chunk, 0, chunk.length, -1) : early.push(chunk),
    );
    socket.on('close', () => this.close('connection closed'));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    this.setHandlers = (handlers) => {
      this.handlers = handlers;
      for (const chunk of early.splice(0)) handlers.data(chunk, 0, chunk.length, -1);
    };
  }

  setHandlers: (handlers: TransportHandlers) => void;

  sendPacket(data: Buffer, offset: number, length: number): boolean {
    if (this.socket.writableLength > this.maxQueuedBytes) return false;
    const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + length);
    writeFrameHeader(frame, 0, FrameType.data, length);
    data.copy(frame, FRAME_HEADER_LENGTH, offset, offset + length);
    this.socket.write(frame);
    return true;
  }

  sendFrame(type: FrameType, payload?: Uint8Array): void {
    this.socket.write(encodeFrame(type, payload));
  }

  end(lastFrame?: LastFrame, graceMs = 2000): void {
    if (lastFrame !== undefined) this.socket.end(encodeFrame(lastFrame.type, lastFrame.payload));
    else this.socket.end();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private close(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.handlers?.closed(reason);
  }
}
