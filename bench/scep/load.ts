import { performance } from 'node:perf_hooks';
import type { PreparedRequest } from './client-material.js';
import { KeepAlivePoster } from './keep-alive-poster.js';

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

/**
 * POSTs every prepared request with `concurrency` workers, each on a keep-alive connection of its
 * own (keep-alive-poster.ts: lighter than node:http's client, so less of this 2-core machine's
 * CPU goes to the load generator; the same generator drives Outpost and scepserver); bounded:
 * each request is sent once. Each run opens its own connections: the (synchronous, seconds-long)
 * preparation of the next run's messages must not leave it holding sockets the server has
 * meanwhile closed as idle.
 */
export async function runLoad(
  url: string,
  requests: PreparedRequest[],
  concurrency: number,
): Promise<LoadResult> {
  const target = new URL(`${url}?operation=PKIOperation`);
  const posters = Array.from(
    { length: concurrency },
    () => new KeepAlivePoster(target, 'application/x-pki-message'),
  );
  const latencies: number[] = [];
  const responses: Array<Buffer | undefined> = new Array(requests.length);
  let next = 0;
  let httpErrors = 0;
  const httpErrorReasons: string[] = [];
  const httpFailure = (reason: string) => {
    httpErrors++;
    if (httpErrorReasons.length < 5) httpErrorReasons.push(reason);
  };
  const worker = async (poster: KeepAlivePoster) => {
    while (next < requests.length) {
      const index = next++;
      const started = performance.now();
      try {
        const res = await poster.post(requests[index]!.body);
        if (res.status === 200) responses[index] = res.body;
        else httpFailure(`HTTP ${res.status} ${res.body.toString('utf8', 0, 80).trim()}`);
      } catch (e) {
        httpFailure(`request failed: ${(e as Error).message}`);
      }
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(posters.map(worker));
  const seconds = (performance.now() - started) / 1000;
  for (const poster of posters) poster.close();
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
