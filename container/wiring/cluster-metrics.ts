import type { Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

const requestType = 'outpost:metrics?';
const replyType = 'outpost:metrics!';
const replyTimeoutMs = 2_000;

/**
 * The primary's registry for /metrics when SCEP runs in worker processes: its own metrics plus
 * each worker's, asked over the cluster IPC channel and merged with prom-client's aggregator
 * (counters summed; gauges as each declares). A worker that does not answer in time is left out
 * of that scrape rather than stalling it.
 */
export class ClusterRegistry extends Registry {
  private workers: () => Worker[] = () => [];

  /** From now on, scrapes include these workers' metrics. */
  attachWorkers(workers: () => Worker[]): void {
    this.workers = workers;
  }

  override async metrics(): Promise<string> {
    const own = await this.getMetricsAsJSON();
    const theirs = await Promise.all(this.workers().map(askWorker));
    const merged = AggregatorRegistry.aggregate([
      own,
      ...theirs.filter((m): m is MetricsJson => m !== undefined),
    ]);
    return merged.metrics();
  }
}

function askWorker(worker: Worker): Promise<MetricsJson | undefined> {
  return new Promise((resolve) => {
    const id = randomUUID();
    const onMessage = (message: { type?: string; id?: string; metrics?: MetricsJson }) => {
      if (message?.type !== replyType || message.id !== id) return;
      done(message.metrics);
    };
    const timer = setTimeout(() => done(undefined), replyTimeoutMs);
    const done = (metrics: MetricsJson | undefined) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(metrics);
    };
    worker.on('message', onMessage);
    try {
      worker.send({ type: requestType, id });
    } catch {
      done(undefined);
    }
  });
}

/** Worker side: answers the primary's metrics requests from this process's registry. */
export function answerMetricsRequests(registry: Registry): void {
  process.on('message', (message: { type?: string; id?: string }) => {
    if (message?.type !== requestType || !process.send) return;
    void registry
      .getMetricsAsJSON()
      .then((metrics) => process.send?.({ type: replyType, id: message.id, metrics }));
  });
}
