import { type Client, ResultCodeError } from 'ldapts';

/**
 * The service account's connection, opened once and reused for every search (RFC 4511 allows
 * many outstanding operations on one connection; ldapts matches replies by message id).
 * A socket-level failure (close, timeout, TLS) discards it and the next operation reconnects and
 * binds again; an LDAP result code (e.g. sizeLimitExceeded) leaves it in place. `open` gets a
 * callback to call when the connection's socket closes (see ldap-connect.ts): a connection the
 * server or the network dropped while idle is replaced before it is used, not after a timeout.
 */
export class ServiceConnection {
  private client: Client | undefined;
  /** Cleared by the current client's socket closing. */
  private alive = { value: false };
  private opening: Promise<Client> | undefined;

  constructor(private readonly open: (onClose: () => void) => Promise<Client>) {}

  async run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    try {
      return await operation(client);
    } catch (e) {
      if (!(e instanceof ResultCodeError)) this.discard(client);
      throw e;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.unbind().catch(() => undefined);
  }

  private acquire(): Promise<Client> {
    const current = this.client;
    if (current?.isConnected && this.alive.value) return Promise.resolve(current);
    if (current) this.discard(current); // the server closed it (idle timeout, restart)
    const alive = { value: true };
    this.opening ??= this.open(() => {
      alive.value = false;
    })
      .then((client) => {
        this.client = client;
        this.alive = alive;
        return client;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  private discard(client: Client): void {
    if (this.client === client) this.client = undefined;
    void client.unbind().catch(() => undefined);
  }
}
