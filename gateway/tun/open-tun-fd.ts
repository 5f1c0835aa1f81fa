/**
 * Opens /dev/net/tun non-blocking and binds it to interface `name` with TUNSETIFF (IFF_TUN |
 * IFF_NO_PI, plus IFF_VNET_HDR when asked): attaches to an existing persistent TUN of that name,
 * else creates a new one that disappears when the fd is closed. IFF_VNET_HDR is a per-queue
 * feature, so attaching with it to a TUN someone else created works.
 */
import fs from 'node:fs';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { IFF_NO_PI, IFF_TUN, IFF_VNET_HDR, IFNAMSIZ, libc, TUNSETIFF } from './libc.js';

export const TUN_CLONE_DEVICE = '/dev/net/tun';

const ERRNO_HINTS: Record<number, string> = {
  1: 'needs CAP_NET_ADMIN (docker run --cap-add NET_ADMIN --device /dev/net/tun)',
  13: 'permission denied on /dev/net/tun (run as root or give the service CAP_NET_ADMIN)',
  16: 'the interface is busy: another process has this TUN open',
  22: 'invalid interface name, or an interface of that name exists and is not a TUN device',
};

export function openTunFd(
  name: string,
  options: { vnetHeader?: boolean } = {},
): { fd: number; name: string } {
  if (Buffer.byteLength(name) >= IFNAMSIZ || !/^[A-Za-z0-9_.%-]+$/.test(name)) {
    throw new OutpostError(ErrorCodes.config, 'invalid TUN interface name', { detail: JSON.stringify(name) });
  }
  let fd: number;
  try {
    fd = fs.openSync(TUN_CLONE_DEVICE, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const fix =
      code === 'ENOENT'
        ? 'the TUN device node is missing (docker run --device /dev/net/tun, or modprobe tun)'
        : 'run with CAP_NET_ADMIN and access to /dev/net/tun (docker run --cap-add NET_ADMIN --device /dev/net/tun)';
    throw new OutpostError(ErrorCodes.config, `cannot open ${TUN_CLONE_DEVICE}`, {
      cause,
      detail: `${code}: ${fix}`,
    });
  }
  // struct ifreq: char ifr_name[16]; short ifr_flags; padding to 40 bytes.
  const ifreq = Buffer.alloc(40);
  ifreq.write(name, 0, IFNAMSIZ - 1, 'ascii');
  ifreq.writeUInt16LE(IFF_TUN | IFF_NO_PI | (options.vnetHeader ? IFF_VNET_HDR : 0), IFNAMSIZ);
  const c = libc();
  if (c.ioctl(fd, TUNSETIFF, ifreq) < 0) {
    const errno = c.errno();
    fs.closeSync(fd);
    throw new OutpostError(ErrorCodes.config, `cannot attach TUN interface ${name}`, {
      detail: `ioctl(TUNSETIFF) errno ${errno}: ${ERRNO_HINTS[errno] ?? 'unexpected error'}`,
    });
  }
  // The kernel writes back the final name (it expands a `%d` pattern).
  const end = ifreq.indexOf(0);
  return { fd, name: ifreq.toString('ascii', 0, end === -1 || end > IFNAMSIZ ? IFNAMSIZ : end) };
}
