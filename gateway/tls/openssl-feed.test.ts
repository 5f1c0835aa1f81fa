import { describe, expect, it } from 'vitest';
import { OpensslFeed } from './openssl-feed.js';

const tick = () => new Promise((r) => process.nextTick(r));

function feedWithLog() {
  const log: string[] = [];
  const feed = new OpensslFeed({
    write: (chunks) => log.push(`write ${chunks.map((c) => c.toString()).join('+')}`),
    end: () => log.push('sink end'),
    destroy: () => log.push('sink destroy'),
  });
  feed.on('data', (chunk: Buffer) => log.push(`data ${chunk.toString()}`));
  feed.on('end', () => log.push('end'));
  feed.on('close', () => log.push('close'));
  feed.on('error', (err: Error) => log.push(`error ${err.message}`));
  return { feed, log };
}

describe('OpensslFeed (the stream under a TLSSocket, as JSStreamSocket uses it)', () => {
  it('queues while paused, delivers in order on the tick after resume, then at once', async () => {
    const { feed, log } = feedWithLog();
    feed.pause();
    feed.push(Buffer.from('a'));
    feed.push(Buffer.from('b'));
    feed.resume();
    feed.push(Buffer.from('c')); // behind the queue, not before it
    expect(log).toEqual([]);
    await tick();
    expect(log).toEqual(['data a', 'data b', 'data c']);
    feed.push(Buffer.from('d'));
    expect(log.at(-1)).toBe('data d');
  });

  it('delivers the end of input after the data, and only while reading', async () => {
    const { feed, log } = feedWithLog();
    feed.pause();
    feed.push(Buffer.from('a'));
    feed.push(null);
    feed.push(Buffer.from('late')); // after the end: dropped
    await tick();
    expect(log).toEqual([]);
    feed.resume();
    await tick();
    expect(log).toEqual(['data a', 'end']);
    expect(feed.readable).toBe(false);
  });

  it('hands corked writes to the sink as one, single writes at once, and acknowledges each', () => {
    const { feed, log } = feedWithLog();
    const acks: unknown[] = [];
    feed.write(Buffer.from('x'), (err) => acks.push(err));
    feed.cork();
    feed.write(Buffer.from('y'), (err) => acks.push(err));
    feed.write(Buffer.from('z'), (err) => acks.push(err));
    expect(log).toEqual(['write x']);
    feed.uncork();
    expect(log).toEqual(['write x', 'write y+z']);
    expect(acks).toEqual([null, null, null]);
  });

  it('refuses writes after its end with EPIPE (what JSStreamSocket maps to a uv error)', async () => {
    const { feed } = feedWithLog();
    feed.end();
    const err = await new Promise<Error & { code?: string }>((resolve) =>
      feed.write(Buffer.from('x'), (e) => resolve(e as Error)),
    );
    expect(err.code).toBe('EPIPE');
  });

  it('destroys itself once both sides ended, as a Duplex with autoDestroy', async () => {
    const { feed, log } = feedWithLog();
    feed.resume();
    feed.cork();
    feed.write(Buffer.from('last'));
    let ended = false;
    feed.end(() => (ended = true));
    expect(log).toEqual(['write last', 'sink end']);
    feed.push(null);
    await tick();
    await tick();
    await tick();
    expect(ended).toBe(true);
    expect(log).toEqual(['write last', 'sink end', 'end', 'sink destroy', 'close']);
  });

  it('destroy tells the sink once, then reports the error and closes', async () => {
    const { feed, log } = feedWithLog();
    feed.destroy(new Error('reset'));
    feed.destroy();
    feed.push(Buffer.from('after'));
    await tick();
    expect(log).toEqual(['sink destroy', 'error reset', 'close']);
  });
});
