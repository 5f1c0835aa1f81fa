import type { Logger } from 'pino';
import type { WireError } from '../../link/schema/index.js';
import type { ApplianceConnection, Connections } from '../link/connections.js';
import type { Appliances } from '../store/appliances.js';
import type { ConfigBody, Configs } from '../store/configs.js';

export interface ConfigPusherOptions {
  configs: Configs;
  appliances: Appliances;
  connections: Connections;
  clock: () => Date;
  logger: Logger;
}

/**
 * Config versions: stored on `PUT /v1/admin/appliances/:id/config`, pushed at once if the appliance is
 * connected, otherwise at its next `hello` when the version it reports is older. The appliance's
 * `config.result` records the version applied, or the rejected one with its reason.
 */
export class ConfigPusher {
  constructor(private readonly o: ConfigPusherOptions) {}

  put(applianceId: string, body: ConfigBody): number {
    const version = this.o.configs.add(applianceId, body, this.o.clock());
    const connection = this.o.connections.get(applianceId);
    if (connection) this.push(connection, version, body);
    return version;
  }

  onHello(connection: ApplianceConnection, appliedVersion: number | null): void {
    const latest = this.o.configs.latest(connection.applianceId);
    if (latest && latest.version > (appliedVersion ?? 0)) this.push(connection, latest.version, latest.body);
  }

  /** Returns false for a version never pushed to this appliance. */
  onResult(
    connection: ApplianceConnection,
    version: number,
    status: 'applied' | 'rejected',
    error: WireError | undefined,
  ): boolean {
    const id = connection.applianceId;
    if (!this.o.configs.exists(id, version)) return false;
    if (status === 'applied') this.o.appliances.recordConfigApplied(id, version);
    else this.o.appliances.recordConfigRejected(id, version, error?.message ?? 'rejected');
    this.o.logger.info({ applianceId: id, version, status }, 'config result');
    return true;
  }

  private push(connection: ApplianceConnection, version: number, body: ConfigBody): void {
    connection.send({ type: 'config', version, config: body });
  }
}
