import { applyOverrides } from './apply-overrides.js';
import { ConfigError } from './config-error.js';
import { containerGatewayListen, defaultDataDir } from './default-data-dir.js';
import { replaceDeprecatedValues } from './deprecated-values.js';
import { type ConfigOverride, envOverrides } from './env-overrides.js';
import { formatIssues } from './format-issues.js';
import { mergeLayer } from './merge-layer.js';
import { readConfigFile } from './read-config-file.js';
import { configSchema, type OutpostConfig } from './schema.js';

export interface LoadConfigOptions {
  /** YAML (or JSON) file; absent = embedded defaults only. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** From the command line; they win over the file and the environment. */
  overrides?: { dataDir?: string };
  /**
   * Sections pushed by the cloud control plane (`gateway`, `connector`), laid over the file:
   * the cloud manages what it pushes, the file keeps the rest, the environment and the command
   * line still win (an admin on the host can always override).
   */
  pushed?: Record<string, unknown>;
  /**
   * Told about each deprecated value the layers hold (it still loads, with the same meaning):
   * one line saying what to write instead.
   */
  onDeprecated?: (warning: string) => void;
}

function cliOverrides(overrides: LoadConfigOptions['overrides']): ConfigOverride[] {
  const list: ConfigOverride[] = [];
  if (overrides?.dataDir !== undefined)
    list.push({ source: '--data-dir', path: ['dataDir'], value: overrides.dataDir });
  return list;
}

/** The defaults tree, used to match upper-cased environment keys to the schema's camelCase names. */
function defaultsTree(): unknown {
  const parsed = configSchema.safeParse({});
  return parsed.success ? parsed.data : undefined;
}

/**
 * Builds the effective config: embedded defaults < file < environment < command line.
 * Throws ConfigError (code OUTPOST_ERR_CONFIG) listing every problem, never anything else.
 */
export function loadConfig(options: LoadConfigOptions = {}): OutpostConfig {
  const env = options.env ?? {};
  const fromFile = options.file ? readConfigFile(options.file) : {};
  const base = options.pushed ? (mergeLayer(fromFile, options.pushed) as typeof fromFile) : fromFile;
  const layered = applyOverrides(
    base,
    [...envOverrides(env), ...cliOverrides(options.overrides)],
    defaultsTree(),
  );
  if (layered.dataDir === undefined || layered.dataDir === null) {
    layered.dataDir = defaultDataDir(env);
  }
  for (const warning of replaceDeprecatedValues(layered)) options.onDeprecated?.(warning);
  const gatewayListen = containerGatewayListen(env);
  if (gatewayListen !== undefined) withContainerGatewayListen(layered, gatewayListen);
  let result: ReturnType<typeof configSchema.safeParse>;
  try {
    result = configSchema.safeParse(layered, { reportInput: true });
  } catch (e) {
    // A value the schema cannot even inspect (exotic YAML tags); report it rather than crash.
    throw new ConfigError([`configuration could not be validated: ${String(e)}`], { cause: e });
  }
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues));
  return result.data;
}

/** Sets gateway.listen where neither the file nor the environment did. */
function withContainerGatewayListen(layered: Record<string, unknown>, listen: string): void {
  const gateway = layered.gateway;
  if (gateway === undefined || gateway === null) layered.gateway = { listen };
  else if (typeof gateway === 'object' && !Array.isArray(gateway) && !('listen' in gateway))
    (gateway as Record<string, unknown>).listen = listen;
}
