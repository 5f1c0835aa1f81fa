import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { backendHttp } from './backend-http.js';

describe('backendHttp', () => {
  let server: Server;
  let base: string;
  const hung = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/hang') {
          hung.add(req.socket);
          return;
        }
        if (req.url === '/slow-body') {
          res.write('partial');
          hung.add(req.socket);
          return;
        }
        if (req.url === '/big') return res.end(Buffer.alloc(5000));
        res.statusCode = req.url === '/teapot' ? 418 : 200;
        res.end(Buffer.concat([Buffer.from(`${req.method} `), ...chunks]));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of hung) s.destroy();
    await new Promise((r) => server.close(r));
  });

  const call = (path: string, o: { body?: Buffer; timeoutMs?: number; max?: number } = {}) =>
    backendHttp('the test CA', {
      url: new URL(path, base),
      method: o.body ? 'POST' : 'GET',
      ...(o.body ? { body: o.body } : {}),
      timeoutMs: o.timeoutMs ?? 2000,
      maxResponseBytes: o.max ?? 1000,
    });

  async function failure(work: Promise<unknown>): Promise<OutpostError> {
    const e = await work.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OutpostError);
    return e as OutpostError;
  }

  it('returns status and body, whatever the status', async () => {
    const ok = await call('/x', { body: Buffer.from('hello') });
    expect([ok.status, ok.body.toString()]).toEqual([200, 'POST hello']);
    expect((await call('/teapot')).status).toBe(418);
  });

  it.each([
    ['no answer at all', '/hang', 'no complete answer within 200 ms'],
    ['a body that never ends', '/slow-body', 'no complete answer within 200 ms'],
    ['an answer over the size limit', '/big', 'answer larger than 1000 bytes'],
  ])('%s is unavailable', async (_name, path, detail) => {
    const e = await failure(call(path, { timeoutMs: 200 }));
    expect(e.code).toBe(ErrorCodes.unavailable);
    expect(e.clientMessage).toBe('the test CA is unavailable, try again later');
    expect(e.message).toContain(detail);
  });

  it('a refused connection is unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const e = await failure(
      backendHttp('the test CA', {
        url: new URL(`http://127.0.0.1:${port}/`),
        method: 'GET',
        timeoutMs: 2000,
        maxResponseBytes: 10,
      }),
    );
    expect(e.code).toBe(ErrorCodes.unavailable);
    expect(e.message).toContain('ECONNREFUSED');
  });
});
