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
