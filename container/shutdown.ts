import type { Logger } from 'pino';

export type Closer = () => Promise<void> | void;

/** The parts of `process` the manager uses, so tests can drive it without real signals. */
export interface ProcessLike {
  on(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

export interface ShutdownOptions {
  logger: Logger;
  /** Overall budget for every closer together. */
  timeoutMs?: number;
  process?: ProcessLike;
}

export const EXIT_CLEAN = 0;
export const EXIT_UNCLEAN = 1;

/**
 * Closes what was started, in reverse order (the HTTP servers before the database they use), on
 * SIGTERM/SIGINT. A closer that fails is logged and the rest still run. A second signal, or the
 * overall timeout, exits at once: an orchestrator waiting on a hung closer is worse than a
 * restart.
 */
export class ShutdownManager {
  private readonly closers: Array<{ name: string; close: Closer }> = [];
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly proc: ProcessLike;
  private running: Promise<number> | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => this.handleSignal(signal);

  constructor(options: ShutdownOptions) {
    this.logger = options.logger.child({ component: 'shutdown' });
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.proc = options.process ?? process;
  }

  register(name: string, close: Closer): void {
    this.closers.push({ name, close });
  }

  installSignalHandlers(): void {
    this.proc.on('SIGTERM', this.onSignal);
    this.proc.on('SIGINT', this.onSignal);
  }

  removeSignalHandlers(): void {
    this.proc.off('SIGTERM', this.onSignal);
    this.proc.off('SIGINT', this.onSignal);
  }

  /**
   * Runs every closer once (later calls share the first run) and resolves with the exit code:
   * `exitCode` when the process ends for a failure of its own (a failed start), else 0 when every
   * closer succeeded. The log line gives the code the process will exit with.
   */
  run(reason: string, exitCode: number = EXIT_CLEAN): Promise<number> {
    this.running ??= this.closeAll(reason, exitCode);
    return this.running;
  }

  /** run(), then exit the process with its code. */
  async shutdownAndExit(reason: string): Promise<void> {
    const code = await this.run(reason);
    this.removeSignalHandlers();
    this.proc.exit(code);
  }

  private handleSignal(signal: NodeJS.Signals): void {
    if (this.running) {
      this.logger.warn({ signal }, 'second signal: exiting without waiting for closers');
      this.proc.exit(EXIT_UNCLEAN);
      return;
    }
    this.logger.info({ signal }, 'shutting down');
    void this.shutdownAndExit(signal);
  }

  private async closeAll(reason: string, exitCode: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        this.logger.error({ timeoutMs: this.timeoutMs }, 'shutdown timed out');
        resolve(EXIT_UNCLEAN);
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([this.closeInReverse(reason, exitCode), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async closeInReverse(reason: string, exitCode: number): Promise<number> {
    let code = exitCode;
    for (const { name, close } of [...this.closers].reverse()) {
      const started = performance.now();
      try {
        await close();
        this.logger.info({ closer: name, ms: Math.round(performance.now() - started) }, 'closed');
      } catch (err) {
        code = Math.max(code, EXIT_UNCLEAN);
        this.logger.error({ closer: name, err }, 'closer failed');
      }
    }
    this.logger.info({ reason, code }, 'shutdown complete');
    return code;
  }
}
