import type { z } from 'zod';
import { dottedPath, isSecretPath } from './config-path.js';
import { describeValue } from './describe-value.js';

type Issue = z.core.$ZodIssue;

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function sizeUnit(origin: string, count: number): string {
  const plural = count === 1 ? '' : 's';
  if (origin === 'string') return ` character${plural}`;
  if (origin === 'array' || origin === 'set') return ` item${plural}`;
  return '';
}

function boundText(issue: Issue & { code: 'too_small' | 'too_big' }): string {
  const isMin = issue.code === 'too_small';
  const bound = Number(isMin ? issue.minimum : issue.maximum);
  const unit = sizeUnit(issue.origin, bound);
  if (unit) return `${isMin ? 'at least' : 'at most'} ${bound}${unit}`;
  const op = isMin ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
  return `a number ${op} ${bound}`;
}

/** The "expected …" half of an error line. Our own refinements already phrase it that way. */
function expectedText(issue: Issue): string {
  if (issue.message.startsWith('expected ')) return issue.message.slice('expected '.length);
  switch (issue.code) {
    case 'invalid_type':
      return TYPE_NAMES[issue.expected] ?? issue.expected;
    case 'invalid_value':
      return issue.values.length === 1
        ? describeValue(issue.values[0])
        : `one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
    case 'too_big':
      return boundText(issue);
    case 'invalid_format':
      return `a valid ${issue.format}`;
    case 'not_multiple_of':
      return `a multiple of ${String(issue.divisor)}`;
    case 'invalid_key':
      return issue.issues[0] ? expectedText(issue.issues[0] as Issue) : 'a valid key';
    default:
      return 'a valid value';
  }
}

/**
 * One line per problem: `<dotted.key>: got <value>, expected <allowed>`, or `unknown key <dotted.key>`.
 * Requires the issues to have been produced with `reportInput: true`.
 */
export function formatIssues(issues: readonly Issue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`unknown key ${dottedPath([...issue.path, key])}`);
      continue;
    }
    const where = dottedPath(issue.path);
    if (issue.code === 'invalid_key') {
      lines.push(`${where}: invalid name, expected ${expectedText(issue)}`);
      continue;
    }
    const got = describeValue(issue.input, isSecretPath(issue.path));
    lines.push(`${where}: got ${got}, expected ${expectedText(issue)}`);
  }
  return lines;
}
