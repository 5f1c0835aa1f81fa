import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

/** Field names whose values are secrets wherever they appear (DESIGN rule 6). */
const SECRET_FIELDS = [
  'password',
  'passphrase',
  'secret',
  'key',
  'privateKey',
  'token',
  'challenge',
  'authorization',
  'cookie',
];

/**
 * pino redaction paths cannot express "at any depth", so each secret field is listed at the top
 * level and at two levels of nesting, which covers `{ req: { headers: { authorization } } }`.
 */
export const REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.*.${field}`,
]);

export interface LoggerOptions {
  level: LevelWithSilent;
  /** Defaults to stdout; tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

/** The appliance's root logger: JSON lines, secrets redacted. Components use `logger.child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'outpost' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export type { Logger };
