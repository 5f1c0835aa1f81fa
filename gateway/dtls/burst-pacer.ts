/**
 * Spaces the full sendmmsg batches of one event-loop turn by a short pause.
 *
 * A download reaches the DTLS socket in bursts: one TUN read is up to 64 KiB of a TCP flow (45
 * full-size datagrams), and a turn may seal several reads, so without a pause one client gets
 * hundreds of datagrams within a few hundred microseconds. A client whose single thread decrypts
 * them one by one (openconnect) has 208 KiB of receive buffer by default (net.core.rmem_default,
 * 92 datagrams of 1.4 KB): when it is not already running, the rest of the burst is dropped in
 * its kernel, and the inner TCP retransmits it. Measured on the bench (issue 14, openconnect
 * 9.01, iperf3 -R): with a 100 µs pause after every full batch of 64, the client's
 * receive-buffer drops fell to a third and the download rose 1.3–1.8× at less server CPU per
 * gigabit; with at most 8 pauses per turn about half of that gain remained, so a turn may
 * pause 32 times (3.2 ms). The pause is a sleep of the event loop (Atomics.wait), not a spin:
 * it costs no CPU, and only a turn that sends more than 64 datagrams pauses at all.
 * (Kernel pacing, SO_TXTIME with the fq qdisc, would do this without holding the thread, where
 * the host's qdisc is fq.)
 */
export class BurstPacer {
  private pausesThisTurn = 0;
  /** Pauses taken since start (for tests and metrics). */
  pauses = 0;

  constructor(
    /** Microseconds between two full batches of one turn; 0: no pacing. */
    private readonly gapMicros: number,
    private readonly maxPausesPerTurn = 32,
    private readonly pause: (ms: number) => void = sleep,
  ) {}

  /** A full batch has just left and more of the same turn follows. */
  afterFullBatch(): void {
    if (this.gapMicros <= 0 || this.pausesThisTurn >= this.maxPausesPerTurn) return;
    this.pausesThisTurn++;
    this.pauses++;
    this.pause(this.gapMicros / 1000);
  }

  /** The turn's last batch has left: the next turn starts with its own allowance. */
  endOfTurn(): void {
    this.pausesThisTurn = 0;
  }
}

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` (fractions allowed) without using the CPU. */
function sleep(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}
