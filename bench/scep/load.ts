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
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** POSTs every prepared request with `concurrency` workers; bounded: each request is sent once. */
export async function runLoad(
  url: string,
  requests: PreparedRequest[],
  concurrency: number,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const responses: Array<Buffer | undefined> = new Array(requests.length);
  let next = 0;
  let httpErrors = 0;
  const worker = async () => {
    while (next < requests.length) {
      const index = next++;
      const started = performance.now();
      try {
        const res = await fetch(`${url}?operation=PKIOperation`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-pki-message' },
          body: requests[index]!.body,
          signal: AbortSignal.timeout(30_000),
        });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.ok) responses[index] = body;
        else httpErrors++;
      } catch {
        httpErrors++;
      }
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
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
  };
}
