import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort, type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';

requirePeers('ss', 'pgrep');
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTP/1.1 keep-alive connection that has had one GetCACaps answered (so a worker holds it). */
async function keepAliveConnection(url: URL): Promise<Socket> {
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`GET ${url.pathname}?operation=GetCACaps HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    });
    let text = '';
    socket.on('data', function onData(d: Buffer) {
      text += d.toString('latin1');
      const headerEnd = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? Number.NaN);
      if (headerEnd >= 0 && text.length >= headerEnd + 4 + length) {
        socket.off('data', onData);
        expect(text.startsWith('HTTP/1.1 200')).toBe(true);
        resolve();
      }
    });
  });
  return socket;
}

/** The server process holding each client connection to `port`, by the client's local port (`ss -p`). */
async function serverPids(port: number): Promise<Map<number, number>> {
  const { stdout } = await run('ss', ['-tnpH', 'state', 'established', `sport = :${port}`]);
  const byClientPort = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const peer = /\s(\S+):(\d+)\s+users:/.exec(line);
    const pid = /pid=(\d+),/.exec(line);
    if (peer && pid) byClientPort.set(Number(peer[2]), Number(pid[1]));
  }
  return byClientPort;
}

/** Connections per worker pid (in `workers` order) among `sockets`, once all have reached a worker. */
async function spread(port: number, workers: number[], sockets: Socket[]): Promise<number[]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const pids = await serverPids(port);
    const owners = sockets.map((s) => pids.get(s.localPort!));
    if (owners.every((pid) => pid !== undefined && workers.includes(pid)))
      return workers.map((w) => owners.filter((pid) => pid === w).length);
    await sleep(50);
  }
  throw new Error('connections not all on a SCEP worker after 5 s');
}

/** Waits until the primary counts `n` open connections on its workers (its closes are reported). */
async function openCount(app: RunningAppliance, n: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
    if (new RegExp(`^outpost_scep_open_connections ${n}$`, 'm').test(text)) return;
    await sleep(50);
  }
  throw new Error(`the primary never counted ${n} open SCEP connections`);
}

// connector.scep.workers: 2. The primary accepts SCEP connections and hands each to the worker
// with the fewest open; node:cluster's round-robin (before) gave busy workers splits like 2/14,
// and gives a worker that lost its connections only every other new one (4 of the 8 below).
describe('SCEP connections balanced over two SCEP workers by open connections', () => {
  let app: RunningAppliance;
  let url: URL;
  let workers: number[];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    app = await startAppliance({ connector: { scep: { workers: 2 } } });
    url = new URL(app.scepUrl);
    const { stdout } = await run('pgrep', ['-P', String(app.pid)]);
    workers = stdout.trim().split('\n').map(Number);
    expect(workers).toHaveLength(2);
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await app?.stop();
  });

  it('16 keep-alive connections opened at once: 8 and 8', async () => {
    sockets.push(...(await Promise.all(Array.from({ length: 16 }, () => keepAliveConnection(url)))));
    expect(await spread(Number(url.port), workers, sockets)).toEqual([8, 8]);
    await openCount(app, 16);
  });

  it('after one worker lost its connections, the next 8 all go to it', async () => {
    const pids = await serverPids(Number(url.port));
    const first = sockets.filter((s) => pids.get(s.localPort!) === workers[0]);
    expect(first).toHaveLength(8);
    for (const s of first) {
      s.destroy();
      sockets.splice(sockets.indexOf(s), 1);
    }
    await openCount(app, 8);
    const fresh = await Promise.all(Array.from({ length: 8 }, () => keepAliveConnection(url)));
    sockets.push(...fresh);
    expect(await spread(Number(url.port), workers, fresh)).toEqual([8, 0]);
    expect(await spread(Number(url.port), workers, sockets)).toEqual([8, 8]);
    await openCount(app, 16);
  });

  it('closing every connection counts back to 0; readiness and GetCACert still work', async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await openCount(app, 0);
    expect((await fetch(`${app.adminUrl}/readyz`)).status).toBe(200);
    const res = await fetch(`${app.scepUrl}?operation=GetCACert`);
    expect(res.status).toBe(200);
  });

  it('a killed worker is replaced, and the replacement takes its share of a new burst', async () => {
    process.kill(workers[0]!, 'SIGKILL');
    let replaced: number[] = [];
    for (let attempt = 0; attempt < 200 && replaced.length !== 2; attempt++) {
      await sleep(50);
      const { stdout } = await run('pgrep', ['-P', String(app.pid)]).catch(() => ({ stdout: '' }));
      const pids = stdout.trim().split('\n').filter(Boolean).map(Number);
      const ready = (await fetch(`${app.adminUrl}/readyz`)).status === 200;
      if (ready && pids.length === 2 && !pids.includes(workers[0]!)) replaced = pids;
    }
    expect(replaced).toHaveLength(2);
    sockets.push(...(await Promise.all(Array.from({ length: 16 }, () => keepAliveConnection(url)))));
    expect(await spread(Number(url.port), replaced, sockets)).toEqual([8, 8]);
    await openCount(app, 16);
  });

  it('SIGHUP with a new listen address: the new port serves, balanced, and the old one is closed', async () => {
    for (const s of sockets.splice(0)) s.destroy();
    const port = await freePort();
    const tree = parse(readFileSync(app.configFile, 'utf8')) as { connector: { scep: { listen: string } } };
    tree.connector.scep.listen = `127.0.0.1:${port}`;
    writeFileSync(app.configFile, stringify(tree));
    app.signal('SIGHUP');
    expect(await app.waitForLog('configuration applied', 30_000), app.logs()).toBe(true);
    const moved = new URL(`http://127.0.0.1:${port}${url.pathname}`);
    const { stdout } = await run('pgrep', ['-P', String(app.pid)]);
    const fresh = stdout.trim().split('\n').map(Number);
    expect(fresh).toHaveLength(2);
    sockets.push(...(await Promise.all(Array.from({ length: 16 }, () => keepAliveConnection(moved)))));
    expect(await spread(port, fresh, sockets)).toEqual([8, 8]);
    await expect(keepAliveConnection(url)).rejects.toThrow(/ECONNREFUSED/);
  });
});
