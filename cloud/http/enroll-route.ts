import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { CloudCa } from '../pki/cloud-ca.js';
import { spkiFromCsrPem } from '../pki/csr-input.js';
import { type Appliances, DEFAULT_SITE } from '../store/appliances.js';
import type { CloudDb } from '../store/cloud-db.js';
import type { EnrollmentTokens } from '../store/enrollment-tokens.js';
import { parseBody } from './http-errors.js';
import { enrollRequest } from './request-schemas.js';

export interface EnrollDeps {
  db: CloudDb;
  tokens: EnrollmentTokens;
  appliances: Appliances;
  ca: CloudCa;
  clientCertDays: number;
  clock: () => Date;
  logger: Logger;
}

const refused = () =>
  new OutpostError(ErrorCodes.unauthorized, 'enrollment token is invalid, expired or used');

/**
 * `POST /v1/enroll` `{ token, csr, roles }` → 201 `{ applianceId, certificate, chain }`. The token is
 * redeemed and the appliance recorded in one transaction, so a token enrolls exactly one appliance
 * even when two requests race. The CSR is checked before the token is spent.
 */
export function registerEnrollRoute(app: FastifyInstance, deps: EnrollDeps): void {
  app.post('/v1/enroll', async (request, reply) => {
    const body = parseBody(enrollRequest, request.body, 'enrollment request');
    const spki = spkiFromCsrPem(body.csr);
    const now = deps.clock();
    const applianceId = randomUUID();
    // Sign only once the token is good: a wrong token costs the cloud no signature.
    const issued = deps.db.transaction(() => {
      const grant = deps.tokens.redeem(body.token, applianceId, now);
      if (!grant) throw refused();
      if (grant.allowedRoles && !body.roles.every((r) => grant.allowedRoles!.includes(r))) {
        throw new OutpostError(ErrorCodes.unauthorized, 'enrollment token does not allow these roles');
      }
      const certificate = deps.ca.issueClientCertificate(spki, applianceId, deps.clientCertDays, now);
      deps.appliances.add(
        {
          id: applianceId,
          roles: body.roles,
          site: grant.site ?? DEFAULT_SITE,
          certSerial: certificate.serialHex,
          certNotAfter: certificate.notAfter,
        },
        now,
      );
      return certificate;
    })();
    deps.logger.info({ applianceId, roles: body.roles, serial: issued.serialHex }, 'appliance enrolled');
    return reply.code(201).send({ applianceId, certificate: issued.pem, chain: [deps.ca.caPem] });
  });
}
