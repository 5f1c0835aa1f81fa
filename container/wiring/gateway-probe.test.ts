import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeOnce } from './gateway-probe.js';

describe('probeOnce: the internal network access check', () => {
  let base = '';
  const server = createServer((request, response) => {
    const status = Number(request.url?.slice(1)) || 200;
    if (request.url === '/hang') return; // never answers
    response.writeHead(status, status === 302 ? { location: 'http://192.0.2.1/' } : {}).end('x');
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it.each([
    ['200', '/200', true],
    ['a redirect (not followed)', '/302', true],
    ['401 (reachable, just protected)', '/401', true],
    ['503', '/503', false],
  ])('%s', async (_name, path, success) => {
    expect((await probeOnce(`${base}${path}`)).success).toBe(success);
  });

  it('fails on no answer within the time limit, and on a refused connection', async () => {
    expect(await probeOnce(`${base}/hang`, fetch, 200)).toMatchObject({ success: false });
    expect(await probeOnce('http://127.0.0.1:1/')).toMatchObject({ success: false });
  });
});
