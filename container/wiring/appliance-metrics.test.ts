import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerApplianceMetrics } from './appliance-metrics.js';

describe('registerApplianceMetrics', () => {
  it('exposes host use, the version and, with a link, its state and latency', async () => {
    const registry = new Registry();
    let status = { connected: true, latencyMs: 42 as number | null };
    registerApplianceMetrics(registry, { status: () => status });
    const text = await registry.metrics();
    expect(text).toMatch(/^outpost_host_cpu_usage_ratio [01](\.\d+)?(e-\d+)?$/m);
    expect(text).toMatch(/^outpost_host_memory_usage_ratio 0\.\d+$/m);
    expect(text).toMatch(/^outpost_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
    expect(text).toMatch(/^outpost_link_connected 1$/m);
    expect(text).toMatch(/^outpost_link_latency_seconds 0\.042$/m);
    status = { connected: false, latencyMs: null };
    expect(await registry.metrics()).toMatch(/^outpost_link_connected 0$/m);
  });

  it('has no link series without a link', async () => {
    const registry = new Registry();
    registerApplianceMetrics(registry);
    expect(await registry.metrics()).not.toMatch(/outpost_link_/);
  });
});
