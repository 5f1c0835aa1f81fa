import { parseDocument } from 'yaml';
import { ConfigError } from './config-error.js';

const GENERIC_PREFIX = 'OUTPOST__';

/** Shortcuts for the two settings most often changed per environment. */
const SHORTCUTS: Record<string, readonly string[]> = {
  OUTPOST_DATA_DIR: ['dataDir'],
  OUTPOST_LOG_LEVEL: ['log', 'level'],
};

export interface ConfigOverride {
  /** Where it came from, for error messages (e.g. the variable name). */
  source: string;
  path: readonly string[];
  value: unknown;
}

/** The value of `OUTPOST__a__b=…` is a YAML scalar or flow collection: `8080`, `true`, `[a, b]`, `{x: 1}`. */
function parseEnvValue(name: string, text: string): unknown {
  const doc = parseDocument(text, { logLevel: 'error', uniqueKeys: true, merge: false });
  if (doc.errors.length === 0 && doc.warnings.length === 0) {
    try {
      return doc.toJS({ maxAliasCount: 10 });
    } catch {
      // falls through to the error below (alias limits, circular references)
    }
  }
  throw new ConfigError([`${name}: got '${text}', expected a YAML scalar or flow value`]);
}

function genericPath(name: string): string[] {
  const path = name.slice(GENERIC_PREFIX.length).split('__');
  // Empty parts come from typos like OUTPOST__a___b (and make __proto__ unspellable).
  if (path.some((segment) => segment === '')) {
    throw new ConfigError([`${name}: expected OUTPOST__section__key with no empty parts`]);
  }
  return path;
}

/** Reads every override from the environment, in a stable order (shortcuts first, then by name). */
export function envOverrides(env: NodeJS.ProcessEnv): ConfigOverride[] {
  const overrides: ConfigOverride[] = [];
  for (const [name, path] of Object.entries(SHORTCUTS)) {
    const text = env[name];
    if (text !== undefined && text !== '') overrides.push({ source: name, path, value: text });
  }
  const generic = Object.keys(env)
    .filter((name) => name.startsWith(GENERIC_PREFIX))
    .sort();
  for (const name of generic) {
    overrides.push({ source: name, path: genericPath(name), value: parseEnvValue(name, env[name] ?? '') });
  }
  return overrides;
}
