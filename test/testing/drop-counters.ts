import type { VpnTopology } from './netns.js';

/**
 * Every counter on the path of a tunnelled packet that says "dropped here", keyed by where:
 * `gateway/<reason>` (outpost_gateway_dropped_packets_total from the appliance's /metrics, both
 * channels together),
 * `<ns>/<ifname>` (rx+tx dropped and errors from `ip -s link`: TUNs, veths) and `<ns>/udp`
 * (/proc/net/snmp and snmp6: datagrams a UDP socket could not take or send).
 */
export type DropCounters = Record<string, number>;

export async function readDropCounters(topology: VpnTopology, namespaces: string[]): Promise<DropCounters> {
  const counters: DropCounters = {};
  const metrics = await topology.exec(topology.gw, 'curl', ['-sf', 'http://127.0.0.1:9090/metrics']);
  for (const m of metrics.stdout.matchAll(/^outpost_gateway_dropped_packets_total\{([^}]*)\} (\d+)/gm)) {
    const reason = /reason="([^"]+)"/.exec(m[1]!)?.[1];
    if (reason) counters[`gateway/${reason}`] = (counters[`gateway/${reason}`] ?? 0) + Number(m[2]);
  }
  for (const ns of namespaces) {
    const links = JSON.parse((await topology.exec(ns, 'ip', ['-j', '-s', 'link', 'show'])).stdout) as {
      ifname: string;
      stats64?: { rx: LinkStats; tx: LinkStats };
    }[];
    for (const link of links) {
      if (link.ifname === 'lo' || !link.stats64) continue;
      const { rx, tx } = link.stats64;
      counters[`${ns}/${link.ifname}`] = rx.dropped + rx.errors + tx.dropped + tx.errors;
    }
    const snmp = (await topology.exec(ns, 'cat', ['/proc/net/snmp', '/proc/net/snmp6'])).stdout;
    counters[`${ns}/udp`] =
      snmpField(snmp, 'Udp', 'InErrors') +
      snmpField(snmp, 'Udp', 'SndbufErrors') +
      snmp6Field(snmp, 'Udp6InErrors') +
      snmp6Field(snmp, 'Udp6SndbufErrors');
  }
  return counters;
}

interface LinkStats {
  dropped: number;
  errors: number;
}

/** What grew between two readings (keys that appeared count from zero). */
export function dropDelta(before: DropCounters, after: DropCounters): DropCounters {
  const delta: DropCounters = {};
  for (const [key, value] of Object.entries(after)) {
    const grown = value - (before[key] ?? 0);
    if (grown > 0) delta[key] = grown;
  }
  return delta;
}

/** /proc/net/snmp: a header line and a value line per protocol ("Udp: InDatagrams NoPorts …"). */
function snmpField(text: string, proto: string, field: string): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${proto}: `));
  if (lines.length < 2) return 0;
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  const i = names.indexOf(field);
  return i < 0 ? 0 : Number(values[i]);
}

/** /proc/net/snmp6: one "Name value" pair a line. */
function snmp6Field(text: string, field: string): number {
  const m = new RegExp(`^${field}\\s+(\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
