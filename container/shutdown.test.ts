import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ShutdownManager } from './shutdown.js';

const silent = pino({ level: 'silent' });

function fakeProcess() {
  const emitter = new EventEmitter();
  const exit = vi.fn<(code: number) => void>();
  return { proc: { on: emitter.on.bind(emitter), off: emitter.off.bind(emitter), exit }, emitter, exit };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('ShutdownManager', () => {
  it('closes in reverse order of registration', async () => {
    const order: string[] = [];
    const manager = new ShutdownManager({ logger: silent });
    for (const name of ['db', 'ca', 'http']) manager.register(name, async () => void order.push(name));
    expect(await manager.run('test')).toBe(0);
    expect(order).toEqual(['http', 'ca', 'db']);
  });

  it.each([
    ['all closers succeed', [async () => {}], 0],
    ['a closer throws (others still run)', [() => Promise.reject(new Error('x')), async () => {}], 1],
    ['a closer hangs past the timeout', [() => new Promise<void>(() => {})], 1],
  ] as const)('%s → exit code %d', async (_name, closers, expected) => {
    const manager = new ShutdownManager({ logger: silent, timeoutMs: 50 });
    for (const [i, close] of closers.entries()) manager.register(`c${i}`, close);
    expect(await manager.run('test')).toBe(expected);
  });

  it.each([
    ['config error (exit 2)', 2],
    ['any other failure (exit 1)', 1],
  ])('a failed start (%s) logs the exit status it ends with, not 0', async (_name, status) => {
    const lines: { msg?: string; code?: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const manager = new ShutdownManager({ logger });
    manager.register('db', async () => {});
    expect(await manager.run('start-up failed', status)).toBe(status);
    expect(lines.find((l) => l.msg === 'shutdown complete')?.code).toBe(status);
  });

  it('runs the closers once however often it is asked', async () => {
    const close = vi.fn();
    const manager = new ShutdownManager({ logger: silent });
    manager.register('x', close);
    await Promise.all([manager.run('a'), manager.run('b')]);
    expect(close).toHaveBeenCalledTimes(1);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s shuts down and exits 0', async (signal) => {
    const { proc, emitter, exit } = fakeProcess();
    const manager = new ShutdownManager({ logger: silent, process: proc });
    const close = vi.fn();
    manager.register('x', close);
    manager.installSignalHandlers();
    emitter.emit(signal, signal);
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0));
    expect(close).toHaveBeenCalled();
    expect(emitter.listenerCount('SIGTERM')).toBe(0);
  });

  it('a second signal forces exit 1 while closers still run', async () => {
    const { proc, emitter, exit } = fakeProcess();
    const manager = new ShutdownManager({ logger: silent, process: proc, timeoutMs: 5000 });
    manager.register('slow', () => sleep(200));
    manager.installSignalHandlers();
    emitter.emit('SIGTERM', 'SIGTERM');
    emitter.emit('SIGINT', 'SIGINT');
    expect(exit).toHaveBeenCalledWith(1);
  });
});
