import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameType, type ServerDisconnectReason } from '../cstp/index.js';
import type { Session } from '../session/session.js';
import { loadEvp } from '../tls/evp.js';
import { CstpTunnel, ipv4Number, reconnectElsewhere } from './cstp-tunnel.js';
import type { LastFrame, TransportHandlers, TunnelTransport } from './transport.js';
import type { TunnelTimers } from './tunnel-state.js';

const evp = loadEvp()!;

/** An IPv4 header (20 bytes) + payload from `source` to `destination`. */
function ipv4Packet(source: string, destination: string, payload = 'data'): Buffer {
  const packet = Buffer.alloc(20 + payload.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 64;
  packet[9] = 17;
  packet.writeUInt32BE(ipv4Number(source), 12);
  packet.writeUInt32BE(ipv4Number(destination), 16);
  packet.write(payload, 20);
  return packet;
}

class FakeTransport implements TunnelTransport {
  readonly kind = 'outpost';
  readonly protocol = 'test';
  handlers: TransportHandlers | undefined;
  sent: Array<{ type: FrameType; payload: Buffer }> = [];
  ended: LastFrame | undefined | 'no';
  /** The frame `end` sent last, as bytes on the wire. */
  get lastFrameHex(): string | undefined {
    return typeof this.ended === 'object'
      ? encodeFrame(this.ended.type, this.ended.payload).toString('hex')
      : undefined;
  }
  destroyed = false;
  setHandlers(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
  sendPacket(data: Buffer, offset: number, length: number): boolean {
    this.sent.push({ type: FrameType.data, payload: Buffer.from(data.subarray(offset, offset + length)) });
    return true;
  }
  sendFrame(type: FrameType, payload?: Uint8Array): void {
    this.sent.push({ type, payload: Buffer.from(payload ?? []) });
  }
  end(lastFrame?: LastFrame): void {
    this.ended = lastFrame ?? 'no';
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** Delivers bytes as Outpost's record layer does: with the buffer's native address. */
  deliver(bytes: Buffer, withAddress = true): void {
    const record = Buffer.concat([Buffer.alloc(3), bytes, Buffer.alloc(2)]);
    this.handlers!.data(record, 3, 3 + bytes.length, withAddress ? evp.address(record) : -1);
  }
}

function tunnel(
  faults: { tun?: number; transport?: number } = {},
  timers: TunnelTimers = { dpd: 30, idle: 600 },
) {
  const session = {
    id: 's1',
    ipv4: '10.200.100.7',
    bytesIn: 0,
    bytesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
  } as Session;
  const transport = new FakeTransport();
  const sendPacket = transport.sendPacket.bind(transport);
  transport.sendPacket = (data: Buffer, offset: number, length: number) => {
    if ((faults.transport ?? 0) > 0 && faults.transport!--) throw new Error('injected transport fault');
    return sendPacket(data, offset, length);
  };
  const toTun: Buffer[] = [];
  const drops: string[] = [];
  const closed: string[] = [];
  const t = new CstpTunnel({
    transport,
    session,
    mtu: 1400,
    timers,
    toTun: (packet) => {
      if ((faults.tun ?? 0) > 0 && faults.tun!--) throw new Error('injected TUN fault');
      return toTun.push(Buffer.from(packet)) > 0;
    },
    toTunFrom: (buffer, at, length, address) => {
      if ((faults.tun ?? 0) > 0 && faults.tun!--) throw new Error('injected TUN fault');
      const copy = Buffer.alloc(length);
      evp.copy(evp.address(copy), address + at, length);
      expect(copy.equals(buffer.subarray(at, at + length))).toBe(true);
      return toTun.push(copy) > 0;
    },
    counters: {
      dropped: (reason, _count, channel = 'tls') =>
        drops.push(channel === 'tls' ? reason : `${reason}/${channel}`),
    },
    logger: pino({ level: 'silent' }),
    onClose: (reason) => closed.push(reason),
  });
  return { t, session, transport, toTun, drops, closed };
}

describe('CstpTunnel', () => {
  it('passes a whole-record DATA frame to the TUN in place, and the same bytes through the decoder', () => {
    const { t, transport, toTun, session, closed } = tunnel();
    const packet = ipv4Packet('10.200.100.7', '10.200.2.2');
    transport.deliver(encodeFrame(FrameType.data, packet)); // fast path
    const frames = Buffer.concat([encodeFrame(FrameType.data, packet), encodeFrame(FrameType.data, packet)]);
    transport.deliver(frames.subarray(0, 5)); // decoder: split frames
    transport.deliver(frames.subarray(5));
    transport.deliver(encodeFrame(FrameType.data, packet), false); // decoder: no address
    expect(toTun.map((p) => p.equals(packet))).toEqual([true, true, true, true]);
    expect(session.packetsIn).toBe(4);
    expect(session.bytesIn).toBe(4 * packet.length);
    t.terminate('server shutdown');
    expect(closed).toEqual(['server shutdown']);
  });

  it('drops packets whose source is not the session address, on either path', () => {
    const { t, transport, toTun, drops } = tunnel();
    const spoofed = ipv4Packet('10.200.100.8', '10.200.2.2');
    transport.deliver(encodeFrame(FrameType.data, spoofed));
    transport.deliver(encodeFrame(FrameType.data, spoofed), false);
    transport.deliver(encodeFrame(FrameType.data, Buffer.from('not ip')));
    expect(toTun).toEqual([]);
    expect(drops).toEqual(['spoofed', 'spoofed', 'malformed']);
    t.terminate('server shutdown');
  });

  it('answers DPD, sends packets as DATA frames, and ends on a malformed stream', () => {
    const { transport, closed } = tunnel();
    transport.deliver(encodeFrame(FrameType.dpdRequest, Buffer.from('probe')));
    expect(transport.sent).toEqual([{ type: FrameType.dpdResponse, payload: Buffer.from('probe') }]);
    transport.deliver(Buffer.from('garbage!'));
    expect(closed).toEqual(['protocol error']);
    expect(transport.destroyed).toBe(true);
  });

  it('sends TUN packets as DATA frames and ends with a DISCONNECT that says why', () => {
    const { t, transport, session } = tunnel();
    const packet = ipv4Packet('10.200.2.2', '10.200.100.7');
    const ring = Buffer.concat([Buffer.alloc(9), packet]);
    t.sendPacket(ring, 9, packet.length, evp.address(ring));
    expect(transport.sent).toEqual([{ type: FrameType.data, payload: packet }]);
    expect(session.bytesOut).toBe(packet.length);
    t.terminate('disconnected by an administrator');
    // DISCONNECT, 0xb0, "disconnected by an administrator" (gateway/cstp/frame.test.ts fixtures)
    expect(transport.lastFrameHex).toBe(
      '5354460100210500b0646973636f6e6e656374656420627920616e2061646d696e6973747261746f72',
    );
  });

  it('a migration ends the tunnel without TERMINATE (openconnect then reconnects with its cookie)', () => {
    const { t, transport, closed } = tunnel();
    t.terminate(reconnectElsewhere);
    expect(transport.ended).toBe('no');
    expect(closed).toEqual([reconnectElsewhere]);
  });

  it('a fault on the packet path drops that packet as internal, and the tunnel carries on (both directions, both paths)', () => {
    const { t, transport, toTun, drops, closed, session } = tunnel({ tun: 2, transport: 1 });
    const packet = ipv4Packet('10.200.100.7', '10.200.2.2');
    transport.deliver(encodeFrame(FrameType.data, packet)); // fast path: fault
    transport.deliver(encodeFrame(FrameType.data, packet), false); // decoder path: fault
    transport.deliver(encodeFrame(FrameType.data, packet)); // passes
    const back = ipv4Packet('10.200.2.2', '10.200.100.7');
    t.sendPacket(back, 0, back.length, -1); // fault
    t.sendPacket(back, 0, back.length, -1); // passes
    expect(drops).toEqual(['internal', 'internal', 'internal']);
    expect(toTun).toHaveLength(1);
    expect(transport.sent).toHaveLength(1);
    expect(session.packetsIn).toBe(3); // received from the client, then two dropped
    expect(closed).toEqual([]);
    t.terminate('server shutdown');
  });

  it('a fault outside the packet path while decoding ends only this tunnel, as internal error', () => {
    const { transport, drops, closed } = tunnel();
    transport.sendFrame = () => {
      throw new Error('injected frame fault');
    };
    transport.deliver(encodeFrame(FrameType.dpdRequest, Buffer.from('probe')));
    expect(drops).toEqual(['internal']);
    expect(closed).toEqual(['internal error']);
  });
  it('sends DATA on an attached datagram transport, takes its frames inbound, and falls back to TLS when it closes', () => {
    const { t, transport, toTun, closed } = tunnel();
    const datagram = new FakeTransport();
    t.attachDatagram(datagram);
    const back = ipv4Packet('10.200.2.2', '10.200.100.7');
    t.sendPacket(back, 0, back.length, -1);
    expect(datagram.sent).toEqual([{ type: FrameType.data, payload: back }]);
    expect(transport.sent).toEqual([]);
    const packet = ipv4Packet('10.200.100.7', '10.200.2.2');
    datagram.deliver(encodeFrame(FrameType.data, packet));
    expect(toTun.map((p) => p.equals(packet))).toEqual([true]);
    datagram.handlers!.closed('datagram channel lost');
    t.sendPacket(back, 0, back.length, -1);
    expect(datagram.sent).toHaveLength(1);
    expect(transport.sent).toEqual([{ type: FrameType.data, payload: back }]);
    expect(closed).toEqual([]);
    const second = new FakeTransport();
    t.attachDatagram(second);
    t.terminate('server shutdown');
    expect(transport.ended).toMatchObject({ type: FrameType.disconnect });
    expect(second.destroyed).toBe(true);
  });

  it('follows the client to TLS when it sends DATA there, back to the datagram channel when DATA comes on it', () => {
    const { t, transport, toTun } = tunnel();
    const datagram = new FakeTransport();
    t.attachDatagram(datagram);
    const back = ipv4Packet('10.200.2.2', '10.200.100.7');
    const up = encodeFrame(FrameType.data, ipv4Packet('10.200.100.7', '10.200.2.2'));
    // Keepalives and DPD on TLS do not move anything (openconnect keeps them there).
    transport.deliver(encodeFrame(FrameType.keepalive));
    t.sendPacket(back, 0, back.length, -1);
    expect(datagram.sent).toHaveLength(1);
    transport.deliver(up);
    t.sendPacket(back, 0, back.length, -1);
    expect(transport.sent.filter((f) => f.type === FrameType.data)).toHaveLength(1);
    datagram.deliver(encodeFrame(FrameType.keepalive));
    t.sendPacket(back, 0, back.length, -1);
    expect(transport.sent.filter((f) => f.type === FrameType.data)).toHaveLength(2);
    datagram.deliver(up);
    t.sendPacket(back, 0, back.length, -1);
    expect(datagram.sent).toHaveLength(2);
    expect(toTun).toHaveLength(2);
  });

  it('replaces an attached datagram transport with a newer one, and gives both the liveness tick', () => {
    const { t } = tunnel();
    const first = new FakeTransport();
    const ticks: number[] = [];
    const second = Object.assign(new FakeTransport(), {
      idle: (now: number) => ticks.push(now) > 0,
    });
    t.attachDatagram(first);
    t.attachDatagram(second);
    expect(first.destroyed).toBe(true);
    first.handlers!.closed('replaced');
    const back = ipv4Packet('10.200.2.2', '10.200.100.7');
    t.sendPacket(back, 0, back.length, -1);
    expect(second.sent).toHaveLength(1);
    t.checkLiveness(Date.now());
    expect(ticks).toHaveLength(1);
  });
});

describe('CstpTunnel liveness (fixed clock)', () => {
  // The tunnel's own timers: a phone's come from gateway.timers.mobileDpd / mobileIdle
  // (control/gateway-policy.ts tunnelTimers), a desktop's from dpd / idle.
  it.each<[string, TunnelTimers, number, ServerDisconnectReason | undefined, string | undefined]>([
    [
      'a desktop, silent 601 s (DPD 90)',
      { dpd: 90, idle: 600 },
      601,
      'DPD timeout',
      '53544601000c0500b04450442074696d656f7574',
    ],
    [
      'a phone, silent 601 s (mobile DPD 1800, idle 3000)',
      { dpd: 1800, idle: 3000 },
      601,
      undefined,
      undefined,
    ],
    [
      'a phone past its mobile idle timeout',
      { dpd: 1800, idle: 3000 },
      3001,
      'idle timeout',
      '53544601000d0500b069646c652074696d656f7574',
    ],
    [
      'a phone past 3 × mobile DPD',
      { dpd: 1000, idle: 7200 },
      3001,
      'DPD timeout',
      '53544601000c0500b04450442074696d656f7574',
    ],
  ])('%s', (_name, timers, seconds, reason, frame) => {
    const { t, transport, closed } = tunnel({}, timers);
    t.checkLiveness(Date.now() + seconds * 1000);
    expect(closed).toEqual(reason ? [reason] : []);
    expect(transport.lastFrameHex).toBe(frame);
    t.terminate('server shutdown');
  });

  // When the shared sweep (liveness.ts) visits the tunnel next: `now` = the next second.
  it.each<[string, { transportBusy?: boolean; datagram?: boolean; silentS: number }, 'now' | number]>([
    [
      'quiet, transport hibernated: at the DPD probe (2 × 30 s after the last record)',
      { silentS: 5 },
      60_001,
    ],
    ['its transport still has state to shed', { silentS: 5, transportBusy: true }, 'now'],
    ['a datagram channel attached (its DPD runs on each visit)', { silentS: 5, datagram: true }, 'now'],
    ['a DPD probe outstanding', { silentS: 61 }, 'now'],
  ])('next visit: %s', (_name, c, expected) => {
    const { t, transport } = tunnel({}, { dpd: 30, idle: 600 });
    const start = t.lastReceived;
    t.lastData = start;
    if (c.transportBusy !== undefined) Object.assign(transport, { idle: () => c.transportBusy });
    if (c.datagram) t.attachDatagram(new FakeTransport());
    const now = start + c.silentS * 1000;
    expect(t.checkLiveness(now)).toBe(expected === 'now' ? now : start + expected);
    t.terminate('server shutdown');
  });

  it('next visit at the idle timeout when it comes before the DPD probe', () => {
    const { t } = tunnel({}, { dpd: 1800, idle: 600 });
    t.lastData = t.lastReceived;
    expect(t.checkLiveness(t.lastReceived + 1000)).toBe(t.lastReceived + 600_001);
    t.terminate('server shutdown');
  });

  it('probes with a DPD request after 2 × DPD of silence, before giving up', () => {
    const { t, transport, closed } = tunnel({}, { dpd: 1800, idle: 7200 });
    t.checkLiveness(Date.now() + 3601 * 1000);
    expect(transport.sent).toEqual([{ type: FrameType.dpdRequest, payload: Buffer.alloc(0) }]);
    expect(closed).toEqual([]);
    t.terminate('server shutdown');
  });

  it('keeps datagram frames out of the TLS stream decoder (which may hold half a TLS frame) and counts drops by channel', () => {
    const { t, transport, toTun, drops } = tunnel();
    const datagram = new FakeTransport();
    t.attachDatagram(datagram);
    const up = encodeFrame(FrameType.data, ipv4Packet('10.200.100.7', '10.200.2.2', 'tls'));
    transport.deliver(up.subarray(0, 5), false); // half a frame over TLS (OpenSSL's split)
    datagram.deliver(encodeFrame(FrameType.data, ipv4Packet('10.200.100.7', '10.200.2.2', 'dtls')));
    datagram.deliver(encodeFrame(FrameType.keepalive));
    transport.deliver(up.subarray(5), false);
    expect(toTun.map((p) => p.subarray(20).toString())).toEqual(['dtls', 'tls']);
    datagram.deliver(encodeFrame(FrameType.data, ipv4Packet('10.200.100.9', '10.200.2.2')));
    transport.deliver(encodeFrame(FrameType.data, ipv4Packet('10.200.100.9', '10.200.2.2')));
    datagram.deliver(Buffer.from('5354', 'hex'));
    expect(drops).toEqual(['spoofed/dtls', 'spoofed', 'malformed/dtls']);
  });
});
