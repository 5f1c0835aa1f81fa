import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { SessionEndReason } from '../../gateway/session/session-table.js';
import { type SessionRevokeResult, sessionRevokePayload } from '../../link/jobs/gateway-jobs.js';
import type { JobHandler } from '../../link/ports.js';

/** What `session.revoke` needs of the gateway: sessions closable by user or device, site-wide. */
export interface RevocableSessions {
  closeSessions(match: { user?: string; device?: string }, reason: SessionEndReason): Promise<number>;
}

/**
 * `session.revoke`: ends every session of the user and/or device now — connected ones and ones
 * waiting for a reconnect, in a site on whichever node runs them — and their cookies answer 401 from then on (SessionTable.close keeps a
 * closed cookie known until it would have expired). Running it twice is harmless: the second
 * finds nothing to close, so a redelivered job gives the same kind of result.
 */
export function sessionRevokeHandler(sessions: RevocableSessions): JobHandler {
  return {
    kind: 'session.revoke',
    async handle(job): Promise<SessionRevokeResult> {
      const parsed = sessionRevokePayload.safeParse(job.payload);
      if (!parsed.success) {
        throw new OutpostError(
          ErrorCodes.badRequest,
          `invalid session.revoke payload: ${parsed.error.issues[0]?.message}`,
        );
      }
      const { user, device } = parsed.data;
      const disconnected = await sessions.closeSessions(
        { ...(user !== undefined ? { user } : {}), ...(device !== undefined ? { device } : {}) },
        'revoked by the cloud',
      );
      return { disconnected };
    },
  };
}
