import { z } from 'zod';
import { serverDisconnectReasons } from '../cstp/index.js';
import { legacySuites, pskSuites } from '../dtls/cipher-suites.js';
import type { DtlsSessionParams } from '../dtls/server-handshake.js';
import { type CipherSuite, cipherSuite } from '../tls/cipher-suites.js';
import type { SessionKeys } from '../tls/handshake-observer.js';
import { type Channel, channels, type DropReason, dropReasons } from '../tunnel/counters.js';

/**
 * Messages between the gateway's primary process and its tunnel workers (gateway.workers > 1),
 * sent over Node's IPC channel with `serialization: 'advanced'` (Buffers travel as bytes). The
 * primary authenticates and answers CONNECT, then sends `open` with the tunnel's TCP socket as the
 * IPC handle; the worker runs the tunnel and reports back. Pure: values in, values out; each side
 * validates what it receives, so a confused peer is logged and ignored, never obeyed.
 */

const count = z.number().int().min(0);
/** bytes in, bytes out, packets in, packets out (as the session counts them). */
const counters = z.tuple([count, count, count, count]);
const bytes = (max: number) =>
  z.custom<Uint8Array>((b) => b instanceof Uint8Array && b.length <= max, `expected at most ${max} bytes`);
const direction = z.strictObject({ key: bytes(64), iv: bytes(32), secret: bytes(64).optional() });

/** Wire form of SessionKeys: the suite by IANA id and version, the rest as bytes. */
const wireKeys = z.strictObject({
  suite: z.number().int().min(0).max(0xffff),
  version: z.enum(['TLSv1.2', 'TLSv1.3']),
  client: direction,
  server: direction,
});

const suiteId = z.number().int().min(0).max(0xffff);

/** A session's DTLS parameters (gateway/dtls DtlsSessionParams), suites by IANA id. */
const wireDtls = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('psk'),
    id: bytes(32),
    psk: bytes(64),
    suites: z.array(suiteId).min(1).max(8),
  }),
  z.strictObject({ mode: z.literal('legacy'), id: bytes(32), masterSecret: bytes(48), suite: suiteId }),
]);

/** The DTLS counters of a worker since its last report (gateway/dtls DtlsStats.take). */
const wireDtlsCounts = z.strictObject({
  packetsIn: count,
  packetsOut: count,
  bytesIn: count,
  bytesOut: count,
  toTls: count,
  sendFailed: count,
  burstPauses: count,
  drops: z.record(z.string().max(32), count),
  events: z.record(z.string().max(32), count),
});

export const openMessage = z.strictObject({
  type: z.literal('open'),
  /** The primary's number for this tunnel (a session's reconnect gets a new one). */
  tunnel: z.number().int().min(0),
  session: z.strictObject({
    id: z.string().min(1).max(64),
    username: z.string().max(1024),
    device: z.string().max(256).optional(),
    remote: z.string().max(64),
    ipv4: z.string().max(15),
    ipv6: z.string().max(45).optional(),
  }),
  mtu: z.number().int().min(576).max(9000),
  timers: z.strictObject({ dpd: z.number().int().min(1), idle: z.number().int().min(1) }),
  keys: wireKeys,
  sequences: z.strictObject({ client: z.number().int().min(0), server: z.number().int().min(0) }),
  pending: z.array(bytes(1 << 20)).max(1024),
  head: bytes(1 << 20),
  /** The DTLS channel the CONNECT answer offered, to be served by the worker's UDP socket. */
  dtls: wireDtls.optional(),
});

export const terminateMessage = z.strictObject({
  type: z.literal('terminate'),
  tunnel: z.number().int().min(0),
  /** What the client is told (a DISCONNECT with this text): one of a fixed set. */
  reason: z.enum(serverDisconnectReasons),
});

export const primaryMessage = z.discriminatedUnion('type', [
  openMessage,
  terminateMessage,
  z.strictObject({ type: z.literal('shutdown') }),
]);
export type PrimaryMessage = z.infer<typeof primaryMessage>;
export type OpenMessage = z.infer<typeof openMessage>;

const tally = z.record(z.string().max(32), z.number().int().min(0));

