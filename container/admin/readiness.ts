import { isOutpostError } from '../../core/errors.js';

export interface ReadinessResult {
  ok: boolean;
  detail?: string;
}

export type ReadinessCheck = () => Promise<ReadinessResult>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, ReadinessResult>;
}

export interface ReadinessCheckOptions {
  /**
   * false: reported in `checks` but not counted in `ready` (a remote CA that is down degrades
   * issuance, while GetCACert, CRLs and the gateway keep working: no reason to take traffic away).
   */
  critical?: boolean;
}

/** Every check has a time limit: a hung dependency must make /readyz say "no", not hang. */
const DEFAULT_CHECK_TIMEOUT_MS = 2000;

function withTimeout(check: ReadinessCheck, timeoutMs: number): Promise<ReadinessResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const run = Promise.resolve()
    .then(check)
    // Only an OutpostError's client message is shown: /readyz may be reachable from the network.
    .catch(
      (e: unknown): ReadinessResult => ({
        ok: false,
        detail: isOutpostError(e) ? e.clientMessage : 'check failed',
      }),
    );
  return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
}

/** Named readiness checks (database open, CA loaded, link connected, …) that /readyz runs. */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly informational = new Set<string>();

  constructor(private readonly timeoutMs = DEFAULT_CHECK_TIMEOUT_MS) {}

  register(name: string, check: ReadinessCheck, options: ReadinessCheckOptions = {}): void {
    this.checks.set(name, check);
    if (options.critical === false) this.informational.add(name);
    else this.informational.delete(name);
  }

  /** Runs every check concurrently. With no checks registered the process is ready. */
  async run(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(
        async ([name, check]) => [name, await withTimeout(check, this.timeoutMs)] as const,
      ),
    );
    const ready = entries.every(([name, result]) => result.ok || this.informational.has(name));
    return { ready, checks: Object.fromEntries(entries) };
  }
}
