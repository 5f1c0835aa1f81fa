import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { TunnelLog } from '../tunnel/tunnel-state.js';
import { SessionLogger } from './session-logger.js';

/** A logger like the appliance's (redaction, a component child), writing its lines into `lines`. */
function parentLogger(lines: string[], level = 'info') {
  const root = pino(
    { level, base: { service: 'outpost' }, timestamp: false, redact: { paths: ['cookie', '*.cookie'] } },
    { write: (line: string) => void lines.push(line) },
  );
  return root.child({ component: 'gateway' });
}

const bindings = { session: 's-1', user: 'alice', remote: '192.0.2.7', mobile: true };
const boom = new Error('boom');

const cases: { name: string; log: (l: TunnelLog) => void }[] = [
  { name: 'object and message', log: (l) => l.info({ ipv4: '10.0.0.2', mtu: 1400 }, 'tunnel connected') },
  { name: 'a field the bindings have', log: (l) => l.info({ session: 's-1', reason: 'x' }, 'terminating') },
  { name: 'message only', log: (l) => l.warn('tunnel not started') },
  { name: 'message with format arguments', log: (l) => l.info('mtu %d ignored', 1200) },
  { name: 'an error', log: (l) => l.error(boom) },
  { name: 'an error under err', log: (l) => l.error({ err: boom }, 'packet dropped') },
  { name: 'a secret field', log: (l) => l.info({ cookie: 'abc', nested: { cookie: 'def' } }, 'x') },
  { name: 'below the level', log: (l) => l.debug({ reason: 'r' }, 'stays on OpenSSL') },
];

describe('SessionLogger', () => {
  it.each(cases)('writes what a pino child with the same bindings writes: $name', ({ log }) => {
    const fromChild: string[] = [];
    const fromSession: string[] = [];
    log(parentLogger(fromChild).child(bindings));
    log(new SessionLogger(parentLogger(fromSession), bindings));
    expect(fromSession.map((l) => JSON.parse(l))).toEqual(fromChild.map((l) => JSON.parse(l)));
    for (const line of fromSession) {
      // Bindings where the child prints them (after the parent's), each key once.
      expect(Object.keys(JSON.parse(line)).slice(0, 6)).toEqual([
        'level',
        'service',
        'component',
        'session',
        'user',
        'remote',
      ]);
      expect(line.split('"session"').length).toBe(2);
    }
  });

  it('logs at debug when the parent does, and keeps no line below its level', () => {
    const lines: string[] = [];
    new SessionLogger(parentLogger(lines, 'debug'), bindings).debug({ reason: 'r' }, 'd');
    new SessionLogger(parentLogger(lines, 'warn'), bindings).info({ reason: 'r' }, 'i');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['d']);
  });
});
