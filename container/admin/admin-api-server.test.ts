import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
import { type AdminApiServer, startAdminApiServer } from './admin-api-server.js';

const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'outpost-api-'));
const started: AdminApiServer[] = [];
afterEach(async () => {
  for (const server of started.splice(0)) await server.close();
});

async function start(socket: string): Promise<AdminApiServer> {
  const server = await startAdminApiServer({
    endpoint: { socket },
    logger,
    routes: (app) => {
      app.get('/v1/ping', async () => ({ pong: true }));
    },
  });
  started.push(server);
  return server;
}

function ping(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/v1/ping' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A socket file whose process died without removing it (SIGKILL). */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
  ]);
  await new Promise((r) => child.stdout.once('data', r));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

describe('admin API server on a Unix socket', () => {
  it('listens on a 0600 socket and removes it on close', async () => {
    const path = join(dir, 'a.sock');
    const server = await start(path);
    expect(server.where).toBe(`unix:${path}`);
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    expect(await ping(path)).toBe('{"pong":true}');
    await started.pop()?.close();
    expect(existsSync(path)).toBe(false);
  });

  it('replaces a stale socket, refuses a live one, and never removes a non-socket', async () => {
    const path = join(dir, 'b.sock');
    await staleSocket(path);
    expect(lstatSync(path).isSocket()).toBe(true);
    await start(path);
    expect(await ping(path)).toBe('{"pong":true}');
    await expect(start(path)).rejects.toMatchObject({ code: ErrorCodes.conflict });
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'keep me');
    await expect(start(file)).rejects.toMatchObject({ code: ErrorCodes.config });
    expect(existsSync(file)).toBe(true);
  });
});

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
