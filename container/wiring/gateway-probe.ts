import { Gauge, type Registry } from 'prom-client';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';

export interface ProbeResult {
  success: boolean;
  seconds: number;
}

/** One probe: any HTTP answer below 500 means the internal network is reachable from here. */
export async function probeOnce(
  url: string,
  fetchFn: typeof fetch = fetch,
  timeoutMs = 10_000,
): Promise<ProbeResult> {
  const started = performance.now();
  try {
    const response = await fetchFn(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { success: response.status < 500, seconds: (performance.now() - started) / 1000 };
  } catch {
    return { success: false, seconds: (performance.now() - started) / 1000 };
  }
}

/**
 * Microsoft Tunnel's internal network access check: fetches `gateway.probe.url` every
 * `intervalSeconds` and publishes the outcome for the alert rules (deploy/prometheus/alerts.yaml).
 */
export function startInternalProbe(
  config: OutpostConfig,
  registry: Registry,
  shutdown: ShutdownManager,
  fetchFn: typeof fetch = fetch,
): void {
  const { url, intervalSeconds } = config.gateway.probe;
  if (url === null) return;
  const success = new Gauge({
    name: 'outpost_gateway_probe_success',
    help: 'Whether the internal probe URL (gateway.probe.url) answered at the last try (1) or not (0)',
    registers: [registry],
  });
  const duration = new Gauge({
    name: 'outpost_gateway_probe_duration_seconds',
    help: 'How long the last internal probe took',
    registers: [registry],
  });
  const tick = async () => {
    const result = await probeOnce(url, fetchFn);
    success.set(result.success ? 1 : 0);
    duration.set(result.seconds);
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalSeconds * 1000).unref();
  shutdown.register('gateway internal probe', () => clearInterval(timer));
}
