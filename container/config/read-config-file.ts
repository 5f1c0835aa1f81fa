import { readFileSync, statSync } from 'node:fs';
import { type Document, isAlias, isCollection, LineCounter, parseDocument, visit } from 'yaml';
import { ConfigError } from './config-error.js';

/** A config file is a few kilobytes; anything larger is a mistake (or an attack on the parser). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Deepest flow nesting (`[`/`{`) a config file may have; the schema's deepest value is a handful
 * of levels. 93,000 nested `[` took yaml and the schema 2 s (npm run fuzz, target config-yaml).
 */
export const MAX_FLOW_DEPTH = 64;

/**
 * The deepest `[`/`{` nesting of `text`, counted in one pass, outside quoted scalars and comments.
 * Brackets inside a plain scalar count too: that can only overstate the depth of a file, and no
 * real config comes near the limit.
 */
const scalarStart = new Set([' ', '\t', '\n', '\r', '[', '{', ',', ':', '-', '?']);

function flowDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if ((c === ']' || c === '}') && depth > 0) depth--;
    else if (c === '#' && (i === 0 || text[i - 1] === ' ' || text[i - 1] === '\t' || text[i - 1] === '\n')) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else if ((c === '"' || c === "'") && (i === 0 || scalarStart.has(text[i - 1]!))) {
      // A quote opens a quoted scalar only where a scalar may start (not in `O'Brien`), so a
      // stray quote cannot hide the brackets after it. YAML 1.2 §7.3: "…" escapes with a
      // backslash, '…' with a doubled quote.
      for (i++; i < text.length; i++) {
        if (c === '"' && text[i] === '\\') i++;
        else if (text[i] === c) {
          if (c === "'" && text[i + 1] === "'") i++;
          else break;
        }
      }
    }
  }
  return deepest;
}

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
  if (flowDepth(text) > MAX_FLOW_DEPTH) {
    throw new ConfigError([`${source}: [ ] and { } nested more than ${MAX_FLOW_DEPTH} deep`]);
  }
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, {
      prettyErrors: false,
      uniqueKeys: true,
      merge: false,
      lineCounter,
      logLevel: 'error',
    });
  } catch (e) {
    // yaml's parser recurses once per nesting level: ~2,000 nested `: ` overflow the stack
    // (RangeError; found by npm run fuzz, target config-yaml, seed 11).
    throw new ConfigError([`${source}: YAML nested too deeply to read`], { cause: e });
  }
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
  const complexKey = firstComplexKey(doc, source);
  if (complexKey !== undefined) {
    const pos = lineCounter.linePos(complexKey);
    throw new ConfigError([
      `${source}:${pos.line}:${pos.col}: a mapping key must be a plain value, not a collection or an alias (\`? …\`)`,
    ]);
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

/**
 * Where the first collection or alias used as a mapping key starts. No config key is one, and
 * yaml's toJS turns each into a string by writing out its subtree at every level: 200 nested
 * `? ` keys in front of a 10 KB file took 26 s (found by `npm run fuzz`, target config-yaml).
 */
function firstComplexKey(doc: Document, source: string): number | undefined {
  let found: number | undefined;
  try {
    visit(doc, {
      Pair(_, pair) {
        if (isCollection(pair.key) || isAlias(pair.key)) {
          found = pair.key.range?.[0] ?? 0;
          return visit.BREAK;
        }
      },
    });
  } catch (e) {
    // visit recurses: a document nested deeper than the stack is no config file either.
    throw new ConfigError([`${source}: nested too deeply`], { cause: e });
  }
  return found;
}

export function readConfigFile(file: string): Record<string, unknown> {
  return parseConfigText(readLimited(file), file);
}
