import { describe, expect, it } from 'vitest';
import { ConnectionBalancer } from './connection-balancer.js';

type Step = ['open', number] | ['close', string, number] | ['join', string] | ['leave', string];

/** Runs the steps on a balancer of workers a and b, and returns the open counts per member. */
function run(steps: Step[], members = ['a', 'b']): Record<string, number> {
  const balancer = new ConnectionBalancer<string>();
  for (const m of members) balancer.join(m);
  for (const step of steps) {
    if (step[0] === 'open') for (let i = 0; i < step[1]; i++) balancer.assign();
    else if (step[0] === 'close') for (let i = 0; i < step[2]; i++) balancer.closed(step[1]);
    else if (step[0] === 'join') balancer.join(step[1]);
    else balancer.leave(step[1]);
  }
  const live = [...members, ...steps.flatMap((s) => (s[0] === 'join' ? [s[1]] : []))].filter(
    (m) => !steps.some((s) => s[0] === 'leave' && s[1] === m),
  );
  const counts = balancer.counts();
  return Object.fromEntries(live.map((m, i) => [m, counts[i]!]));
}

describe('ConnectionBalancer: each new connection goes to the member with the fewest open', () => {
  it.each<[string, Step[], Record<string, number>]>([
    ['16 keep-alive connections at once', [['open', 16]], { a: 8, b: 8 }],
    ['an odd burst', [['open', 15]], { a: 8, b: 7 }],
    // Round-robin would give 4/4 of the new eight whatever was closed: 4/8 at the end.
    [
      'after one member lost four, it gets the new ones until even',
      [
        ['open', 8],
        ['close', 'a', 4],
        ['open', 8],
      ],
      { a: 6, b: 6 },
    ],
    [
      'a member that joins late takes new connections until even',
      [
        ['open', 8],
        ['join', 'c'],
        ['open', 4],
      ],
      { a: 4, b: 4, c: 4 },
    ],
    [
      'a member that left takes none',
      [
        ['open', 4],
        ['leave', 'a'],
        ['open', 4],
      ],
      { b: 6 },
    ],
    [
      'closes never go below zero',
      [
        ['close', 'a', 3],
        ['open', 2],
      ],
      { a: 1, b: 1 },
    ],
  ])('%s', (_name, steps, expected) => {
    expect(run(steps)).toEqual(expected);
  });

  it('ties go to the members in turn: one connection at a time alternates', () => {
    const balancer = new ConnectionBalancer<string>();
    balancer.join('a');
    balancer.join('b');
    const chosen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const m = balancer.assign()!;
      chosen.push(m);
      balancer.closed(m);
    }
    expect(chosen).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  it('no member: no target', () => {
    expect(new ConnectionBalancer<string>().assign()).toBeUndefined();
  });
});
