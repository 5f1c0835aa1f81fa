/**
 * An IPv4 or IPv6 address pool built from one CIDR. The first usable address is the gateway's own
 * (the TUN address); clients get the others. A lease is keyed by something stable about the client
 * (its session cookie or user+device), so a reconnecting client gets its address back:
 *
 *   allocate(key)  -> the key's address (new, or the one it already holds or had reserved)
 *   release(key, { keepForMs }) -> the address stays reserved for that key until it expires
 *   expire(now)    -> reservations whose time is up go back to the free list
 *
 * Allocation is O(1) (bump cursor + FIFO of released slots) and expiry O(log n) per lease, so pools
 * of /16 and beyond never scan from the start. Very large blocks (an IPv6 /64) are capped at
 * `maxClients` addresses taken from the start of the block.
 */
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { ExpiryHeap } from './expiry-heap.js';
import { type Cidr, familyBits, formatIp, type IpFamily, parseCidr, parseIpAddress } from './ip-address.js';
import { OffsetFreeList } from './offset-free-list.js';

export const DEFAULT_MAX_CLIENTS = 1 << 20;

export interface AddressPoolOptions {
  /** Upper bound on client addresses (memory: about one byte each). Default 2^20. */
  readonly maxClients?: number;
  /** Clock for `release` when no `now` is given. */
  readonly now?: () => number;
}

export interface PoolLease {
  readonly key: string;
  readonly address: string;
  /** 'active' while a session holds it; 'reserved' after release until it expires. */
  readonly state: 'active' | 'reserved';
  /** For reserved leases: when the reservation ends (ms, same clock as `now`). */
  readonly expiresAt: number | undefined;
}

export interface PoolStats {
  readonly capacity: number;
  readonly active: number;
  readonly reserved: number;
  readonly free: number;
}

interface LeaseRecord {
  offset: number;
  state: 'active' | 'reserved';
  expiresAt: number | undefined;
  /** Bumped on every state change so stale heap entries are recognised. */
  generation: number;
}

export class AddressPool {
  readonly family: IpFamily;
  readonly cidr: string;
  readonly prefixLength: number;
  /** The gateway's own address (the TUN address), first usable address of the block. */
  readonly gatewayAddress: string;
  readonly capacity: number;

  private readonly network: bigint;
  /** Address value of client offset 0. */
  private readonly firstClient: bigint;
  private readonly free: OffsetFreeList;
  private readonly leases = new Map<string, LeaseRecord>();
  private readonly ownerByOffset = new Map<number, string>();
  private readonly expiries = new ExpiryHeap();
  private readonly clock: () => number;
  private reservedCount = 0;

  constructor(cidrText: string, options: AddressPoolOptions = {}) {
    const cidr: Cidr = parseCidr(cidrText);
    this.family = cidr.family;
    this.prefixLength = cidr.prefixLength;
    this.network = cidr.network;
    this.cidr = `${formatIp(cidr.family, cidr.network)}/${cidr.prefixLength}`;
    this.clock = options.now ?? Date.now;
    const { first, last } = usableRange(cidr);
    if (last - first < 1n) {
      throw new OutpostError(ErrorCodes.config, 'address pool too small', {
        detail: `${cidrText} has no address left for clients after the gateway's own`,
      });
    }
    this.gatewayAddress = formatIp(this.family, first);
    this.firstClient = first + 1n;
    const clients = last - first;
    const max = BigInt(options.maxClients ?? DEFAULT_MAX_CLIENTS);
    this.capacity = Number(clients < max ? clients : max);
    this.free = new OffsetFreeList(this.capacity);
  }

  /**
   * The key's address: the one it holds or has reserved, else `preferred` when that is a free client
   * address of this pool, else the next free one. When the pool is full, the reservation closest to
   * expiry is reclaimed; when every address is actively leased this throws OUTPOST_ERR_BUSY.
   */
  allocate(key: string, options: { preferred?: string } = {}): PoolLease {
    const existing = this.leases.get(key);
    if (existing) {
      if (existing.state === 'reserved') {
        existing.state = 'active';
        existing.expiresAt = undefined;
        existing.generation++;
        this.reservedCount--;
      }
      return this.view(key, existing);
    }
    let offset = options.preferred === undefined ? -1 : this.offsetOf(options.preferred);
    if (offset !== -1 && !this.free.takeSpecific(offset)) offset = -1;
    if (offset === -1) offset = this.free.take();
    if (offset === -1 && this.reclaimOldestReservation()) offset = this.free.take();
    if (offset === -1) {
      throw new OutpostError(ErrorCodes.busy, 'no address available', {
        detail: `pool ${this.cidr} exhausted (${this.capacity} addresses)`,
      });
    }
    const record: LeaseRecord = { offset, state: 'active', expiresAt: undefined, generation: 0 };
    this.leases.set(key, record);
    this.ownerByOffset.set(offset, key);
    return this.view(key, record);
  }

