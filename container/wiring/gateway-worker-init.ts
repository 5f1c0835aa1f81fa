import { z } from 'zod';

/**
 * The first message a tunnel worker gets from the primary (container/wiring/gateway-workers.ts):
 * which TUN to open, the gateway's own addresses to put on it, and the pool blocks to route into
 * it. Validated, as everything arriving over IPC is.
 */
export const workerInit = z.strictObject({
  type: z.literal('init'),
  worker: z.number().int().min(0).max(63),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  tun: z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
    mtu: z.number().int().min(1280).max(9000),
  }),
  /** The gateway's own address per family (the main pool's first), put on the TUN as a host address. */
  addresses: z.strictObject({ ipv4: z.string().max(15), ipv6: z.string().max(45).optional() }),
  routes: z.strictObject({
    ipv4: z.array(z.string().max(18)).max(4096),
    ipv6: z.array(z.string().max(49)).max(4096),
  }),
  /** Where this worker's DTLS socket listens (gateway.dtls: the base port + the worker's index). */
  dtls: z
    .strictObject({
      host: z.string().max(45),
      port: z.number().int().min(1).max(65535),
      burstPauseMicros: z.number().int().min(0).max(1000),
    })
    .optional(),
});
export type WorkerInit = z.infer<typeof workerInit>;
