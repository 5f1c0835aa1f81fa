import fc from 'fast-check';
import { DecodeError } from '../core/errors.js';
import type { FuzzTarget } from './target.js';

export interface FuzzOptions {
  runs: number;
  seed: number;
  /** An input that keeps the decoder busier than this is a hang (decoders are synchronous). */
  hangMs: number;
  /** Stop generating after this long and report the inputs tried (for a wall-clock budget). */
  maxSeconds?: number;
}

export interface FuzzResult {
  target: string;
  /** Inputs tried before the first crash (or all of them, or as many as the time budget allowed). */
  runs: number;
  /** The time budget ran out before `runs` inputs. */
  interrupted: boolean;
  crashes: number;
  maxMs: number;
  wallMs: number;
  /** Typed decode errors whose cause is a JavaScript TypeError/RangeError: worth a look, not a crash. */
  wrapped: { count: number; first?: string };
  crash?: { seed: number; path: string; error: string; counterexample: string };
}

export class HangError extends Error {
  constructor(ms: number, limit: number) {
    super(`decoder took ${ms.toFixed(1)} ms on one input (limit ${limit} ms)`);
    this.name = 'HangError';
  }
}

function wrappedCause(error: unknown): string | undefined {
  if (!(error instanceof DecodeError)) return undefined;
  const cause = error.cause;
  return cause instanceof TypeError || cause instanceof RangeError
    ? `${cause.name}: ${cause.message}`
    : undefined;
}

/**
 * Runs one target for `runs` inputs from a fixed seed. fast-check stops at the first crash and
 * shrinks it to a minimal counterexample; `crashes` is therefore 0 or 1 per run. Statistics
 * (runs, max_ms) cover the generation phase only, not the shrinking.
 */
export function runFuzzTarget<T>(target: FuzzTarget<T>, options: FuzzOptions): FuzzResult {
  let maxMs = 0;
  let tried = 0;
  let shrinking = false;
  const wrapped: FuzzResult['wrapped'] = { count: 0 };
  const property = fc.property(target.arbitrary, (input) => {
    const started = performance.now();
    let thrown: unknown;
    let failed = false;
    try {
      target.check(input);
    } catch (error) {
      thrown = error;
      failed = true;
    }
    const ms = performance.now() - started;
    if (!shrinking) {
      tried++;
      if (ms > maxMs) maxMs = ms;
      const cause = wrappedCause(thrown);
      if (cause !== undefined && wrapped.count++ === 0) wrapped.first = cause;
    }
    if (failed && !target.isExpectedError(thrown)) {
      shrinking = true;
      throw thrown;
    }
    if (ms > options.hangMs) {
      shrinking = true;
      throw new HangError(ms, options.hangMs);
    }
  });
  const started = performance.now();
  const parameters: fc.Parameters<[T]> = { numRuns: options.runs, seed: options.seed };
  if (options.maxSeconds) parameters.plugins = [fc.interruptAfterTimeLimit(options.maxSeconds * 1000)];
  const details = fc.check(property, parameters);
  const result: FuzzResult = {
    target: target.name,
    runs: details.failed ? tried : details.numRuns,
    interrupted: details.interrupted,
    crashes: details.failed ? 1 : 0,
    maxMs,
    wallMs: performance.now() - started,
    wrapped,
  };
  if (details.failed) {
    const error = details.errorInstance;
    result.crash = {
      seed: options.seed,
      path: details.counterexamplePath ?? '',
      error: error instanceof Error ? (error.stack ?? String(error)) : String(error),
      counterexample: details.counterexample ? target.show(details.counterexample[0]) : '(none)',
    };
  }
  return result;
}

/** The summary line the issue asks for, one per target. */
export function summaryLine(r: FuzzResult): string {
  return `fuzz: target=${r.target} runs=${r.runs} crashes=${r.crashes} max_ms=${r.maxMs.toFixed(1)}`;
}
