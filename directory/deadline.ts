/**
 * Rejects with `onExpire()` when `promise` has not settled within `ms`. ldapts times connects and
 * operations itself, but not the StartTLS handshake, so every connection setup goes through here.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onExpire: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onExpire()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
