import type { Socket } from 'node:net';

/**
 * Stopping and restarting a TCP socket's reads at the handle, as net.Socket's own pause() and
 * resume() do for sockets with an `onread` buffer (Node's lib/net.js). A plain pause() only stops
 * the stream from emitting: the handle keeps reading into it. Before a socket's handle is sent to
 * a tunnel worker, reads must really stop, so that what the kernel holds is read by the worker and
 * nothing is read into the stream here to be lost when the handle leaves.
 */
interface ReadingHandle {
  reading?: boolean;
  readStop?: () => number;
  readStart?: () => number;
  /** StreamBase's read target for Node's `onread` option (src/stream_base.cc). */
  useUserBuffer?: (buffer: Uint8Array) => void;
}

function handleOf(socket: Socket): ReadingHandle | undefined {
  return (socket as unknown as { _handle?: ReadingHandle })._handle;
}

export function stopReading(socket: Socket): void {
  const handle = handleOf(socket);
  if (!handle?.readStop || handle.reading === false) return;
  handle.reading = false;
  handle.readStop();
}

/**
 * Restarts reads stopped by stopReading (a socket that stayed in this process). The stream still
 * waits for the push its last read asked for, so it would not ask the handle again by itself.
 */
export function startReading(socket: Socket): void {
  const handle = handleOf(socket);
  if (!handle?.readStart || handle.reading !== false || socket.destroyed) return;
  handle.reading = true;
  handle.readStart();
}

/**
 * The bytes of one read of a socket that reads into the shared buffer: `buffer[0, length)`,
 * valid only during the call (the next read of any socket of this thread overwrites them).
 * Called as Node calls its `onread` callback (net.connect): on the socket (`this`), with the
 * length first. So one function can serve every socket of a kind, where a closure per socket
 * would stay in the heap for as long as the (idle) tunnel lasts.
 */
export type SharedRead = (this: Socket, length: number, buffer: Buffer) => void;

/**
 * Node's `onread` option (net.connect), given to a socket that already exists (an accepted one):
 * the property keys net.Socket's read path looks up. Module-private symbols of Node's net.js
 * (every socket has them as own properties), found by their descriptions; null where a Node
 * version has none.
 */
interface OnreadKeys {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}
let onreadKeys: OnreadKeys | null | undefined;

function keysOf(socket: Socket): OnreadKeys | null {
  const symbols = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => symbols.find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : null;
}

/**
 * One read buffer for every tunnel socket of this thread (64 KiB, what Node's own reads
 * allocate). Reads run one at a time on the event loop, each handled to the end in its callback
 * (the record layer copies the part of a record it must keep), so one buffer serves them all and
 * an idle tunnel holds none. Never freed: the handles keep only its address.
 */
let shared: { buffer: Buffer; address: number } | undefined;

/**
 * Makes `socket` read into this thread's shared buffer and hand each read to `onRead` (called on
 * the socket), instead of a fresh 64 KiB allocation, a Buffer and a stream 'data' event per read (in a profile of a
 * single-stream upload through the tunnel: malloc and free, a BigInt address, the stream's push
 * and the scavenges after them, about 4% of the gateway's CPU). Returns the buffer's native
 * address, or -1 when it could not (Node without `onread` support, data already queued in the
 * stream, no handle): the caller then listens for 'data' as usual.
 *
 * 'end', 'close' and 'error' are emitted as before (Node's read path pushes EOF into the stream).
 */
export function readIntoSharedBuffer(
  socket: Socket,
  address: (bytes: Buffer) => number,
  onRead: SharedRead,
): number {
  const handle = handleOf(socket);
  if (!handle?.useUserBuffer || socket.readableLength > 0 || socket.destroyed) return -1;
  if (onreadKeys === undefined) onreadKeys = keysOf(socket);
  if (onreadKeys === null) return -1;
  if (!shared) {
    const buffer = Buffer.allocUnsafeSlow(64 * 1024);
    shared = { buffer, address: address(buffer) };
  }
  const { buffer } = shared;
  const target = socket as unknown as Record<symbol, unknown>;
  target[onreadKeys.buffer] = buffer;
  target[onreadKeys.generator] = null;
  // Node's read path calls `socket[kBufferCb](nread, socket[kBuffer])` (stream_base_commons.js).
  target[onreadKeys.callback] = onRead;
  handle.useUserBuffer(buffer);
  return shared.address;
}
