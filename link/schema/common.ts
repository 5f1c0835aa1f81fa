import { z } from 'zod';
import { LinkLimits } from './limits.js';

/** Message, job and appliance ids: short printable tokens (UUIDs in practice). */
export const linkId = z
  .string()
  .min(1)
  .max(LinkLimits.maxIdLength)
  .regex(/^[A-Za-z0-9._:-]+$/, 'expected letters, digits and . _ : -');

export const boundedText = z.string().max(LinkLimits.maxTextLength);

/** An RFC 3339 timestamp in UTC with offset `Z` or a numeric offset. */
export const timestamp = z.iso.datetime({ offset: true });

export const pemText = z.string().min(1).max(LinkLimits.maxPemLength);

export const applianceRole = z.enum(['gateway', 'connector']);
export type ApplianceRole = z.infer<typeof applianceRole>;

/** Non-empty role list without duplicates. */
export const roleList = z
  .array(applianceRole)
  .min(1)
  .max(2)
  .refine((roles) => new Set(roles).size === roles.length, { message: 'duplicate role' });

/** A non-negative integer count. */
export const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** A config version: increases by one with each `PUT /v1/admin/appliances/:id/config`. */
export const configVersion = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/**
 * An error as it travels on the link (in `error` messages, `job.result`, `config.result`). `code` is an
 * `OUTPOST_ERR_…` code from core/errors.ts; `message` is the client-safe text, never a secret.
 */
export const wireError = z.object({
  code: z.string().min(1).max(64),
  message: boundedText,
  /** Whether doing the same thing again later may succeed (CA unreachable: yes; already revoked: no). */
  retryable: z.boolean().default(false),
});
export type WireError = z.infer<typeof wireError>;

/** Every message: `{ v: 1, type, id }`; `id` is unique per sender and is what `ack.ref` and `error.ref` name. */
export const envelope = {
  v: z.literal(1),
  id: linkId,
};
