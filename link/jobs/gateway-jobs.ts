import { z } from 'zod';

const principal = z.string().min(1).max(256);

/**
 * `session.revoke` (gateway role): disconnect now every session of a user and/or a device, and refuse
 * their cookies from then on so a reconnect with a saved cookie fails.
 *
 * payload: `{ user?: string, device?: string }`, at least one of them. `user` is the authenticated
 * username (certificate CN/UPN, LDAP user or token claim, as the gateway's auth method derives it);
 * `device` is the device id (the client certificate's device identity or the token's device claim).
 * Both given: sessions matching either are revoked.
 */
export const sessionRevokePayload = z
  .object({ user: principal.optional(), device: principal.optional() })
  .refine((p) => p.user !== undefined || p.device !== undefined, {
    message: 'expected user or device (or both)',
  });
export type SessionRevokePayload = z.infer<typeof sessionRevokePayload>;

/** `session.revoke` result: how many live sessions were disconnected (0 is a success: cookies are refused anyway). */
export const sessionRevokeResult = z.object({ disconnected: z.number().int().min(0) });
export type SessionRevokeResult = z.infer<typeof sessionRevokeResult>;

/** Gateway job kinds: payload and result schema of each. */
export const gatewayJobs = {
  'session.revoke': { role: 'gateway', payload: sessionRevokePayload, result: sessionRevokeResult },
} as const;
