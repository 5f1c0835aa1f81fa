/** A tunnel as the liveness sweep sees it (CstpTunnel). */
interface Watched {
  /** Called about once a second with the time. */
  checkLiveness(now: number): void;
}

/**
 * Open tunnels, checked for DPD and idle timeouts once a second by one shared timer (not a timer
 * per tunnel: with tens of thousands of idle sessions that is one Timeout object each and as many
 * callbacks every second). The timer runs only while a tunnel is open.
 */
const liveTunnels = new Set<Watched>();
let livenessTimer: NodeJS.Timeout | undefined;
/**
 * The time the packet path stamps activity with, advanced by the liveness timer: DPD and idle
 * limits are whole seconds, so a clock read per packet would buy nothing.
 */
export let coarseNow = Date.now();

export function watchLiveness(tunnel: Watched): void {
  liveTunnels.add(tunnel);
  if (livenessTimer) return;
  coarseNow = Date.now();
  livenessTimer = setInterval(() => {
    const now = Date.now();
    coarseNow = now;
    // A tunnel that ends during the sweep removes itself; deleting the visited entry is safe.
    for (const t of liveTunnels) t.checkLiveness(now);
  }, 1000);
  livenessTimer.unref();
}

export function unwatchLiveness(tunnel: Watched): void {
  liveTunnels.delete(tunnel);
  if (liveTunnels.size === 0 && livenessTimer) {
    clearInterval(livenessTimer);
    livenessTimer = undefined;
  }
}