  /**
   * The session ended: keep the address reserved for the key for `keepForMs` (the cookie lifetime) so
   * a reconnect gets it back; 0 frees it now. Unknown keys are ignored (release is idempotent).
   */
  release(key: string, options: { keepForMs: number; now?: number }): void {
    const record = this.leases.get(key);
    if (!record) return;
    if (options.keepForMs <= 0) {
      this.drop(key, record);
      return;
    }
    if (record.state === 'active') this.reservedCount++;
    record.state = 'reserved';
    record.expiresAt = (options.now ?? this.clock()) + options.keepForMs;
    record.generation++;
    this.expiries.push({ expiresAt: record.expiresAt, key, generation: record.generation });
  }

  /** Frees every reservation that ended at or before `now`; returns how many. */
  expire(now: number = this.clock()): number {
    let freed = 0;
    for (let top = this.expiries.peek(); top && top.expiresAt <= now; top = this.expiries.peek()) {
      this.expiries.pop();
      const record = this.leases.get(top.key);
      if (record && record.state === 'reserved' && record.generation === top.generation) {
        this.drop(top.key, record);
        freed++;
      }
    }
    return freed;
  }

  lease(key: string): PoolLease | undefined {
    const record = this.leases.get(key);
    return record ? this.view(key, record) : undefined;
  }

  /** The key holding (or reserving) `address`, if any. */
  ownerOf(address: string): string | undefined {
    const offset = this.offsetOf(address);
    return offset === -1 ? undefined : this.ownerByOffset.get(offset);
  }

  /** True for any address of the block, including network, gateway and broadcast. */
  contains(address: string): boolean {
    const parsed = parseIpAddress(address);
    if (!parsed || parsed.family !== this.family) return false;
    const hostBits = BigInt(familyBits(this.family) - this.prefixLength);
    return parsed.value >> hostBits === this.network >> hostBits;
  }

  stats(): PoolStats {
    const total = this.leases.size;
    return {
      capacity: this.capacity,
      active: total - this.reservedCount,
      reserved: this.reservedCount,
      free: this.free.available,
    };
  }

  /** Client offset of `address`, or -1 when it is not a client address of this pool. */
  private offsetOf(address: string): number {
    const parsed = parseIpAddress(address);
    if (!parsed || parsed.family !== this.family) return -1;
    const offset = parsed.value - this.firstClient;
    return offset >= 0n && offset < BigInt(this.capacity) ? Number(offset) : -1;
  }

  private reclaimOldestReservation(): boolean {
    while (this.expiries.size > 0) {
      const top = this.expiries.pop()!;
      const record = this.leases.get(top.key);
      if (record && record.state === 'reserved' && record.generation === top.generation) {
        this.drop(top.key, record);
        return true;
      }
    }
    return false;
  }

  private drop(key: string, record: LeaseRecord): void {
    if (record.state === 'reserved') this.reservedCount--;
    this.leases.delete(key);
    this.ownerByOffset.delete(record.offset);
    this.free.give(record.offset);
  }

  private view(key: string, record: LeaseRecord): PoolLease {
    return {
      key,
      address: formatIp(this.family, this.firstClient + BigInt(record.offset)),
      state: record.state,
      expiresAt: record.expiresAt,
    };
  }
}

/**
 * First and last assignable address of a block. IPv4 drops the network and broadcast addresses
 * (except /31 and /32, RFC 3021); IPv6 drops the subnet-router anycast address (offset 0) and has
 * no broadcast.
 */
function usableRange(cidr: Cidr): { first: bigint; last: bigint } {
  const end = cidr.network + cidr.size - 1n;
  if (cidr.family === 4) {
    if (cidr.prefixLength >= 31) return { first: cidr.network, last: end };
    return { first: cidr.network + 1n, last: end - 1n };
  }
  if (cidr.prefixLength === 128) return { first: cidr.network, last: end };
  return { first: cidr.network + 1n, last: end };
}
