import { EventEmitter } from 'node:events';

/** Where what OpenSSL writes goes (TlsConnection: observed, then to the client's socket). */
export interface FeedSink {
  /** One write of OpenSSL's, or several it made at once (a handshake flight). */
  write(chunks: readonly Buffer[]): void;
  /** OpenSSL ended its side of the stream. */
  end(): void;
  /** The TLSSocket is gone. */
  destroy(): void;
}

/**
 * The stream a TLSSocket runs over when it is not a native socket. Node wraps such a stream in a
 * JSStreamSocket (lib/internal/js_stream_socket.js), which only listens for 'data', 'end',
 * 'error' and 'close', calls pause(), resume(), cork(), uncork(), write(chunk, cb), end(cb) and
 * destroy(), and reads the `readable` and `writable` flags. A stream.Duplex does all that through
 * its buffering state machines, per chunk each way (a nextTick per write, a buffer list per
 * cork), on every handshake; this does only what JSStreamSocket uses: a chunk pushed while
 * reading is on goes to OpenSSL at once, as a flowing Readable with nothing buffered does.
 *
 * Like a Duplex with autoDestroy: once the end of input was delivered and OpenSSL ended its
 * side, the feed destroys itself, which the sink hears.
 */
export class OpensslFeed extends EventEmitter {
  readable = true;
  writable = true;
  private reading = false;
  private readonly queue: Buffer[] = [];
  private inputEnded = false;
  private endDelivered = false;
  private destroyed = false;
  private corked = 0;
  private corkedWrites: Buffer[] = [];

  constructor(private readonly sink: FeedSink) {
    super();
  }

  /** Bytes for OpenSSL, in order; null: the client ended its stream. */
  push(chunk: Buffer | null): void {
    if (this.destroyed || this.inputEnded) return;
    if (chunk === null) {
      this.inputEnded = true;
      if (this.queue.length === 0) process.nextTick(this.deliver);
      return;
    }
    if (!this.reading || this.queue.length > 0) this.queue.push(chunk);
    else this.emit('data', chunk);
  }

  pause(): this {
    this.reading = false;
    return this;
  }

  resume(): this {
    if (this.reading) return this;
    this.reading = true;
    // As Readable#resume: what was queued flows on the next tick, not inside the caller (here
    // TLSWrap starting to read).
    if (this.queue.length > 0 || this.inputEnded) process.nextTick(this.deliver);
    return this;
  }

  private readonly deliver = (): void => {
    while (this.reading && !this.destroyed && this.queue.length > 0) this.emit('data', this.queue.shift());
    if (!this.reading || this.destroyed || this.queue.length > 0) return;
    if (this.inputEnded && !this.endDelivered) {
      this.endDelivered = true;
      this.readable = false;
      this.emit('end');
      if (!this.writable) this.destroy();
    }
  };

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    const writes = this.corkedWrites;
    if (writes.length === 0) return;
    this.corkedWrites = [];
    this.sink.write(writes);
  }

  write(chunk: Buffer, done?: (err?: Error | null) => void): boolean {
    if (this.destroyed || !this.writable) {
      const err = Object.assign(new Error('write after the TLS stream ended'), { code: 'EPIPE' });
      if (done) process.nextTick(done, err);
      return false;
    }
    if (this.corked > 0) this.corkedWrites.push(chunk);
    else this.sink.write([chunk]);
    done?.(null);
    return true;
  }

  end(done?: () => void): this {
    if (this.writable) {
      this.uncorkAll();
      this.writable = false;
      this.sink.end();
    }
    process.nextTick(() => {
      done?.();
      if (this.endDelivered) this.destroy();
    });
    return this;
  }

  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.readable = false;
    this.writable = false;
    this.queue.length = 0;
    this.corkedWrites = [];
    this.sink.destroy();
    process.nextTick(() => {
      if (err) this.emit('error', err);
      this.emit('close');
    });
    return this;
  }

  private uncorkAll(): void {
    if (this.corked === 0) return;
    this.corked = 1;
    this.uncork();
  }
}