export const workerMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready') }),
  /** A tunnel ended or could not start; counters are the tunnel's own, from 0, as in stats. */
  z.strictObject({
    type: z.literal('closed'),
    tunnel: z.number().int().min(0),
    reason: z.string().max(256),
    counters,
  }),
  /** Every couple of seconds: counters of tunnels that moved, and drops etc. since the last one. */
  z.strictObject({
    type: z.literal('stats'),
    tunnels: z.array(z.tuple([count, count, count, count, count])).max(1 << 20),
    drops: tally,
    tlsFailures: tally,
    opened: z.number().int().min(0),
    dtls: wireDtlsCounts.optional(),
  }),
]);
export type WorkerMessage = z.infer<typeof workerMessage>;

/** Parses a message from the primary; undefined (with the reason) when it is not one. */
export function parsePrimaryMessage(value: unknown): { message?: PrimaryMessage; error?: string } {
  const parsed = primaryMessage.safeParse(value);
  return parsed.success ? { message: parsed.data } : { error: parsed.error.issues[0]?.message ?? 'invalid' };
}

export function parseWorkerMessage(value: unknown): { message?: WorkerMessage; error?: string } {
  const parsed = workerMessage.safeParse(value);
  return parsed.success ? { message: parsed.data } : { error: parsed.error.issues[0]?.message ?? 'invalid' };
}

export function encodeKeys(keys: SessionKeys): OpenMessage['keys'] {
  const side = (d: SessionKeys['client']) => ({
    key: d.keys.key,
    iv: d.keys.iv,
    ...(d.secret ? { secret: d.secret } : {}),
  });
  return {
    suite: keys.suite.id,
    version: keys.suite.version,
    client: side(keys.client),
    server: side(keys.server),
  };
}

/** SessionKeys back from the wire; throws when the suite is not one the record layer supports. */
export function decodeKeys(wire: OpenMessage['keys']): SessionKeys {
  const suite = cipherSuite(wire.suite, wire.version);
  if (!suite) throw new Error(`unsupported cipher suite 0x${wire.suite.toString(16)} (${wire.version})`);
  const side = (d: OpenMessage['keys']['client']) => ({
    keys: { key: Buffer.from(d.key), iv: Buffer.from(d.iv) },
    ...(d.secret ? { secret: Buffer.from(d.secret) } : {}),
  });
  return { suite, client: side(wire.client), server: side(wire.server) };
}

/** A session's DTLS channel on the wire: its ID and parameters. */
export function encodeDtls(id: Buffer, params: DtlsSessionParams): NonNullable<OpenMessage['dtls']> {
  return params.mode === 'psk'
    ? { mode: 'psk', id, psk: params.psk, suites: params.suites.map((s) => s.id) }
    : { mode: 'legacy', id, masterSecret: params.masterSecret, suite: params.suite.id };
}

const knownPsk: readonly CipherSuite[] = Object.values(pskSuites);

/** The DTLS channel back from the wire; throws when a suite is not one of ours. */
export function decodeDtls(wire: NonNullable<OpenMessage['dtls']>): {
  id: Buffer;
  params: DtlsSessionParams;
} {
  const id = Buffer.from(wire.id);
  if (wire.mode === 'psk') {
    const suites = wire.suites.map((n) => {
      const suite = knownPsk.find((s) => s.id === n);
      if (!suite) throw new Error(`unknown DTLS PSK suite 0x${n.toString(16)}`);
      return suite;
    });
    return { id, params: { mode: 'psk', psk: Buffer.from(wire.psk), suites } };
  }
  const suite = legacySuites.find((s) => s.suite.id === wire.suite)?.suite;
  if (!suite) throw new Error(`unknown legacy DTLS suite 0x${wire.suite.toString(16)}`);
  return {
    id,
    params: { mode: 'legacy', sessionId: id, masterSecret: Buffer.from(wire.masterSecret), suite },
  };
}

/** A drop tally's key: the reason, with "/dtls" for packets of the DTLS channel. */
export function dropKey(reason: DropReason, channel: Channel): string {
  return channel === 'dtls' ? `${reason}/dtls` : reason;
}

/** A drop tally's key back (undefined when it is not one: a confused worker is ignored). */
export function parseDropKey(key: string): { reason: DropReason; channel: Channel } | undefined {
  const [reason, channel = 'tls'] = key.split('/');
  if (!(dropReasons as readonly string[]).includes(reason!)) return undefined;
  if (!(channels as readonly string[]).includes(channel)) return undefined;
  return { reason: reason as DropReason, channel: channel as Channel };
}
