import { connect, type Socket } from 'node:net';

export interface PostReply {
  status: number;
  body: Buffer;
}

/** Limits on what a server may send back: a CertRep is a few KB. */
const MAX_HEAD_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 1 << 20;
const CRLF2 = Buffer.from('\r\n\r\n');

interface Pending {
  resolve: (reply: PostReply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One keep-alive HTTP/1.1 connection that POSTs one body at a time and reads the reply: the load
 * generator of bench:scep (load.ts), one per concurrency lane. It does what node:http's client
 * did for the bench (status, Content-Length or chunked body, Connection: close, a time-out per
 * request, a new connection after a close or an error) and nothing else: on this 2-core machine
 * the load generator's CPU is taken from the server it measures, and node:http's client (agent,
 * ClientRequest, IncomingMessage, streams) spent about 0.15–0.2 ms of CPU per enrollment, a tenth
 * of what the server does. Every reply is still checked afterwards (validate.ts), as before.
 */
export class KeepAlivePoster {
  private socket: Socket | undefined;
  private pending: Pending | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly head: string;

  constructor(
    private readonly url: URL,
    contentType: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.head =
      `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
      `Content-Type: ${contentType}\r\nConnection: keep-alive\r\nContent-Length: `;
  }

  post(body: Buffer): Promise<PostReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error('timeout')), this.timeoutMs);
      this.pending = { resolve, reject, timer };
      const socket = this.socket ?? this.open();
      socket.cork();
      socket.write(`${this.head}${body.length}\r\n\r\n`, 'latin1');
      socket.write(body);
      socket.uncork();
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Socket {
    const socket = connect({ host: this.url.hostname, port: Number(this.url.port || 80), noDelay: true });
    // A socket this poster already let go (Connection: close, an error) may still report its
    // close after the next request went out on a new one: only the current socket counts.
    socket.on('data', (chunk: Buffer) => this.socket === socket && this.onData(chunk));
    socket.on('error', (e) => this.socket === socket && this.fail(e));
    socket.on('close', () => this.socket === socket && this.fail(new Error('other side closed')));
    this.socket = socket;
    this.chunks = [];
    this.buffered = 0;
    return socket;
  }

  private fail(error: Error): void {
    this.close();
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (!this.pending) return this.fail(new Error('bytes without a request'));
    // parseReply bounds the head and the declared body; this bounds what a reply that never
    // completes (a chunk-size line without its CRLF) can make this process hold.
    if (this.buffered > MAX_HEAD_BYTES + MAX_BODY_BYTES + 64 * 1024)
      return this.fail(new Error('response too large'));
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [data];
    let reply: { reply: PostReply; close: boolean; used: number } | undefined;
    try {
      reply = parseReply(data);
    } catch (e) {
      return this.fail(e as Error);
    }
    if (!reply) return;
    if (reply.used !== data.length) return this.fail(new Error('bytes after the reply'));
    this.chunks = [];
    this.buffered = 0;
    const pending = this.pending;
    this.pending = undefined;
    clearTimeout(pending.timer);
    if (reply.close) this.close();
    pending.resolve(reply.reply);
  }
}

/** A whole HTTP/1.1 response at the start of `data`, or undefined while bytes are missing. */
function parseReply(data: Buffer): { reply: PostReply; close: boolean; used: number } | undefined {
  const end = data.indexOf(CRLF2);
  if (end < 0) {
    if (data.length > MAX_HEAD_BYTES) throw new Error('response head too large');
    return undefined;
  }
  const lines = data.toString('latin1', 0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
  if (!status) throw new Error(`bad status line ${lines[0]!.slice(0, 40)}`);
  let length: number | undefined;
  let chunked = false;
  let close = lines[0]!.startsWith('HTTP/1.0');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line
      .slice(colon + 1)
      .trim()
      .toLowerCase();
    if (name === 'content-length') length = Number(value);
    else if (name === 'transfer-encoding') chunked = value === 'chunked';
    else if (name === 'connection') close = value === 'close';
  }
  const start = end + 4;
  if (chunked) {
    const body = dechunk(data, start);
    return body && { reply: { status: Number(status[1]), body: body.body }, close, used: body.used };
  }
  if (length === undefined || !Number.isSafeInteger(length) || length < 0 || length > MAX_BODY_BYTES)
    throw new Error('response without a usable Content-Length');
  if (data.length < start + length) return undefined;
  return {
    reply: { status: Number(status[1]), body: data.subarray(start, start + length) },
    close,
    used: start + length,
  };
}

/** RFC 9112 §7.1 chunked body from `at`, trailers ignored; undefined while bytes are missing. */
function dechunk(data: Buffer, at: number): { body: Buffer; used: number } | undefined {
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(data.toString('latin1', at, lineEnd).split(';')[0]!, 16);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error('bad chunk size');
    total += size;
    if (total > MAX_BODY_BYTES) throw new Error('response body too large');
    if (size === 0) {
      // The last chunk's CRLF, any trailer lines, and the empty line that ends them.
      const trailerEnd = data.indexOf(CRLF2, lineEnd);
      if (trailerEnd < 0) return undefined;
      return { body: Buffer.concat(parts), used: trailerEnd + 4 };
    }
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
