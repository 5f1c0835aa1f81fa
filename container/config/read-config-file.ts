import { readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './config-error.js';

/** A config file is a few kilobytes; anything larger is a mistake (or an attack on the parser). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

function readLimited(file: string): string {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new ConfigError([`config file ${file}: not a regular file`]);
    size = stat.size;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(
      [`config file ${file}: ${code === 'ENOENT' ? 'not found' : `cannot read (${code})`}`],
      {
        cause: e,
      },
    );
  }
  if (size > MAX_CONFIG_BYTES) {
    throw new ConfigError([`config file ${file}: ${size} bytes, expected at most ${MAX_CONFIG_BYTES}`]);
  }
  return readFileSync(file, 'utf8');
}

/**
 * Parses YAML config text (JSON is YAML too) into plain data. An empty document is an empty
 * config; the top level must otherwise be a mapping. Errors carry line and column.
 */
export function parseConfigText(text: string, source: string): Record<string, unknown> {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError([`${source}: ${text.length} characters, expected at most ${MAX_CONFIG_BYTES}`]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    prettyErrors: false,
    uniqueKeys: true,
    merge: false,
    lineCounter,
    logLevel: 'error',
  });
  // Warnings (unknown tags, …) are errors here: a config file must mean exactly one thing.
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    throw new ConfigError(
      problems.map((err) => {
        const pos = lineCounter.linePos(err.pos[0]);
        const where = `${source}:${pos.line}:${pos.col}`;
        return `${where}: ${err.message.split('\n')[0]}`;
      }),
    );
  }
  let data: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs").
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError([`${source}: ${(e as Error).message}`], { cause: e });
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([
      `${source}: the top level must be a mapping of keys (dataDir, roles, connector, …)`,
    ]);
  }
  return data as Record<string, unknown>;
}

export function readConfigFile(file: string): Record<string, unknown> {
  return parseConfigText(readLimited(file), file);
}
