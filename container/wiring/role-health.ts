import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaBackend } from '../../connector/ca/ca-backend.js';
import type { HealthSource } from '../../link/ports.js';
import type { OutpostConfig } from '../config/schema.js';
import { configuredTlsFiles, readConfiguredTls } from './gateway-tls.js';

interface SessionTraffic {
  bytesIn: number;
  bytesOut: number;
}

/**
 * The gateway's part of the health report (Microsoft Tunnel's checks): live sessions, throughput
 * since the previous report, and the expiry of the TLS certificate clients see (the configured
 * files, or the one the built-in CA issued into DATA/gateway).
 */
export function gatewayHealthSource(
  config: OutpostConfig,
  sessions: { readonly size: number; list(): SessionTraffic[] },
  clock: () => number = Date.now,
): HealthSource {
  let previous = {
    at: clock(),
    rx: total(sessions.list(), 'bytesIn'),
    tx: total(sessions.list(), 'bytesOut'),
  };
  return {
    name: 'gateway',
    async collect() {
      const list = sessions.list();
      const now = { at: clock(), rx: total(list, 'bytesIn'), tx: total(list, 'bytesOut') };
      const seconds = Math.max((now.at - previous.at) / 1000, 0.001);
      // Live sessions only: bytes of a session that ended since the last report drop out of the
      // sum, so a negative difference means "ended sessions", not negative traffic.
      const throughput = {
        rxBytesPerSecond: Math.max(0, (now.rx - previous.rx) / seconds),
        txBytesPerSecond: Math.max(0, (now.tx - previous.tx) / seconds),
      };
      previous = now;
      return { sessions: sessions.size, throughput, tlsCertExpiry: await tlsExpiry(config) };
    },
  };
}

function total(list: SessionTraffic[], key: keyof SessionTraffic): number {
  return list.reduce((sum, s) => sum + s[key], 0);
}

async function tlsExpiry(config: OutpostConfig): Promise<string | null> {
  const expiry = await servedTlsExpiry(config);
  return expiry === null ? null : expiry.toISOString();
}

/** When the certificate the gateway serves expires: the configured one, or the built-in CA's. */
export async function servedTlsExpiry(config: OutpostConfig): Promise<Date | null> {
  try {
    const files = configuredTlsFiles(config);
    const pem = files
      ? (await readConfiguredTls(files)).cert
      : await readFile(join(config.dataDir, 'gateway', 'tls.pem'));
    return new Date(new X509Certificate(pem).validTo);
  } catch {
    return null;
  }
}

/** The connector's part: can the CA that issues (built-in, cfssl, upstream SCEP) be reached now? */
export function connectorHealthSource(
  backend: () => Pick<CaBackend, 'health'>,
  stateOk: () => Promise<boolean>,
): HealthSource {
  return {
    name: 'connector',
    async collect() {
      const health = backend().health;
      if (!health) return { caReachable: await stateOk() };
      const state = await health.call(backend()).catch(() => ({ ok: false }));
      return { caReachable: state.ok };
    },
  };
}
