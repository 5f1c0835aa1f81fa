/** A tunnel as the liveness sweep sees it (CstpTunnel). */
interface Watched {
  /**
   * Called when due with the time; returns when it next needs a call (ms, same clock). A time
   * not past `now` means on the next tick, about a second later.
   */
  checkLiveness(now: number): number;
}

/**
 * Open tunnels, checked for DPD and idle timeouts by one shared timer that ticks once a second
 * (not a timer per tunnel). Each tunnel is checked only when it says it is due, from a wheel of
 * one slot per second: a tunnel that is quiet, whose transport has shed what it can, waits for
 * its next DPD or idle deadline (at most `maxWaitMs`) instead of being visited every second;
 * holding tens of thousands of idle tunnels, the visits cost about 0.4 µs per tunnel per second.
 * Deadlines are read from the tunnel's activity stamps when it is visited, so a packet never
 * touches the wheel: a tunnel visited early (it was active meanwhile) is simply put back.
 */
const liveTunnels = new Set<Watched>();
/**
 * At most this long between two visits of a tunnel: a quiet tunnel that becomes active again
 * is back on per-second visits (its transport's `idle`) within it.
 */
export const maxWaitMs = 30_000;
/** Slots of one second each; more than maxWaitMs so that no wait wraps around. */
const slotCount = 64;
/** Tunnels due in second s are in slots[s % slotCount]; closed ones are dropped when visited. */
let slots: Watched[][] = emptySlots();
/** The first second whose slot has not been visited yet. */
let nextSecond = 0;
let livenessTimer: NodeJS.Timeout | undefined;
/**
 * The time the packet path stamps activity with, advanced by the liveness timer: DPD and idle
 * limits are whole seconds, so a clock read per packet would buy nothing.
 */
export let coarseNow = Date.now();

function emptySlots(): Watched[][] {
  return Array.from({ length: slotCount }, () => []);
}

/** Puts a tunnel in the slot of the second its next check is due, after `second` and within maxWaitMs. */
function schedule(tunnel: Watched, dueMs: number, second: number): void {
  // The tick in the due second may come before dueMs: the tunnel then says so again and goes to
  // the next second; either way it is visited by the first tick past dueMs, as a per-second sweep would.
  const wanted = Math.floor(dueMs / 1000);
  // (NaN, a past time: the next second.)
  const due = wanted > second + 1 ? Math.min(wanted, second + maxWaitMs / 1000) : second + 1;
  slots[due % slotCount]!.push(tunnel);
}

function tick(): void {
  const now = Date.now();
  coarseNow = now;
  const second = Math.floor(now / 1000);
  // Seconds the timer missed (a busy loop) are caught up, each slot at most once.
  const from = Math.max(nextSecond, second - slotCount + 1);
  for (let s = from; s <= second; s++) {
    const due = slots[s % slotCount]!;
    if (due.length === 0) continue;
    slots[s % slotCount] = [];
    for (const tunnel of due) {
      if (!liveTunnels.has(tunnel)) continue;
      const next = tunnel.checkLiveness(now);
      // A tunnel that ended during its check has left liveTunnels.
      if (liveTunnels.has(tunnel)) schedule(tunnel, next, second);
    }
  }
  nextSecond = second + 1;
}

export function watchLiveness(tunnel: Watched): void {
  liveTunnels.add(tunnel);
  if (!livenessTimer) {
    coarseNow = Date.now();
    nextSecond = Math.floor(coarseNow / 1000);
    livenessTimer = setInterval(tick, 1000);
    livenessTimer.unref();
  }
  schedule(tunnel, 0, Math.floor(Date.now() / 1000));
}

export function unwatchLiveness(tunnel: Watched): void {
  liveTunnels.delete(tunnel);
  if (liveTunnels.size === 0 && livenessTimer) {
    clearInterval(livenessTimer);
    livenessTimer = undefined;
    slots = emptySlots();
  }
}
