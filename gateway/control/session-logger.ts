import type { Bindings, Logger } from 'pino';
import type { TunnelLog } from '../tunnel/tunnel-state.js';

type SessionLevel = keyof TunnelLog;

/**
 * One session's log lines, each carrying the session's bindings (session, user, remote address),
 * without a pino child logger per session. A child serializes its bindings when it is made and
 * keeps them (about 1.2 KiB of strings plus the child object per held tunnel), and an idle tunnel
 * logs nothing after "tunnel connected": tens of thousands of them made the heap, and so every
 * full GC, bigger. Here each line is written by the parent with the bindings first in its object,
 * which is where a child would print them; a field the line sets again (`session`) is printed once.
 */
export class SessionLogger implements TunnelLog {
  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  debug(obj: unknown, msg?: string, ...args: unknown[]): void {
    this.write('debug', obj, msg, args);
  }

  info(obj: unknown, msg?: string, ...args: unknown[]): void {
    this.write('info', obj, msg, args);
  }

  warn(obj: unknown, msg?: string, ...args: unknown[]): void {
    this.write('warn', obj, msg, args);
  }

  error(obj: unknown, msg?: string, ...args: unknown[]): void {
    this.write('error', obj, msg, args);
  }

  private write(level: SessionLevel, obj: unknown, msg: string | undefined, args: unknown[]): void {
    const parent = this.parent;
    if (!parent.isLevelEnabled(level)) return;
    let line: unknown[];
    // pino's own forms: (error, msg?) puts the error under `err` and defaults msg to its message;
    // (string, ...args) is a message with format arguments.
    if (obj instanceof Error) line = [{ ...this.bindings, err: obj }, msg ?? obj.message, ...args];
    else if (typeof obj === 'object' && obj !== null) line = [{ ...this.bindings, ...obj }, msg, ...args];
    else if (msg === undefined && args.length === 0) line = [this.bindings, obj];
    else line = [this.bindings, obj, msg, ...args];
    Reflect.apply(parent[level], parent, line);
  }
}
