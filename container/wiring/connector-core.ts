import { join } from 'node:path';
import type { Logger } from 'pino';
import { BuiltinCa } from '../../connector/ca/builtin/builtin-ca.js';
import { OcspSignerKeeper } from '../../connector/ca/builtin/ocsp-signer.js';
import type { CaBackend } from '../../connector/ca/ca-backend.js';
import type { KeyStore } from '../../connector/ca/keys/key-store.js';
import type { AuthorityEvents } from '../../connector/issuance/admission.js';
import { Authority } from '../../connector/issuance/authority.js';
import { ChallengeVerifier } from '../../connector/issuance/challenge/challenge-verifier.js';
import { JwsChallengeVerifier } from '../../connector/issuance/challenge/jws-challenge.js';
import { openProfileEnrichment } from '../../connector/issuance/enrichment/open-enrichment.js';
import type { ChallengeStore, Inventory, PendingStore } from '../../connector/ports.js';
import { OcspResponder } from '../../connector/revocation/ocsp-responder.js';
import { Revocation } from '../../connector/revocation/revocation.js';
import { crlPath } from '../../connector/scep/http/crl-route.js';
import { ocspPath } from '../../connector/scep/http/ocsp-route.js';
import { LdapDirectory } from '../../directory/ldap-directory.js';
import { directoryConfigFromEntry } from '../../directory/ldap-directory-config.js';
import type { OutpostConfig } from '../config/schema.js';
import { openCaBackend } from './ca-backend-factory.js';
import { loadChallengeJwks } from './challenge-jwks.js';
import { type ConnectorState, openConnectorState } from './connector-state.js';
import { openKeyStore } from './key-store-factory.js';
import { profilePolicies } from './profiles.js';

/** Everything the connector role is made of, short of its network listener. */
export interface ConnectorCore {
  /** The state behind the ports: SQLite in the data directory, or the site's PostgreSQL. */
  state: ConnectorState;
  inventory: Inventory;
  challengeStore: ChallengeStore;
  pending: PendingStore;
  /** The built-in CA: issuer of the SCEP RA certificate (CertReps are always signed here) and of the gateway's certificate. */
  ca: BuiltinCa;
  /** The CA that issues and revokes device certificates (connector.ca.type); `ca` itself for builtin. */
  backend: CaBackend;
  challenges: ChallengeVerifier;
  authority: Authority;
  /** Revokes in the inventory and at `backend` (CLI and `cert.revoke` jobs). */
  revocation: Revocation;
  /** The built-in CA's OCSP responder; absent when connector.ca.ocsp.enabled is false. */
  ocsp?: OcspResponder;
  close(): void;
}

export function caDirectory(config: OutpostConfig): string {
  return join(config.dataDir, 'ca');
}

/** Options of the built-in CA from config; shared by `run` and the `ca …` verbs. */
export function builtinCaOptions(
  config: OutpostConfig,
  state: Pick<ConnectorState, 'inventory' | 'sharedCrls'>,
  keyStore: KeyStore,
) {
  const { ca, scep } = config.connector;
  return {
    dir: caDirectory(config),
    keyStore,
    keyAlgorithm: ca.keyAlgorithm,
    caSubject: ca.subject,
    crlValidityHours: ca.crlValidityHours,
    crlUrl: `${scep.publicUrl}${crlPath}`,
    ...(ca.ocsp.enabled ? { ocspUrl: `${scep.publicUrl}${ocspPath}` } : {}),
    inventory: state.inventory,
    ...(state.sharedCrls ? { sharedCrls: state.sharedCrls } : {}),
  };
}

/**
 * Opens the database, the CA (creating it on first start), the challenge verifiers and the
 * authority. Used by `outpost run` and by the CLI verbs, which run in their own process against
 * the same data directory (SQLite WAL makes that safe).
 */
export async function openConnectorCore(
  config: OutpostConfig,
  logger: Logger,
  events?: AuthorityEvents,
): Promise<ConnectorCore> {
  const state = await openConnectorState(config, logger);
  const directories: LdapDirectory[] = [];
  let keyStore: KeyStore | undefined;
  try {
    const { inventory, challengeStore, pending } = state;
    keyStore = await openKeyStore(config, caDirectory(config));
    const ca = await BuiltinCa.open(builtinCaOptions(config, state, keyStore));
    const ocsp = config.connector.ca.ocsp.enabled
      ? await openOcspResponder(config, ca, inventory, logger)
      : undefined;
    const backend = await openCaBackend(config, ca);
    const clock = () => new Date();
    const { challenge } = config.connector.scep;
    const jwks = challenge.jwks ? await loadChallengeJwks(challenge.jwks) : undefined;
    const challenges = new ChallengeVerifier({
      staticChallenge: challenge.static,
      oneTime: challenge.oneTime,
      store: challengeStore,
      clock,
      ...(jwks ? { jws: new JwsChallengeVerifier({ jwks, store: challengeStore, clock }) } : {}),
    });
    // Profiles bound to a directory: each process (cluster worker, CLI verb) opens its own connection.
    const opened = await openProfileEnrichment(config.connector.profiles, (name) =>
      LdapDirectory.open(directoryConfigFromEntry(config.directories[name]!)),
    );
    directories.push(...opened.directories);
    const authority = new Authority({
      backend,
      inventory,
      pending,
      challenges,
      profiles: profilePolicies(config),
      defaultProfile: config.connector.defaultProfile,
      clock,
      ...(events ? { events } : {}),
      ...(opened.enrichment ? { enrichment: opened.enrichment } : {}),
    });
    logger.debug({ component: 'connector', dataDir: config.dataDir }, 'connector core open');
    return {
      state,
      inventory,
      challengeStore,
      pending,
      ca,
      backend,
      challenges,
      authority,
      revocation: new Revocation({ backend, inventory, clock }),
      ...(ocsp ? { ocsp } : {}),
      close: () => {
        void state.close();
        ca.close();
        for (const d of directories) void d.close();
      },
    };
  } catch (e) {
    await state.close();
    keyStore?.close();
    for (const d of directories) void d.close();
    throw e;
  }
}

/**
 * The OCSP responder over the built-in CA: its delegated signer is made on first start (the
 * cluster primary opens the core before any worker, so workers load it) and renewed lazily.
 */
async function openOcspResponder(
  config: OutpostConfig,
  ca: BuiltinCa,
  inventory: Inventory,
  logger: Logger,
): Promise<OcspResponder> {
  const signing = await OcspSignerKeeper.open({
    store: ca.keyStore,
    ca: { cert: ca.caCertificate, signer: ca.caSigner },
    hash: 'sha256',
    onRenewalError: (err) =>
      logger.error({ err }, 'OCSP signing certificate renewal failed; the current one is used'),
  });
  return new OcspResponder({
    issuer: { subjectDer: ca.caCertificate.subject.der, spkiDer: ca.caCertificate.spkiDer },
    inventory,
    signing,
    validityMs: config.connector.ca.ocsp.validityMinutes * 60_000,
  });
}

/** How long a core replaced by a reconfiguration stays open for the work already running on it. */
export const RETIRED_CORE_GRACE_MS = 120_000;

/**
 * Closes a core that a reconfiguration replaced, once the work that started on it (a link job
 * half-way through a revocation, a SCEP request) had time to finish: closing at once would fail
 * those with "database connection is not open". SQLite (WAL) is fine with both open meanwhile.
 */
export function retireCore(core: ConnectorCore, graceMs = RETIRED_CORE_GRACE_MS): void {
  const timer = setTimeout(() => core.close(), graceMs);
  timer.unref();
}
