import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requirePeers } from './testing/peers.js';
import { run } from './testing/run.js';

requirePeers('promtool');

/** The operator's monitoring bundle (deploy/): checked with Debian's prometheus package. */
const repo = resolve(import.meta.dirname, '..');
const deploy = join(repo, 'deploy');

/** Every metric name the code registers (`name: 'outpost_…'` or a helper's first argument). */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.test.ts'))
        for (const m of readFileSync(path, 'utf8').matchAll(/'(outpost_[a-z0-9_]+)'/g)) names.add(m[1]!);
    }
  };
  for (const dir of ['container', 'gateway', 'connector', 'link']) walk(join(repo, dir));
  return names;
}

/** Series a histogram adds to its name. */
const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

describe('deploy/prometheus and deploy/grafana', () => {
  it('promtool check rules: the alert rules are valid', async () => {
    const result = await run('promtool', ['check', 'rules', join(deploy, 'prometheus', 'alerts.yaml')]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('promtool check config: the compose profile’s Prometheus config is valid', async () => {
    const result = await run('promtool', ['check', 'config', join(deploy, 'prometheus', 'prometheus.yml')]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('promtool test rules: each alert fires from sample series, and its healthy neighbour does not', async () => {
    const result = await run('promtool', ['test', 'rules', 'alerts.test.yaml'], {
      cwd: join(deploy, 'prometheus'),
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const tested = new Set(
      [
        ...readFileSync(join(deploy, 'prometheus', 'alerts.test.yaml'), 'utf8').matchAll(/alertname: (\w+)/g),
      ].map((m) => m[1]),
    );
    const defined = [
      ...readFileSync(join(deploy, 'prometheus', 'alerts.yaml'), 'utf8').matchAll(/- alert: (\w+)/g),
    ].map((m) => m[1]);
    expect(defined.filter((name) => !tested.has(name))).toEqual([]);
  });

  it('the rules and the dashboard use only metrics Outpost serves', () => {
    const registered = registeredMetrics();
    const dashboard = readFileSync(join(deploy, 'grafana', 'outpost.json'), 'utf8');
    JSON.parse(dashboard);
    const rules = readFileSync(join(deploy, 'prometheus', 'alerts.yaml'), 'utf8');
    const used = new Set(
      [...`${rules}\n${dashboard}`.matchAll(/\b(outpost_[a-z0-9_]+)/g)].map((m) => base(m[1]!)),
    );
    expect([...used].filter((name) => !registered.has(name))).toEqual([]);
  });
});
