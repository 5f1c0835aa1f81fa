import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { Readiness } from '../admin/readiness.js';
import { loadConfig } from '../config/load-config.js';
import { ShutdownManager } from '../shutdown.js';
import { startGatewayOrReport } from './appliance.js';
import { ClusterRegistry } from './cluster-metrics.js';

describe('startGatewayOrReport: a gateway that cannot start never takes the connector with it', () => {
  it.each([
    [
      'the host is not ready (config)',
      new OutpostError(ErrorCodes.config, 'the host is not ready for the VPN gateway', { detail: 'no TUN' }),
      'OUTPOST_ERR_CONFIG',
      'the host is not ready for the VPN gateway: no TUN',
    ],
    [
      // What the image without iproute2 did: the whole process exited 1, connector included.
      'a tool is missing (internal)',
      new OutpostError(
        ErrorCodes.internal,
        'ip link set dev outpost0 mtu 1472: ip not found (install iproute2)',
      ),
      'OUTPOST_ERR_INTERNAL',
      'ip link set dev outpost0 mtu 1472: ip not found (install iproute2)',
    ],
    [
      'anything else (the port is taken)',
      new Error('listen EADDRINUSE: 0.0.0.0:443'),
      'OUTPOST_ERR_INTERNAL',
      'listen EADDRINUSE: 0.0.0.0:443',
    ],
  ])('%s: logged, shown in /readyz, no throw', async (_name, error, code, reason) => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const readiness = new Readiness();
    const shutdown = new ShutdownManager({ logger });
    const handle = await startGatewayOrReport(
      loadConfig({ env: { OUTPOST__roles: '[connector, gateway]' } }),
      logger,
      new ClusterRegistry(),
      readiness,
      shutdown,
      async () => {
        throw error;
      },
    );
    expect(handle).toBeUndefined();
    const report = await readiness.run();
    expect(report.ready).toBe(false);
    expect(report.checks.gateway).toEqual({ ok: false, detail: `not started: ${reason} (${code})` });
    expect(lines).toContainEqual(expect.objectContaining({ level: 50, component: 'gateway', code, reason }));
  });
});
