/** Datagrams queued to one destination during the current turn of the event loop (kept by BurstPacer). */
export interface BurstCount {
  /** The pacer's turn the count belongs to (an older turn: the count is stale, i.e. 0). */
  turn: number;
  count: number;
}

/** A BurstCount for a new destination. */
export function newBurstCount(): BurstCount {
  return { turn: 0, count: 0 };
}

/**
 * Spaces a download burst to ONE client by a short pause after each full sendmmsg batch.
 *
 * A download reaches the DTLS socket in bursts: one TUN read is up to 64 KiB of a TCP flow (45
 * full-size datagrams), and a turn may seal several reads for the same client, so without a
 * pause one client gets hundreds of datagrams within a few hundred microseconds. A client whose
 * single thread decrypts them one by one (openconnect) has 208 KiB of receive buffer by default
 * (net.core.rmem_default, 92 datagrams of 1.4 KB): when it is not already running, the rest of
 * the burst is dropped in its kernel, and the inner TCP retransmits it. Measured on the bench
 * (issue 14, openconnect 9.01, iperf3 -R): with a 100 µs pause after every full batch of 64, the
 * client's receive-buffer drops fell to a third and the download rose 1.3–1.8× at less server
 * CPU per gigabit; with at most 8 pauses per turn about half of that gain remained, so a turn
 * may pause 32 times (3.2 ms).
 *
 * The pause is a sleep of the event loop (Atomics.wait): it costs no CPU, but it holds every
 * client of the process. So it is taken only where a burst to one client is the reason: after a
 * full batch, and only when the next datagram goes to a destination that has already been
 * given a full batch's worth (`batch`) in this turn. A turn that sends one batch, or any number
 * of datagrams spread over many clients with fewer than `batch` each, never pauses.
 * A non-blocking equivalent would be kernel pacing (SO_TXTIME / SO_MAX_PACING_RATE), which
 * needs the fq or etf qdisc on the way out; the bench hosts' kernel has neither (veth: noqueue),
 * and deferring the rest of a burst to the next turn (not measured) would give the client time
 * only when other work is pending. `gateway.dtls.burstPauseMicros: 0` turns the pause off.
 */
export class BurstPacer {
  /** Starts above BurstCount's initial turn (0), so a new destination counts as not yet sent to. */
  private turn = 1;
  private pausesThisTurn = 0;
  /** Pauses taken since start (for tests and metrics). */
  pauses = 0;

  constructor(
    /** Microseconds between two full batches of one client's burst; 0: no pacing. */
    private readonly gapMicros: number,
    /** Datagrams per send batch: a burst to one client longer than this is paced. */
    private readonly batch = 64,
    private readonly maxPausesPerTurn = 32,
    private readonly pause: (ms: number) => void = pauseThread,
  ) {}

  /** One datagram to the destination counted by `to` is queued in this turn. */
  queued(to: BurstCount): void {
    if (to.turn === this.turn) to.count++;
    else {
      to.turn = this.turn;
      to.count = 1;
    }
  }

  /** A full batch has just left, and the next datagram of the turn goes to `next`. */
  afterFullBatch(next: BurstCount): void {
    if (this.gapMicros <= 0 || this.pausesThisTurn >= this.maxPausesPerTurn) return;
    if (next.turn !== this.turn || next.count < this.batch) return;
    this.pausesThisTurn++;
    this.pauses++;
    this.pause(this.gapMicros / 1000);
  }

  /** The turn's last batch has left: every count starts again from 0. */
  endOfTurn(): void {
    this.turn++;
    this.pausesThisTurn = 0;
  }
}

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` (fractions allowed) without using the CPU. */
export function pauseThread(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}
