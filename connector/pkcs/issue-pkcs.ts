import { createPublicKey, type KeyObject } from 'node:crypto';
import { type ParsedCertificate, parseCertificate } from '../../certs/certificate.js';
import { buildCsr, parseCsr, type SubjectAltNames } from '../../certs/csr.js';
import { generateKeyPair, type KeyAlgorithm, keysMatch } from '../../certs/keys.js';
import type { Pkcs12Protection } from '../../certs/pkcs12/write-pkcs12.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Authority } from '../issuance/authority.js';
import type { SanKind } from '../issuance/profile-policy.js';
import type { Inventory, InventoryRecord } from '../ports.js';
import { parseDevicePublicKey } from './device-key.js';
import type { KeySealer } from './key-sealer.js';
import type { JobCheckpoints } from './ports.js';
import { type DevicePackage, wrapForDevice } from './wrap-for-device.js';

export interface PkcsIssueDeps {
  authority: Pick<Authority, 'issueDirect'>;
  inventory: Pick<Inventory, 'byRequester'>;
  checkpoints: JobCheckpoints;
  sealer: KeySealer;
  /** The CA chain that goes into the PKCS#12, issuing CA first. */
  caChain: () => Buffer[];
}

export interface PkcsIssueRequest {
  /** The link job id: the certificate's requester is `job:<jobId>`, the checkpoint key is the id. */
  jobId: string;
  profile: string;
  /** RFC 4514 subject. */
  subject: string;
  sans?: ReadonlyArray<{ type: SanKind; value: string }>;
  keyAlgorithm: KeyAlgorithm;
  protection: Pkcs12Protection;
  /** SPKI PEM of the device's RSA key, to which the PKCS#12 password is encrypted. */
  devicePublicKey: string;
  /** The user and device the job is for: the directory lookup key of an enriched profile. */
  userId?: string;
  deviceId?: string;
}

export interface IssuedPkcs extends DevicePackage {
  record: InventoryRecord;
}

/**
 * Server-side key generation (for devices that cannot make their own key, and for keys that must
 * be escrowed): key pair → CSR → the authority (profile rules, CA backend, inventory) → PKCS#12
 * for the device.
 *
 * Exactly once under crashes, for a job the link journal may run again:
 *  1. the key is sealed into the job's checkpoint before anything is issued, so a re-run uses it;
 *  2. a certificate already in the inventory for `job:<jobId>` is reused, not issued again.
 * A crash before (1) leaves nothing behind; between (1) and (2) the re-run issues with the saved
 * key; after (2) it only wraps again. The one window left is inside the CA backend itself (signed
 * but not yet recorded); the built-in CA keeps nothing then, an external CA holds an unused
 * certificate.
 */
export async function issuePkcs(deps: PkcsIssueDeps, request: PkcsIssueRequest): Promise<IssuedPkcs> {
  const deviceKey = parseDevicePublicKey(request.devicePublicKey);
  const requester = `job:${request.jobId}`;
  const privateKey = await checkpointedKey(deps, request, requester);
  const record =
    (await deps.inventory.byRequester(requester)) ??
    (await issueCertificate(deps, request, privateKey, requester));
  const certificate = certificateOf(record, privateKey);
  const wrapped = wrapForDevice(
    { privateKey, certificate, chain: deps.caChain() },
    deviceKey,
    request.protection,
  );
  return { record, ...wrapped };
}

/** The job's key: unsealed from its checkpoint on a re-run, else generated and checkpointed. */
async function checkpointedKey(
  deps: PkcsIssueDeps,
  request: PkcsIssueRequest,
  requester: string,
): Promise<KeyObject> {
  const saved = deps.checkpoints.get(request.jobId);
  if (saved) return deps.sealer.unseal(saved, request.jobId);
  if (await deps.inventory.byRequester(requester)) {
    // Issued, but its key is gone (checkpoint store lost): issuing another would break exactly-once.
    throw new OutpostError(
      ErrorCodes.conflict,
      'a certificate was already issued for this job but its key is no longer available; revoke it and send a new job',
    );
  }
  const { privateKey } = await generateKeyPair(request.keyAlgorithm);
  deps.checkpoints.put(request.jobId, deps.sealer.seal(privateKey, request.jobId));
  return privateKey;
}

async function issueCertificate(
  deps: PkcsIssueDeps,
  request: PkcsIssueRequest,
  privateKey: KeyObject,
  requester: string,
): Promise<InventoryRecord> {
  const csrDer = buildCsr(
    request.subject,
    { privateKey, publicKey: createPublicKey(privateKey) },
    { sans: sansByKind(request.sans ?? []) },
  );
  const claims = {
    ...(request.userId !== undefined ? { userId: request.userId } : {}),
    ...(request.deviceId !== undefined ? { deviceId: request.deviceId } : {}),
  };
  return deps.authority.issueDirect({ csr: parseCsr(csrDer), profile: request.profile, requester, claims });
}

function sansByKind(list: ReadonlyArray<{ type: SanKind; value: string }>): SubjectAltNames {
  const sans: SubjectAltNames = { dns: [], email: [], uri: [], ip: [], upn: [] };
  for (const { type, value } of list) sans[type].push(value);
  return sans;
}

/** The recorded certificate must be the one of the checkpointed key (both belong to this job). */
function certificateOf(record: InventoryRecord, privateKey: KeyObject): ParsedCertificate {
  const certificate = parseCertificate(record.der);
  if (!keysMatch(privateKey, certificate.publicKey)) {
    throw new OutpostError(ErrorCodes.internal, 'the certificate recorded for this job is not for its key', {
      detail: record.serialHex,
    });
  }
  return certificate;
}
