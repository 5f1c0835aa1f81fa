import type { Authority } from '../issuance/authority.js';
import { PkcsKeys } from '../pkcs/pkcs-keys.js';
import type { JobCheckpoints } from '../pkcs/ports.js';
import type { Inventory } from '../ports.js';
import type { Revocation } from '../revocation/revocation.js';
import { certRevokeJob } from './cert-revoke-job.js';
import type { ConnectorJobHandler } from './job-handler.js';
import { pfxImportJob } from './pfx-import-job.js';
import { pkcsIssueJob } from './pkcs-issue-job.js';

export interface ConnectorJobDeps {
  /** The data directory: PKCS keys live in DATA/pkcs (seal.key, import.key). */
  dataDir: string;
  authority: Pick<Authority, 'issueDirect'>;
  revocation: Pick<Revocation, 'revoke'>;
  inventory: Pick<Inventory, 'byRequester' | 'bySerial'>;
  /** The link journal's checkpoint store. */
  checkpoints: JobCheckpoints;
  /** The CA chain handed out with issued keys, issuing CA first (CaBackend.caChain). */
  caChain: () => Buffer[];
  clock?: () => Date;
}

/**
 * The connector's link job handlers, to register with the link's job runner
 * (`runner.register(handler)` for each): cert.pkcs.issue, cert.pfx.import, cert.revoke.
 */
export function connectorJobHandlers(deps: ConnectorJobDeps): ConnectorJobHandler[] {
  const keys = new PkcsKeys(deps.dataDir);
  const clock = deps.clock ?? (() => new Date());
  return [
    pkcsIssueJob({ ...deps, keys }),
    pfxImportJob({ keys, clock }),
    certRevokeJob({ revocation: deps.revocation, inventory: deps.inventory, checkpoints: deps.checkpoints }),
  ];
}
