/**
 * The rungs of `floor.ts`, cheapest first; each does what the one before does and more:
 * - http: a bare node:http server reads the POST body and answers a fixed reply of a CertRep's size;
 * - rsa: + the three RSA-2048 private operations of an enrollment with the built-in CA's key
 *   objects (privateDecrypt of a 256-byte block, the CA's and the RA's sha256WithRSA signatures);
 * - pub: + the three public ones (two signature verifies, one PKCS#1 v1.5 encryption);
 * - ops-mem: instead, the real PKIOperation (ScepOperations: CMS, CSR, issuance, CertRep) over an
 *   in-memory SQLite inventory per process;
 * - ops-file: the same with every process on one WAL database file, as the appliance runs;
 * - fastify: the same behind the connector's fastify server and SCEP route (scep-routes.ts);
 * - appliance: the appliance itself as bench:scep starts it (its CLI, SCEP workers, metrics, events),
 *   every reply checked as bench:scep checks it (validate.ts).
 */
export const FLOOR_RUNGS = ['http', 'rsa', 'pub', 'ops-mem', 'ops-file', 'fastify', 'appliance'] as const;
export type FloorRung = (typeof FLOOR_RUNGS)[number];

export const floorChallenge = 'bench-challenge-secret';

/** What floor.ts passes its server processes (JSON in OUTPOST_FLOOR). */
export interface FloorServerEnv {
  rung: FloorRung;
  /** Holds ca/ (the built-in CA, made by floor.ts) and the rung's database file. */
  dir: string;
  dbName: string;
  replyBytes: number;
  devicePublicKeyPem: string;
  signedHex: string;
  signatureHex: string;
}
