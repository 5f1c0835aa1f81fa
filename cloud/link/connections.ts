import type { ApplianceRole, CloudMessage } from '../../link/schema/index.js';

/** A cloud message before `v` and `id` are stamped on it. */
export type Outbound = CloudMessage extends infer M
  ? M extends CloudMessage
    ? Omit<M, 'v' | 'id'>
    : never
  : never;

/** One appliance's live link, after its `hello`. */
export interface ApplianceConnection {
  readonly applianceId: string;
  /** The roles it said `hello` with that it is also enrolled for. */
  readonly roles: ReadonlySet<ApplianceRole>;
  /** The site it was enrolled into (its enrollment token's). */
  readonly site: string;
  send(message: Outbound): void;
  close(code: number, reason: string): void;
}

/** The current connection of each appliance: a newer one replaces (and closes) an older one. */
export class Connections {
  private readonly byId = new Map<string, ApplianceConnection>();

  /** Registers `connection`; returns the one it replaces, if any. */
  add(connection: ApplianceConnection): ApplianceConnection | undefined {
    const previous = this.byId.get(connection.applianceId);
    this.byId.set(connection.applianceId, connection);
    return previous === connection ? undefined : previous;
  }

  /** Unregisters `connection` if it is still the current one; returns whether it was. */
  remove(connection: ApplianceConnection): boolean {
    if (this.byId.get(connection.applianceId) !== connection) return false;
    this.byId.delete(connection.applianceId);
    return true;
  }

  get(applianceId: string): ApplianceConnection | undefined {
    return this.byId.get(applianceId);
  }

  isConnected(applianceId: string): boolean {
    return this.byId.has(applianceId);
  }

  all(): ApplianceConnection[] {
    return [...this.byId.values()];
  }
}
