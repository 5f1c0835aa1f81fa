import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HandshakeAdmission, type HandshakeAdmissionOptions } from './handshake-admission.js';

/**
 * A loopback listener that runs every accepted socket through the admission, as GatewayServer
 * does; a started socket echoes (its "handshake"). `arrived` counts accepts, started or not.
 */
async function listener(admission: HandshakeAdmission) {
  const started: Socket[] = [];
  const all: Socket[] = [];
  const server = createServer((socket) => {
    l.arrived++;
    all.push(socket);
    admission.accept(socket, (s) => {
      started.push(s);
      s.on('data', (d) => s.write(d));
      s.on('error', () => undefined);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const l = { server, started, all, arrived: 0, port: (server.address() as AddressInfo).port };
  return l;
}

/** A client that sends one byte; `answered` resolves true on its echo, false on its close. */
function client(
  port: number,
  clients: Socket[],
  send = true,
): { socket: Socket; answered: Promise<boolean> } {
  const socket = connect(port, '127.0.0.1');
  clients.push(socket);
  socket.on('error', () => undefined);
  if (send) socket.write('x');
  const answered = new Promise<boolean>((resolve) => {
    socket.once('data', () => resolve(true));
    socket.once('close', () => resolve(false));
  });
  return { socket, answered };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}

describe('HandshakeAdmission', () => {
  let server: Server | undefined;
  const clients: Socket[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
  });

  /** An admission on a fixed clock whose first sample ran at 50 ms (due at 50) plus `lateMs`. */
  function fixed(
    o: Partial<Omit<HandshakeAdmissionOptions, 'utilization'>> & { lateMs?: number; loop?: number },
  ) {
    const state = { clock: 0, utilization: o.loop ?? 0, shed: 0 };
    const admission = new HandshakeAdmission({
      maxOpening: 3,
      maxLagMs: 100,
      busyUtilization: 0.9,
      intervalMs: 50,
      maxWaiting: 100,
      maxWaitMs: 30_000,
      onShed: () => state.shed++,
      now: () => state.clock,
      utilization: () => state.utilization,
      ...o,
    });
    state.clock = 50 + (o.lateMs ?? 0);
    admission.tick();
    return { admission, state };
  }

  const cases = [
    { name: 'a process late by its last sample', lateMs: 250, busyMs: 0, loop: 0, waiting: 2 },
    {
      name: 'a loop busy since its last sample (an accept burst)',
      lateMs: 0,
      busyMs: 151,
      loop: 0,
      waiting: 2,
    },
    { name: 'a loop without idle time', lateMs: 0, busyMs: 0, loop: 0.95, waiting: 2 },
    { name: 'a loop with time to spare (idle connections)', lateMs: 0, busyMs: 0, loop: 0.5, waiting: 0 },
  ];
  for (const c of cases) {
    it(`${c.name}: connections beyond the limit wait ${c.waiting ? '' : '(none)'}in accept order, none is shed`, async () => {
      const { admission, state } = fixed(c);
      state.clock += c.busyMs; // no sample since: interval (50) + maxLag (100) is 150 ms
      const l = await listener(admission);
      server = l.server;
      const opened = [];
      for (let i = 0; i < 5; i++) {
        opened.push(client(l.port, clients));
        await until(() => l.arrived === i + 1);
      }
      await Promise.all(opened.slice(0, 5 - c.waiting).map((o) => o.answered));
      expect(admission.inProgress).toBe(5 - c.waiting);
      expect(admission.waitingCount).toBe(c.waiting);
      if (c.waiting > 0) {
        // A handshake finishes: the first waiting connection starts (its byte comes back).
        admission.opened(l.started[0]!);
        expect(await opened[3]!.answered).toBe(true);
        expect(admission.waitingCount).toBe(1);
        // One gives up in its handshake: the next starts.
        l.started[1]!.destroy();
        expect(await opened[4]!.answered).toBe(true);
        expect(admission.waitingCount).toBe(0);
      }
      expect(state.shed).toBe(0);
      expect(l.started.length).toBe(5);
    });
  }

  it('sheds a connection that waited too long, or one beyond the waiting room, and counts each', async () => {
    const { admission, state } = fixed({ lateMs: 250, maxOpening: 1, maxWaiting: 2, maxWaitMs: 1000 });
    const l = await listener(admission);
    server = l.server;
    const opened = [];
    for (let i = 0; i < 4; i++) {
      opened.push(client(l.port, clients));
      await until(() => l.arrived === i + 1);
    }
    expect(await opened[3]!.answered).toBe(false); // the waiting room (2) was full
    expect(state.shed).toBe(1);
    state.clock += 500;
    admission.tick(); // a late sample: still busy, and nobody has waited 1000 ms yet
    expect(admission.waitingCount).toBe(2);
    state.clock += 600;
    state.utilization = 1;
    admission.tick();
    expect(await opened[1]!.answered).toBe(false);
    expect(await opened[2]!.answered).toBe(false);
    expect(state.shed).toBe(3);
    expect(admission.waitingCount).toBe(0);
    expect(l.started.length).toBe(1);
  });

  it('skips a waiting connection whose client gave up, and starts waiting ones once the loop has time', async () => {
    const { admission, state } = fixed({ lateMs: 250, maxOpening: 1 });
    const l = await listener(admission);
    server = l.server;
    const opened = [];
    for (let i = 0; i < 3; i++) {
      opened.push(client(l.port, clients, i !== 1));
      await until(() => l.arrived === i + 1);
    }
    opened[1]!.socket.destroy(); // sent nothing: its server side sees the end and closes
    expect(await opened[1]!.answered).toBe(false);
    if (!l.all[1]!.destroyed) await once(l.all[1]!, 'close');
    state.clock += 50;
    admission.tick(); // on time and idle: room for everyone
    expect(await opened[2]!.answered).toBe(true);
    expect(l.started.length).toBe(2);
    expect(state.shed).toBe(0);
  });

  it('counts as busy from a late sample until the next sample on time', () => {
    let clock = 0;
    const admission = new HandshakeAdmission({
      maxOpening: 1,
      maxLagMs: 100,
      busyUtilization: 0.9,
      intervalMs: 50,
      maxWaiting: 1,
      maxWaitMs: 1000,
      now: () => clock,
      utilization: () => 0,
    });
    const samples: boolean[] = [];
    for (const at of [50, 100, 251, 301, 452, 502]) {
      clock = at;
      admission.tick();
      samples.push(admission.overloaded);
    }
    expect(samples).toEqual([false, false, true, false, true, false]);
  });

  it('samples its own timer and the event loop', async () => {
    const admission = new HandshakeAdmission({
      maxOpening: 0,
      maxLagMs: 100,
      busyUtilization: 0.9,
      intervalMs: 200,
      maxWaiting: 1,
      maxWaitMs: 1000,
    });
    admission.start();
    try {
      expect(admission.overloaded).toBe(false);
      const busyUntil = Date.now() + 450; // the event loop held up, as by a burst of handshakes
      while (Date.now() < busyUntil);
      // The interval, due long ago, runs in this timer phase before a timeout set now.
      await new Promise((r) => setTimeout(r, 0));
      expect(admission.overloaded).toBe(true);
    } finally {
      admission.stop();
    }
  });
});
