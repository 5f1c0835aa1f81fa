import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AD_ACCOUNT_SCHEMA, UAC } from '../../test/testing/ad-schema.js';
import { type RunningAppliance, startAppliance } from '../../test/testing/appliance.js';
import { startCfssl } from '../../test/testing/cfssl.js';
import { startScepServer } from '../../test/testing/scepserver.js';
import { type FixtureUser, startSlapd } from '../../test/testing/slapd.js';

/** One connector setup the backends phase measures; `stop` also stops its peers. */
export interface BackendSetup {
  name: string;
  app: RunningAppliance;
  /** CN of request i (directory users for the enrichment setup). */
  cnOf?: (i: number) => string;
  stop(): Promise<void>;
}

type ConnectorTree = Record<string, unknown>;

/** Single-process connector (workers: 1), so the setups differ only in what they add. */
function connector(challenge: string, extra: ConnectorTree = {}): ConnectorTree {
  return {
    ca: { keyAlgorithm: 'rsa-2048' },
    ...extra,
    scep: {
      workers: 1,
      challenge: { static: challenge },
      limits: { ratePerClientPerMinute: 0, maxConcurrent: 1024 },
    },
  };
}

export async function builtinSetup(challenge: string): Promise<BackendSetup> {
  const app = await startAppliance({ log: { level: 'warn' }, connector: connector(challenge) });
  return { name: 'builtin', app, stop: () => app.stop() };
}

/**
 * The built-in CA with an LDAP lookup per enrollment: slapd over ldaps with an AD-like schema,
 * the user found by the CSR's CN (sAMAccountName), disabled flag checked, SID strong mapping
 * written both ways (extension + SAN URI).
 */
export async function directorySetup(challenge: string, users: number): Promise<BackendSetup> {
  const fixtureUsers: FixtureUser[] = Array.from({ length: users }, (_, i) => ({
    uid: `benchuser${i}`,
    givenName: 'Bench',
    sn: `User ${i}`,
    rid: 5000 + i,
    objectClasses: ['adLiteAccount'],
    attributes: { userAccountControl: String(UAC.normal) },
  }));
  const slapd = await startSlapd({
    tls: true,
    users: fixtureUsers,
    schemas: { 'ad-account.schema': AD_ACCOUNT_SCHEMA },
  });
  const secrets = mkdtempSync(join(tmpdir(), 'outpost-bench-ldap-'));
  writeFileSync(join(secrets, 'ldap-password'), `${slapd.bindPassword}\n`, { mode: 0o600 });
  const app = await startAppliance({
    log: { level: 'warn' },
    connector: connector(challenge, {
      profiles: {
        device: {
          directory: 'corp',
          lookupBy: 'sAMAccountName',
          lookupFrom: 'subjectCN',
          sidMapping: 'both',
        },
      },
    }),
    directories: {
      corp: {
        url: slapd.ldapsUrl!,
        ca: slapd.caFile!,
        bindDn: slapd.bindDn,
        bindPasswordFile: join(secrets, 'ldap-password'),
        baseDn: slapd.baseDn,
        schema: 'activeDirectory',
      },
    },
  });
  return {
    name: 'directory',
    app,
    cnOf: (i) => `benchuser${i % users}`,
    stop: async () => {
      await app.stop();
      await slapd.stop();
      rmSync(secrets, { recursive: true, force: true });
    },
  };
}

/** Outpost as RA in front of micromdm scepserver (no upstream challenge: Outpost checks the device's). */
export async function scepUpstreamSetup(challenge: string): Promise<BackendSetup> {
  const upstream = await startScepServer({ caKeyBits: 2048, challenge: null });
  const app = await startAppliance({
    log: { level: 'warn' },
    connector: connector(challenge, { ca: { type: 'scep-upstream', url: upstream.url, timeoutMs: 10_000 } }),
  });
  return {
    name: 'scep-upstream',
    app,
    stop: async () => {
      await app.stop();
      await upstream.stop();
    },
  };
}

/** Outpost in front of `cfssl serve` (its `client` profile). */
export async function cfsslSetup(challenge: string): Promise<BackendSetup> {
  const cfssl = await startCfssl();
  const app = await startAppliance({
    log: { level: 'warn' },
    connector: connector(challenge, {
      ca: { type: 'cfssl', url: cfssl.url, profile: 'client', timeoutMs: 10_000 },
    }),
  });
  return {
    name: 'cfssl',
    app,
    stop: async () => {
      await app.stop();
      await cfssl.stop();
    },
  };
}
