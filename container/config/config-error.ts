import { ErrorCodes, OutpostError } from '../../core/errors.js';

/**
 * Every config problem found, one line each, in one error: fixing a file one error at a time is
 * tedious. `problems` is what `outpost config check` prints.
 */
export class ConfigError extends OutpostError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(ErrorCodes.config, `invalid configuration:\n  ${problems.join('\n  ')}`, options);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
