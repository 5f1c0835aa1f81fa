import { freemem, totalmem } from 'node:os';
import { Gauge, type Registry } from 'prom-client';
import { cpuTimes } from '../../link/health/health-collector.js';
import { packageVersion } from '../cli/package-version.js';

/** What the metrics read of the cloud link (LinkService.status()), when there is one. */
export interface LinkStatusSource {
  status(): { connected: boolean; latencyMs: number | null };
}

/**
 * The appliance-wide series Microsoft Tunnel's health checks look at, for the alert rules in
 * deploy/prometheus/alerts.yaml: host CPU and memory use, the version (a fleet where one appliance
 * runs an older one is "behind"), and the cloud link's state and latency. Each is read at scrape.
 */
export function registerApplianceMetrics(registry: Registry, link?: LinkStatusSource): void {
  let previous = cpuTimes();
  new Gauge({
    name: 'outpost_host_cpu_usage_ratio',
    help: 'Share of the host CPU time spent busy since the previous scrape (0..1)',
    registers: [registry],
    collect() {
      const now = cpuTimes();
      const total = now.total - previous.total;
      if (total > 0) this.set(Math.min(1, Math.max(0, (now.busy - previous.busy) / total)));
      previous = now;
    },
  });
  new Gauge({
    name: 'outpost_host_memory_usage_ratio',
    help: 'Share of the host memory in use (0..1)',
    registers: [registry],
    collect() {
      this.set(1 - freemem() / totalmem());
    },
  });
  new Gauge({
    name: 'outpost_build_info',
    help: 'The running Outpost version (always 1)',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version: packageVersion() }, 1);
  if (!link) return;
  new Gauge({
    name: 'outpost_link_connected',
    help: 'Whether the cloud link is connected (1) or not (0)',
    registers: [registry],
    collect() {
      this.set(link.status().connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'outpost_link_latency_seconds',
    help: 'Round trip of the last ping on the cloud link',
    registers: [registry],
    collect() {
      const ms = link.status().latencyMs;
      if (ms !== null) this.set(ms / 1000);
    },
  });
}
