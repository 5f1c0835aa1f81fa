import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { AddressPool, type AddressPoolOptions } from './address-pool.js';
import { familyBits, formatIp, parseCidr } from './ip-address.js';

/**
 * Splits `cidr` into the smallest power of two of equal blocks that is at least `workers`, and
 * deals them out: block j goes to worker j mod workers. Returns each worker's blocks. Every block
 * is one route into that worker's TUN, so the kernel delivers a client's packets to the process
 * that holds its tunnel without any per-session route.
 */
export function sliceCidr(cidr: string, workers: number): string[][] {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be ≥ 1, got ${workers}`);
  const parsed = parseCidr(cidr);
  const bits = Math.ceil(Math.log2(workers));
  const prefixLength = parsed.prefixLength + bits;
  // An IPv4 block needs network, gateway, broadcast and one client address: /30 at the smallest.
  const smallest = parsed.family === 4 ? 30 : 126;
  if (prefixLength > smallest) {
    throw new OutpostError(ErrorCodes.config, 'address pool too small for the gateway workers', {
      detail: `${cidr} cannot be cut into ${2 ** bits} blocks (one or more per worker)`,
    });
  }
  const size = 1n << BigInt(familyBits(parsed.family) - prefixLength);
  const perWorker: string[][] = Array.from({ length: workers }, () => []);
  for (let j = 0; j < 2 ** bits; j++) {
    const network = parsed.network + BigInt(j) * size;
    perWorker[j % workers]!.push(`${formatIp(parsed.family, network)}/${prefixLength}`);
  }
  return perWorker;
}

/** A session's tunnel addresses and the worker whose TUN routes them. */
export interface WorkerLease {
  ipv4: string;
  ipv6?: string;
  worker: number;
}

interface Slice {
  worker: number;
  ipv4: AddressPool;
  ipv6: AddressPool | undefined;
}

/**
 * One configured pool (IPv4, optionally IPv6) cut into per-worker blocks (sliceCidr). A session
 * gets both families from the same worker; a session that already holds or reserves addresses
 * (a reconnect within the cookie timeout) gets them back, and so the same worker. New sessions go
 * to the worker with the most free addresses, which spreads them evenly.
 *
 * Each block is an AddressPool of its own, so blocks after the first give up their first usable
 * address (and, in IPv4, network and broadcast) to nothing: up to three addresses per block.
 */
export class WorkerAddressSlices {
  readonly pools: AddressPool[];
  private readonly slices: Slice[];

  constructor(
    pool: { ipv4: string; ipv6?: string | null | undefined },
    readonly workers: number,
    options: AddressPoolOptions = {},
  ) {
    const v4 = sliceCidr(pool.ipv4, workers);
    const v6 = pool.ipv6 ? sliceCidr(pool.ipv6, workers) : undefined;
    this.slices = [];
    for (let worker = 0; worker < workers; worker++) {
      const blocks4 = v4[worker]!;
      const blocks6 = v6?.[worker];
      blocks4.forEach((cidr, i) => {
        // Pair the i-th IPv6 block with the i-th IPv4 block of the same worker.
        const cidr6 = blocks6?.[i];
        this.slices.push({
          worker,
          ipv4: new AddressPool(cidr, options),
          ipv6: cidr6 ? new AddressPool(cidr6, options) : undefined,
        });
      });
    }
    this.pools = this.slices.flatMap((s) => (s.ipv6 ? [s.ipv4, s.ipv6] : [s.ipv4]));
  }

  /**
   * The gateway's own addresses: the first block starts at the pool's network address, so its
   * first usable address is the whole pool's (the one a single AddressPool would reserve).
   */
  get gatewayAddresses(): { ipv4: string; ipv6: string | undefined } {
    const first = this.slices[0]!;
    return { ipv4: first.ipv4.gatewayAddress, ipv6: first.ipv6?.gatewayAddress };
  }

  /** The blocks to route into worker `worker`'s TUN, per family. */
  routesOf(worker: number): { ipv4: string[]; ipv6: string[] } {
    const mine = this.slices.filter((s) => s.worker === worker);
    return {
      ipv4: mine.map((s) => s.ipv4.cidr),
      ipv6: mine.flatMap((s) => (s.ipv6 ? [s.ipv6.cidr] : [])),
    };
  }

  /** `preferredIpv4`: the address the session had (resumed from the site), when its block has it free. */
  allocate(sessionId: string, preferredIpv4?: string): WorkerLease {
    const preferredSlice =
      preferredIpv4 === undefined ? undefined : this.slices.find((s) => s.ipv4.contains(preferredIpv4));
    const slice = this.sliceHolding(sessionId) ?? preferredSlice ?? this.roomiest();
    const ipv4 = slice.ipv4.allocate(
      sessionId,
      slice === preferredSlice ? { preferred: preferredIpv4! } : {},
    ).address;
    const ipv6 = slice.ipv6?.allocate(sessionId).address;
    return ipv6 ? { ipv4, ipv6, worker: slice.worker } : { ipv4, worker: slice.worker };
  }

  release(sessionId: string, keepMs: number): void {
    const slice = this.sliceHolding(sessionId);
    slice?.ipv4.release(sessionId, { keepForMs: keepMs });
    slice?.ipv6?.release(sessionId, { keepForMs: keepMs });
  }

  private sliceHolding(sessionId: string): Slice | undefined {
    return this.slices.find((s) => s.ipv4.lease(sessionId) !== undefined);
  }

  private roomiest(): Slice {
    let best = this.slices[0]!;
    let bestFree = -1;
    for (const slice of this.slices) {
      const { free, reserved } = slice.ipv4.stats();
      // Reservations can be reclaimed when a block is full, so they count as room, after free ones.
      const room = free * 2 + reserved;
      if (room > bestFree) {
        best = slice;
        bestFree = room;
      }
    }
    return best;
  }
}
