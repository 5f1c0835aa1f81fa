import { isIPv4, isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseListenAddress } from './listen-address.js';

/** `host:port`; port 0 is allowed so tests can ask for an ephemeral port. */
export const listenAddress = z.string().refine((text) => parseListenAddress(text) !== undefined, {
  message: 'expected host:port (IPv6 as [addr]:port, port 0-65535)',
});

export const filePath = z.string().min(1);

/** A positive integer with an upper bound: every limit in the config has one (DESIGN rule 4). */
export function boundedInt(min: number, max: number) {
  return z.number().int().min(min).max(max);
}

export const MAX_WORKERS = 64;

/**
 * `workers` means one thing in every role: how many processes carry the role's load (SCEP
 * requests, VPN tunnels). 1 = the appliance process itself, no worker processes; N = N worker
 * processes beside it; `auto` = one per CPU (at most 64), resolved here, so the effective
 * configuration holds the number. The default is 1 in every role.
 */
const WORKERS_EXPECTED = `expected a number of processes from 1 to ${MAX_WORKERS}, or auto (one per CPU)`;
export const workerCount = z
  .union(
    [
      z.literal('auto'),
      // The same words whichever check fails: they say what may be written.
      z
        .number()
        .int({ error: WORKERS_EXPECTED })
        .min(1, { error: WORKERS_EXPECTED })
        .max(MAX_WORKERS, { error: WORKERS_EXPECTED }),
    ],
    { error: WORKERS_EXPECTED },
  )
  .transform((count) => (count === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : count));

function isCidr(text: string, family: 4 | 6): boolean {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length > 0 || address === undefined || prefixText === undefined) return false;
  if (!/^\d{1,3}$/.test(prefixText)) return false;
  const prefix = Number(prefixText);
  return family === 4 ? isIPv4(address) && prefix <= 32 : isIPv6(address) && prefix <= 128;
}

export const ipv4Cidr = z
  .string()
  .refine((t) => isCidr(t, 4), { message: 'expected an IPv4 CIDR like 10.0.0.0/24' });
export const ipv6Cidr = z
  .string()
  .refine((t) => isCidr(t, 6), { message: 'expected an IPv6 CIDR like fd00::/112' });
export const anyCidr = z
  .string()
  .refine((t) => isCidr(t, 4) || isCidr(t, 6), { message: 'expected an IPv4 or IPv6 CIDR' });
export const ipAddress = z
  .string()
  .refine((t) => isIPv4(t) || isIPv6(t), { message: 'expected an IPv4 or IPv6 address' });

/** A URL restricted to the given schemes (e.g. https:, ldaps:). */
export function urlWithScheme(schemes: readonly string[]) {
  return z.string().refine(
    (text) => {
      try {
        return schemes.includes(new URL(text).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a URL with scheme ${schemes.map((s) => s.replace(/:$/, '')).join(' or ')}` },
  );
}

/** A list without duplicates: duplicates in role or method lists are always a typo. */
export function uniqueList<T extends z.ZodType>(item: T) {
  return z.array(item).refine((list) => new Set(list).size === list.length, {
    message: 'expected a list without duplicates',
  });
}

/**
 * A config section: absent or empty (`connector:` with every sub-key commented out is YAML null)
 * both mean "all defaults".
 */
export function section<T extends z.ZodType<object>>(schema: T) {
  return z.preprocess((value) => (value === null ? undefined : value), schema.prefault({} as z.input<T>));
}
