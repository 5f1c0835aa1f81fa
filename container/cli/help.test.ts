import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, runCli } from './program.js';

// The README's CLI section is what operators read; `--help` is what they get. This keeps the two
// saying the same thing: every option the README gives a verb is in that verb's help, and every
// verb that prints data takes --json.

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const silent = { io: { out: () => {}, err: () => {} }, env: {} };

/** Verbs that run a service in the foreground and print logs, not data. */
const SERVICE_VERBS = ['run', 'cloud'];

/** Every verb that runs something (the leaves of the command tree), as its words after `outpost`. */
function leafVerbs(command: Command, path: string[] = []): string[][] {
  if (command.commands.length === 0) return [path];
  return command.commands.flatMap((sub) => leafVerbs(sub, [...path, sub.name()]));
}

function findVerb(words: readonly string[]): Command {
  let command = buildProgram(silent);
  for (const word of words) {
    const sub = command.commands.find((c) => c.name() === word);
    if (!sub) throw new Error(`no verb ${words.join(' ')}`);
    command = sub;
  }
  return command;
}

async function help(words: readonly string[]): Promise<string> {
  let out = '';
  const code = await runCli([...words, '--help'], {
    ...silent,
    io: {
      out: (text) => {
        out += text;
      },
      err: () => {},
    },
  });
  expect(code).toBe(0);
  return out;
}

/**
 * The README's CLI table: each backquoted command of the first column, as the verb it names and
 * the options it shows (`outpost certs pending`, `certs approve TXID` → two entries).
 */
function readmeVerbs(): Array<{ verb: string[]; options: string[] }> {
  const section = README.slice(README.indexOf('### CLI'), README.indexOf('### Container'));
  const program = buildProgram(silent);
  const rows = section.split('\n').filter((line) => line.startsWith('| `outpost '));
  return rows.flatMap((row) => {
    const cell = row.split(/(?<!\\)\|/)[1] ?? '';
    return [...cell.matchAll(/`([^`]+)`/g)].map(([, snippet = '']) => {
      const words = snippet.replace(/^outpost /, '').split(/\s+/);
      const verb: string[] = [];
      let command = program;
      for (const word of words) {
        const sub = command.commands.find((c) => c.name() === word);
        if (!sub) break;
        verb.push(word);
        command = sub;
      }
      return { verb, options: [...snippet.matchAll(/--[a-z][a-z0-9-]*/g)].map(([option]) => option) };
    });
  });
}

const leaves = leafVerbs(buildProgram(silent));
const documented = readmeVerbs();

describe('outpost --help', () => {
  it('the README table names every verb', () => {
    expect(leaves.length).toBeGreaterThan(15);
    const named = new Set(documented.map((d) => d.verb.join(' ')));
    expect(leaves.map((v) => v.join(' ')).filter((v) => !named.has(v))).toEqual([]);
  });

  it.each(documented.map((d) => [d.verb.join(' '), d.options] as const))(
    'outpost %s --help shows %j and the global --data-dir',
    async (verb, options) => {
      const text = await help(verb.split(' '));
      expect(text).toContain(`Usage: outpost ${verb}`);
      // Listed as an option (a line of its own), not just named in a footer.
      for (const option of [...options, '--data-dir'])
        expect(text).toMatch(new RegExp(`^ {2}(?:-[A-Za-z], )?${option}\\b`, 'm'));
      // The control plane keeps its state in --data-dir and reads no appliance config.
      if (verb === 'cloud') expect(text).not.toContain('--config');
      else expect(text).toMatch(/Global Options:[\s\S]*--config <file>/);
    },
  );

  it.each(leaves.filter((v) => !SERVICE_VERBS.includes(v.join(' '))).map((v) => [v.join(' ')]))(
    'outpost %s takes --json',
    async (verb) => {
      const command = findVerb(verb.split(' '));
      expect(command.options.map((o) => o.long)).toContain('--json');
      expect(await help(verb.split(' '))).toMatch(/^ {2}--json\b/m);
    },
  );
});
