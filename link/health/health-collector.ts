import { statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { Logger } from 'pino';
import type { HealthReport, HealthSource, RoleHealth } from '../ports.js';

export interface ProbeConfig {
  url: string;
  timeoutMs: number;
}

export interface HealthCollectorOptions {
  dataDir: string;
  version: string;
  probe?: ProbeConfig;
  /** Last ping round trip of the link, null before the first pong. */
  latencyMs: () => number | null;
  /** notAfter of the agent certificate, null if it cannot be read. */
  agentCertExpiry: () => Date | null;
  logger: Logger;
}

type CpuTimes = { busy: number; total: number };

export function cpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    const sum = t.user + t.nice + t.sys + t.idle + t.irq;
    busy += sum - t.idle;
    total += sum;
  }
  return { busy, total };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * The health report (modelled on Microsoft Tunnel's server health checks): what link/ can measure
 * itself — CPU, memory, disk of the data directory, link latency, agent certificate expiry, the
 * internal network probe, version — plus what each role's HealthSource answers. A source that fails
 * leaves its checks null rather than failing the report.
 */
export class HealthCollector {
  private readonly sources: HealthSource[] = [];
  private lastCpu: CpuTimes = cpuTimes();

  constructor(private readonly options: HealthCollectorOptions) {}

  register(source: HealthSource): void {
    this.sources.push(source);
  }

  async collect(): Promise<HealthReport> {
    const [disk, internalProbe, roles] = await Promise.all([this.disk(), this.probe(), this.roleHealth()]);
    const agentExpiry = this.options.agentCertExpiry();
    return {
      cpu: this.cpu(),
      memory: {
        usedBytes: totalmem() - freemem(),
        totalBytes: totalmem(),
        rssBytes: process.memoryUsage.rss(),
      },
      disk,
      linkLatencyMs: this.options.latencyMs(),
      tlsCertExpiry: roles.tlsCertExpiry ?? null,
      agentCertExpiry: agentExpiry ? agentExpiry.toISOString() : null,
      sessions: roles.sessions ?? null,
      throughput: roles.throughput ?? null,
      internalProbe,
      caReachable: roles.caReachable ?? null,
      version: this.options.version,
    };
  }

  /** Busy share of all cores since the previous report (system-wide, not only this process). */
  private cpu(): HealthReport['cpu'] {
    const now = cpuTimes();
    const total = now.total - this.lastCpu.total;
    const busy = now.busy - this.lastCpu.busy;
    this.lastCpu = now;
    return {
      usagePercent: total > 0 ? clamp(Math.round((busy / total) * 1000) / 10, 0, 100) : 0,
      loadAverage1m: Math.max(0, loadavg()[0] ?? 0),
      cores: Math.max(1, cpus().length),
    };
  }

  private async disk(): Promise<HealthReport['disk']> {
    const path = this.options.dataDir;
    try {
      const s = await statfs(path);
      return { path, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch {
      return { path, freeBytes: 0, totalBytes: 0 };
    }
  }

  /** GET of the configured internal URL: any HTTP answer below 500 means the network path works. */
  private async probe(): Promise<HealthReport['internalProbe']> {
    const probe = this.options.probe;
    if (!probe) return null;
    const started = performance.now();
    try {
      const res = await fetch(probe.url, {
        signal: AbortSignal.timeout(probe.timeoutMs),
        redirect: 'manual',
      });
      await res.body?.cancel();
      const ms = Math.round(performance.now() - started);
      return res.status < 500
        ? { url: probe.url, ok: true, ms }
        : { url: probe.url, ok: false, ms, error: `HTTP ${res.status}` };
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      const name = (e as Error).name === 'TimeoutError' ? 'timed out' : (cause ?? 'unreachable');
      return { url: probe.url, ok: false, ms: null, error: name };
    }
  }

  private async roleHealth(): Promise<RoleHealth> {
    const merged: RoleHealth = {};
    const parts = await Promise.allSettled(this.sources.map((s) => s.collect()));
    parts.forEach((part, i) => {
      if (part.status === 'fulfilled') Object.assign(merged, part.value);
      else
        this.options.logger.warn({ source: this.sources[i]?.name, err: part.reason }, 'health source failed');
    });
    return merged;
  }
}
