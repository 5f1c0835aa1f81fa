import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayAppliance } from './gateway-appliance.js';
import type { VpnTopology } from './netns.js';

/** Enrolls a device certificate with micromdm scepclient from the dev namespace over our SCEP. */
export async function enrollDevice(
  topology: VpnTopology,
  app: GatewayAppliance,
  cn: string,
): Promise<{ certFile: string; keyFile: string }> {
  const minted = await app.cli(['scep', 'challenge', '--ttl', '600']);
  const challenge = minted.stdout.trim();
  if (minted.code !== 0 || challenge === '') {
    throw new Error(`outpost scep challenge failed (exit ${minted.code}): ${minted.stderr}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'outpost-dev-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await topology.exec(topology.dev, 'scepclient', [
    '-server-url',
    app.scepUrl,
    '-private-key',
    keyFile,
    '-certificate',
    certFile,
    '-cn',
    cn,
    '-ou',
    'Devices',
    '-challenge',
    challenge,
  ]);
  return { certFile, keyFile };
}
