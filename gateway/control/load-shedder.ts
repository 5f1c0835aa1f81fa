import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LoadShedderOptions {
  /** Handshakes in progress from which an overloaded process closes new connections at accept. */
  maxOpening: number;
  /** How late (ms) the sampling timer may fire before the process counts as overloaded. */
  maxLagMs: number;
  /** How often the event loop's lateness is sampled (ms). */
  intervalMs: number;
  /** Counts a connection closed at accept. */
  onShed?: (() => void) | undefined;
  /** Monotonic clock in ms (tests fix it and call tick()). */
  now?: () => number;
}

/**
 * Load shedding for a failover storm (every client of a failed site node reconnecting at once):
 * a connection closed at accept costs an accept and a close, and the balancer or the client tries
 * again, while a handshake started in an overloaded process only times out after its work is done,
 * and the work of every handshake behind it with it.
 *
 * Two conditions, both needed: `maxOpening` handshakes in progress, and an event loop running late
 * (it is busy with them). The count alone would let anyone lock clients out with a few hundred idle
 * TCP connections, which cost the process nothing; lateness alone would turn clients away while
 * the work is elsewhere (a tunnel burst).
 */
export class LoadShedder {
  private readonly opening = new Set<Socket>();
  private readonly now: () => number;
  private lagging = false;
  private expected = 0;
  /** When the last sample ran: a loop busy since longer than a late sample is overloaded now. */
  private lastSample = 0;
  private timer: NodeJS.Timeout | undefined;
  /** One listener for every socket (`this` is the socket): no closure kept per connection. */
  private readonly forget: (this: Socket) => void;

  constructor(private readonly o: LoadShedderOptions) {
    this.now = o.now ?? (() => performance.now());
    const opening = this.opening;
    this.forget = function (this: Socket) {
      opening.delete(this);
    };
  }

  /** Starts sampling the event loop's lateness (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.lastSample = this.now();
    this.expected = this.lastSample + this.o.intervalMs;
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.lagging = false;
  }

  /** One sample: the process is overloaded until the next sample when this one came late. */
  tick(): void {
    const now = this.now();
    this.lagging = now - this.expected > this.o.maxLagMs;
    this.expected = now + this.o.intervalMs;
    this.lastSample = now;
  }

  /**
   * A connection just accepted: false when it was shed (destroyed and counted), else it counts as
   * opening until `opened` or its close.
   */
  accept(socket: Socket): boolean {
    if (this.opening.size >= this.o.maxOpening && this.overloadedNow()) {
      socket.destroy();
      this.o.onShed?.();
      return false;
    }
    this.opening.add(socket);
    socket.once('close', this.forget);
    return true;
  }

  /** Its TLS handshake finished: no longer opening. */
  opened(socket: Socket): void {
    if (this.opening.delete(socket)) socket.off('close', this.forget);
  }

  /**
   * Late by the last sample, or busy since (libuv accepts every pending connection of a burst in
   * one go, before the timer can run: thousands at once when a node's clients all come over).
   */
  private overloadedNow(): boolean {
    return this.lagging || this.now() - this.lastSample > this.o.intervalMs + this.o.maxLagMs;
  }

  /** The last sample came late (the process is busy). */
  get overloaded(): boolean {
    return this.lagging;
  }

  get inProgress(): number {
    return this.opening.size;
  }
}
