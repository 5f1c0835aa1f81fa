import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parseConfigText } from './read-config-file.js';

describe('parseConfigText refuses YAML a config file never needs', () => {
  // Shrunk from the config-yaml fuzz target (seed 11): nested explicit keys in front of the example
  // config; yaml's toJS stringifies each collection key level by level (seconds at 200 levels).
  it.each([
    ['nested explicit keys', `${'? '.repeat(40)}dataDir: ./data\n`, 'x.yaml:1:3'],
    ['a collection as key', '? [a, b]\n: 1\n', 'x.yaml:1:3'],
    ['a flow mapping as key', '{a: 1}: 2\n', 'x.yaml:1:1'],
    ['an alias as key', 'a: &k x\n*k : 1\n', 'x.yaml:2:1'],
  ])('%s', (_name, text, where) => {
    let error: unknown;
    try {
      parseConfigText(text, 'x.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as ConfigError).message)).toContain(`${where}: a mapping key must be a plain value`);
  });

  it('a document nested deeper than the YAML parser can recurse is a ConfigError, not a RangeError', () => {
    // From the config-yaml fuzz target (seed 11): ": " repeated ~2,000 times before a block mapping.
    expect(() => parseConfigText(`${': '.repeat(5000)}a:\n  b: 1\n`, 'x.yaml')).toThrow(ConfigError);
  });

  it('flow collections nested past the limit are refused at once, in one pass', () => {
    // From the config-yaml fuzz target (seed 11): ~93,000 nested [ took 2 s to parse and check.
    const deep = `a: ${'['.repeat(93_000)}${']'.repeat(93_000)}\n`;
    expect(() => parseConfigText(deep, 'x.yaml')).toThrow(/nested more than 64 deep/);
    expect(() => parseConfigText(`a: ${'{b: '.repeat(65)}1${'}'.repeat(65)}\n`, 'x.yaml')).toThrow(
      ConfigError,
    );
    // Brackets in quotes and comments do not count; 64 levels are still read.
    const quoted = `a: "${'['.repeat(100)}"\nb: '${'{'.repeat(100)}'' ['\n# ${'['.repeat(100)}\n`;
    expect(parseConfigText(quoted, 'x.yaml')).toEqual({ a: '['.repeat(100), b: `${'{'.repeat(100)}' [` });
    expect(parseConfigText(`a: ${'['.repeat(64)}1${']'.repeat(64)}\n`, 'x.yaml').a).toBeDefined();
    // A quote inside a plain scalar opens nothing: the brackets after it still count.
    expect(() => parseConfigText(`a: O'Brien ${'['.repeat(100)}\n`, 'x.yaml')).toThrow(/nested more than 64/);
  });

  it('still reads plain keys, anchors and aliases as values', () => {
    expect(parseConfigText('a: &v [1, 2]\nb: *v\n"quoted key": 3\n', 'x.yaml')).toEqual({
      a: [1, 2],
      b: [1, 2],
      'quoted key': 3,
    });
  });
});
