import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEvp } from './evp.js';
import { readIntoSharedBuffer } from './socket-reading.js';

const evp = loadEvp();
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A connected pair over loopback: [the accepted socket, the client socket]. */
async function pair(): Promise<[Socket, Socket]> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect(port, '127.0.0.1');
  return [await accepted, client];
}

function patterned(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

describe.skipIf(!evp)('readIntoSharedBuffer', () => {
  it('hands every read of two accepted sockets over in order from one buffer, to one function called on each socket, then emits end', async () => {
    const sockets = [await pair(), await pair()];
    const received = sockets.map(() => createHash('sha256'));
    const bytes = [0, 0];
    const ended = sockets.map(([accepted]) => new Promise<void>((r) => accepted.once('end', () => r())));
    const buffers = new Set<Buffer>();
    function onRead(this: Socket, length: number, buffer: Buffer): void {
      const i = sockets.findIndex(([accepted]) => accepted === this);
      buffers.add(buffer);
      received[i]!.update(buffer.subarray(0, length));
      bytes[i]! += length;
    }
    const addresses = sockets.map(([accepted]) => readIntoSharedBuffer(accepted, evp!.address, onRead));
    expect(addresses[0]).toBeGreaterThan(0);
    expect(addresses[1]).toBe(addresses[0]);
    const sent = sockets.map(() => createHash('sha256'));
    const total = 3 * 1024 * 1024 + 17;
    // Interleaved writes of odd sizes on both connections: reads of both land in the one buffer.
    for (let at = 0, n = 0; at < total; n++) {
      const length = Math.min(total - at, 1000 + ((n * 7919) % 70000));
      for (const [i, [, client]] of sockets.entries()) {
        const chunk = patterned(length, n + i);
        sent[i]!.update(chunk);
        client.write(chunk);
      }
      at += length;
    }
    for (const [, client] of sockets) client.end();
    await Promise.all(ended);
    expect(bytes).toEqual([total, total]);
    expect(received.map((h) => h.digest('hex'))).toEqual(sent.map((h) => h.digest('hex')));
    expect(buffers.size).toBe(1);
    for (const [accepted, client] of sockets) {
      accepted.destroy();
      client.destroy();
    }
  });

  it('declines a socket with data already queued in its stream (the caller reads it as chunks)', async () => {
    const [accepted, client] = await pair();
    accepted.pause();
    client.write('queued');
    await new Promise<void>((r) => accepted.once('readable', () => r()));
    expect(accepted.readableLength).toBeGreaterThan(0);
    expect(readIntoSharedBuffer(accepted, evp!.address, () => undefined)).toBe(-1);
    accepted.destroy();
    client.destroy();
  });
});
