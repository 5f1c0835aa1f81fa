import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadShedder } from './load-shedder.js';

/** A loopback echo listener that runs every accepted socket through the shedder, as GatewayServer does. */
async function listener(shedder: LoadShedder) {
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    if (!shedder.accept(socket)) return;
    accepted.push(socket);
    socket.on('data', (d) => socket.write(d));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, accepted, port: (server.address() as AddressInfo).port };
}

/**
 * Opens `n` client connections one after the other, each sending a byte: true for each the
 * server closed (shed), false for each whose byte came back (taken).
 */
async function openClients(port: number, n: number, clients: Socket[]): Promise<boolean[]> {
  const closed: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const socket = connect(port, '127.0.0.1');
    clients.push(socket);
    socket.on('error', () => undefined);
    socket.write('x');
    closed.push(
      await new Promise<boolean>((resolve) => {
        socket.once('data', () => resolve(false));
        socket.once('close', () => resolve(true));
      }),
    );
  }
  return closed;
}

describe('LoadShedder', () => {
  let server: Server | undefined;
  const clients: Socket[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
  });

  const cases = [
    {
      name: 'an overloaded process closes connections beyond the limit and counts them',
      lateMs: 250,
      clients: 5,
      closed: [false, false, false, true, true],
    },
    {
      name: 'a loop busy since its last sample (an accept burst) sheds before the timer runs again',
      lateMs: 0,
      busyMs: 151,
      clients: 5,
      closed: [false, false, false, true, true],
    },
    {
      name: 'idle connections beyond the limit are all taken while the loop is on time',
      lateMs: 0,
      clients: 5,
      closed: [false, false, false, false, false],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      let clock = 0;
      let shed = 0;
      const shedder = new LoadShedder({
        maxOpening: 3,
        maxLagMs: 100,
        intervalMs: 50,
        onShed: () => shed++,
        now: () => clock,
      });
      clock = 50 + c.lateMs; // the first sample, due at 0 + 50 ms on the fixed clock
      shedder.tick();
      clock += c.busyMs ?? 0; // no sample since: interval (50) + maxLag (100) is 150 ms
      const l = await listener(shedder);
      server = l.server;
      expect(await openClients(l.port, c.clients, clients)).toEqual(c.closed);
      expect(shed).toBe(c.closed.filter(Boolean).length);
      expect(shedder.inProgress).toBe(l.accepted.length);
    });
  }

  it('frees a place when a handshake finishes or its connection closes', async () => {
    const clock = 1000; // every sample late
    let shed = 0;
    const shedder = new LoadShedder({
      maxOpening: 2,
      maxLagMs: 100,
      intervalMs: 50,
      onShed: () => shed++,
      now: () => clock,
    });
    shedder.tick();
    const l = await listener(shedder);
    server = l.server;
    expect(await openClients(l.port, 3, clients)).toEqual([false, false, true]);
    shedder.opened(l.accepted[0]!); // handshake done: a tunnel, not an opening connection
    clients[1]!.destroy(); // gave up during its handshake
    await once(l.accepted[1]!, 'close');
    expect(shedder.inProgress).toBe(0);
    expect(await openClients(l.port, 3, clients)).toEqual([false, false, true]);
    expect(shed).toBe(2);
    // A finished connection's close does not free a place twice.
    l.accepted[0]!.destroy();
    await once(l.accepted[0]!, 'close');
    expect(shedder.inProgress).toBe(2);
  });

  it('counts as overloaded from a late sample until the next sample on time', () => {
    let clock = 0;
    const shedder = new LoadShedder({ maxOpening: 1, maxLagMs: 100, intervalMs: 50, now: () => clock });
    const samples: boolean[] = [];
    for (const at of [50, 100, 251, 301, 452, 502]) {
      clock = at;
      shedder.tick();
      samples.push(shedder.overloaded);
    }
    expect(samples).toEqual([false, false, true, false, true, false]);
  });

  it('samples the lateness of its own timer', async () => {
    const shedder = new LoadShedder({ maxOpening: 0, maxLagMs: 100, intervalMs: 200 });
    shedder.start();
    try {
      expect(shedder.overloaded).toBe(false);
      const busyUntil = Date.now() + 450; // the event loop held up, as by a burst of handshakes
      while (Date.now() < busyUntil);
      // The interval, due long ago, runs in this timer phase before a timeout set now.
      await new Promise((r) => setTimeout(r, 0));
      expect(shedder.overloaded).toBe(true);
    } finally {
      shedder.stop();
    }
  });
});
