import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { PreparedRequest } from './client-material.js';

export interface LoadResult {
  concurrency: number;
  requests: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Response bodies by request index (validated after the timed phase). */
  responses: Array<Buffer | undefined>;
  httpErrors: number;
  /** The first few HTTP-level failures. */
  httpErrorReasons: string[];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** One POST on a keep-alive agent; resolves with the status and body. */
function post(agent: Agent, url: URL, body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/x-pki-message', 'content-length': body.length };
    const req = request(url, { method: 'POST', agent, headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * POSTs every prepared request with `concurrency` workers; bounded: each request is sent once.
 * Each run gets its own keep-alive agent: the (synchronous, seconds-long) preparation of the next
 * run's messages must not leave it holding sockets the server has meanwhile closed as idle.
 */
export async function runLoad(
  url: string,
  requests: PreparedRequest[],
  concurrency: number,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(`${url}?operation=PKIOperation`);
  const latencies: number[] = [];
  const responses: Array<Buffer | undefined> = new Array(requests.length);
  let next = 0;
  let httpErrors = 0;
  const httpErrorReasons: string[] = [];
  const httpFailure = (reason: string) => {
    httpErrors++;
    if (httpErrorReasons.length < 5) httpErrorReasons.push(reason);
  };
  const worker = async () => {
    while (next < requests.length) {
      const index = next++;
      const started = performance.now();
      try {
        const res = await post(agent, target, requests[index]!.body);
        if (res.status === 200) responses[index] = res.body;
        else httpFailure(`HTTP ${res.status} ${res.body.toString('utf8', 0, 80).trim()}`);
      } catch (e) {
        httpFailure(`request failed: ${(e as Error).message}`);
      }
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    requests: requests.length,
    seconds,
    perSecond: requests.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    responses,
    httpErrors,
    httpErrorReasons,
  };
}
