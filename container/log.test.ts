import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it.each([
    ['top-level password', { password: 'hunter2' }],
    ['nested challenge', { req: { challenge: 'hunter2' } }],
    ['twice nested authorization', { req: { headers: { authorization: 'Bearer hunter2' } } }],
    ['a key', { ca: { key: 'hunter2' } }],
    ['a token', { token: 'hunter2' }],
    ['a secret', { cfg: { secret: 'hunter2' } }],
  ])('redacts %s', (_name, fields) => {
    const { lines, destination } = capture();
    createLogger({ level: 'info', destination }).info(fields, 'event');
    expect(JSON.stringify(lines[0])).not.toContain('hunter2');
    expect(JSON.stringify(lines[0])).toContain('[redacted]');
  });

  it('writes JSON with level, component and message', () => {
    const { lines, destination } = capture();
    createLogger({ level: 'info', destination }).child({ component: 'admin' }).info('started');
    expect(lines[0]).toMatchObject({ level: 30, component: 'admin', msg: 'started', service: 'outpost' });
  });

  it.each([
    ['warn', 1],
    ['info', 2],
    ['silent', 0],
  ] as const)('level %s filters', (level, count) => {
    const { lines, destination } = capture();
    const logger = createLogger({ level, destination });
    logger.warn('w');
    logger.info('i');
    logger.debug('d');
    expect(lines).toHaveLength(count);
  });
});
