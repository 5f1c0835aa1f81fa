import type { Socket } from 'node:net';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';

export interface HandshakeAdmissionOptions {
  /** Handshakes in progress from which a busy process makes new connections wait. */
  maxOpening: number;
  /** How late (ms) the sampling timer may fire before the process counts as busy. */
  maxLagMs: number;
  /** Event-loop utilization over the last sample (0–1) from which the process counts as busy. */
  busyUtilization: number;
  /** How often the event loop is sampled and waiting connections are looked at (ms). */
  intervalMs: number;
  /** Connections that may wait; one more is closed at accept (shed). */
  maxWaiting: number;
  /** A connection that waited this long without its turn is closed (shed). */
  maxWaitMs: number;
  /** Counts a connection closed without a handshake (shed: the queue full, or its wait too long). */
  onShed?: (() => void) | undefined;
  /** Monotonic clock in ms (tests fix it and call tick()). */
  now?: () => number;
  /** Event-loop utilization since the previous call (tests fix it). */
  utilization?: () => number;
}

/** A connection accepted but not started: its handshake begins with `start` when its turn comes. */
interface Waiting {
  socket: Socket;
  start: (socket: Socket) => void;
  since: number;
}

/**
 * Admission of new connections to a TLS handshake, for a failover storm (every client of a failed
 * site node reconnecting at once). A handshake costs the process 1–2 ms of CPU; started all at
 * once, thousands of them share the CPU, none finishes within the handshake time limit (10 s), and
 * the work of every one is thrown away with its connection, over and over as clients retry
 * (26,740 such time-outs for 7,500 sessions in `bench:sessions -- --site` before this). Instead, a
 * busy process keeps `maxOpening` handshakes in progress and lets later connections wait, unread,
 * in accept order: each handshake started then finishes in well under a second, and no work is
 * lost. The handshake time limit starts when the handshake does.
 *
 * Busy means the event loop is the bottleneck: utilization over the last sample at or above
 * `busyUtilization`, or the sampling timer late. The count alone would let anyone make clients
 * wait with a few hundred idle TCP connections, which cost the process nothing; while the loop has
 * time to spare, every connection starts at once.
 */
export class HandshakeAdmission {
  private readonly opening = new Set<Socket>();
  /** Waiting connections in accept order; `head` is the next one (no shifting of a long array). */
  private waiting: Array<Waiting | undefined> = [];
  private head = 0;
  private readonly now: () => number;
  private readonly utilization: () => number;
  private busy = false;
  private expected = 0;
  /** When the last sample ran: a loop busy since longer than a late sample is busy now. */
  private lastSample = 0;
  private timer: NodeJS.Timeout | undefined;
  /** One listener for every opening socket (`this` is the socket): no closure kept per connection. */
  private readonly forget: (this: Socket) => void;

  constructor(private readonly o: HandshakeAdmissionOptions) {
    this.now = o.now ?? (() => performance.now());
    this.utilization = o.utilization ?? loopUtilization();
    const self = this;
    this.forget = function (this: Socket) {
      if (self.opening.delete(this)) self.startWaiting();
    };
  }

  /** Starts sampling the event loop (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.lastSample = this.now();
    this.expected = this.lastSample + this.o.intervalMs;
    this.utilization();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.busy = false;
  }

  /**
   * One sample: busy until the next sample when this one came late or the loop had no idle time;
   * connections that waited too long are shed, and waiting ones start if there is room now.
   */
  tick(): void {
    const now = this.now();
    const utilization = this.utilization();
    this.busy = now - this.expected > this.o.maxLagMs || utilization >= this.o.busyUtilization;
    this.expected = now + this.o.intervalMs;
    this.lastSample = now;
    this.shedExpired(now);
    this.startWaiting();
  }

  /**
   * A connection just accepted: `start` runs now (its handshake counts as opening until `opened`
   * or its close), later when its turn comes, or never (the connection is closed and counted).
   */
  accept(socket: Socket, start: (socket: Socket) => void): void {
    if (this.waitingCount === 0 && this.hasRoom()) return this.begin(socket, start);
    if (this.waitingCount >= this.o.maxWaiting) return this.shed(socket);
    socket.on('error', ignore); // nobody else listens yet: a reset while waiting must not throw
    this.waiting.push({ socket, start, since: this.now() });
    this.startWaiting(); // room, but others were waiting: they go first
  }

  /** Its TLS handshake finished: no longer opening; a waiting connection may start. */
  opened(socket: Socket): void {
    if (!this.opening.delete(socket)) return;
    socket.off('close', this.forget);
    this.startWaiting();
  }

  /** The last sample found the process busy. */
  get overloaded(): boolean {
    return this.busy;
  }

  get inProgress(): number {
    return this.opening.size;
  }

  get waitingCount(): number {
    return this.waiting.length - this.head;
  }

  private begin(socket: Socket, start: (socket: Socket) => void): void {
    this.opening.add(socket);
    socket.once('close', this.forget);
    start(socket);
  }

  private hasRoom(): boolean {
    return this.opening.size < this.o.maxOpening || !this.busyNow();
  }

  /**
   * Busy by the last sample, or busy since (libuv accepts every pending connection of a burst in
   * one go, before the timer can run: thousands at once when a node's clients all come over).
   */
  private busyNow(): boolean {
    return this.busy || this.now() - this.lastSample > this.o.intervalMs + this.o.maxLagMs;
  }

  private startWaiting(): void {
    while (this.waitingCount > 0 && this.hasRoom()) {
      const next = this.take()!;
      next.socket.off('error', ignore);
      if (!next.socket.destroyed) this.begin(next.socket, next.start);
    }
  }

  private shedExpired(now: number): void {
    while (this.waitingCount > 0) {
      const next = this.waiting[this.head]!;
      if (!next.socket.destroyed && now - next.since < this.o.maxWaitMs) return;
      this.take();
      if (!next.socket.destroyed) this.shed(next.socket);
    }
  }

  private take(): Waiting | undefined {
    const next = this.waiting[this.head];
    this.waiting[this.head++] = undefined;
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    return next;
  }

  private shed(socket: Socket): void {
    socket.destroy();
    this.o.onShed?.();
  }
}

function ignore(): void {}

/** Node's event-loop utilization since the previous call. */
function loopUtilization(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    return utilization;
  };
}
