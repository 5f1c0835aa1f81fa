import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BackoffPolicy } from './backoff.js';
import { ConfigDispatcher } from './config-dispatcher.js';
import { LinkFiles, linkDir, readLinkState } from './enroll/agent-files.js';
import { writeFileAtomic } from './enroll/atomic-write.js';
import { HealthCollector, type ProbeConfig } from './health/health-collector.js';
import { JobRunner } from './job-runner.js';
import { JobJournal } from './journal/job-journal.js';
import { type JournalDb, openJournalDb } from './journal/journal-db.js';
import { LinkClient } from './link-client.js';
import { LinkSession, type LinkSocket, type SessionHooks } from './link-session.js';
import type {
  CloudJwks,
  ConfigApplier,
  EventSink,
  HealthSource,
  JobCheckpoints,
  JobHandler,
  JwksConsumer,
  RoleEvent,
} from './ports.js';
import { AgentRenewal } from './renewal.js';
import { type LinkEvent, linkEvent } from './schema/appliance-messages.js';
import { linkUrl } from './transport/cloud-url.js';

export interface LinkServiceOptions {
  dataDir: string;
  /** Base URL of the cloud (config cloud.url, else the enrolled one). */
  cloudUrl: string;
  /** PEM bundle pinned for the cloud's server certificate; system roots when absent. */
  cloudCa?: string;
  proxyUrl?: string;
  /** The roles this process runs (and was enrolled for). */
  roles: Array<'gateway' | 'connector'>;
  version: string;
  logger: Logger;
  jobConcurrency: number;
  jobTimeoutMs: number;
  healthIntervalMs: number;
  probe?: ProbeConfig;
  renewFraction: number;
  pingIntervalMs: number;
  handshakeTimeoutMs: number;
  backoff: BackoffPolicy;
  random?: () => number;
  /** Delivered jobs are remembered this long so a late duplicate is re-acked, not run. */
  retentionMs?: number;
}

const RENEWAL_CHECK_MS = 60 * 60_000;
const PRUNE_EVERY_MS = 6 * 60 * 60_000;

/**
 * The appliance end of the cloud link: one outbound WebSocket (LinkClient), a protocol session per
 * connection (LinkSession), the durable journal and its job runner, config pushes, health reports,
 * JWKS distribution and agent-certificate renewal. container/ registers the roles' handlers before
 * start(); link/ knows the roles only through these interfaces.
 */
export class LinkService implements EventSink {
  readonly applianceId: string;
  readonly journal: JobJournal;
  private readonly db: JournalDb;
  private readonly runner: JobRunner;
  private readonly configs: ConfigDispatcher;
  private readonly health: HealthCollector;
  private readonly renewal: AgentRenewal;
  private readonly client: LinkClient;
  private readonly jwksConsumers: JwksConsumer[] = [];
  private readonly log: Logger;
  private session: LinkSession | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: LinkServiceOptions) {
    const state = readLinkState(options.dataDir);
    if (!state) throw new Error('not enrolled: run outpost enroll first');
    this.applianceId = state.applianceId;
    this.log = options.logger.child({ applianceId: state.applianceId });
    this.db = openJournalDb(join(linkDir(options.dataDir), 'journal.db'));
    this.journal = new JobJournal(this.db);
    this.runner = new JobRunner({
      journal: this.journal,
      logger: this.log,
      concurrency: options.jobConcurrency,
      timeoutMs: options.jobTimeoutMs,
      outbound: {
        accepted: (jobId) => this.session?.sendAccepted(jobId),
        result: (r) => this.session?.sendResult(r),
        cancelled: (jobId, status) => this.session?.sendCancelled(jobId, status),
      },
    });
    this.configs = new ConfigDispatcher(this.journal, this.log);
    this.renewal = new AgentRenewal({
      dataDir: options.dataDir,
      fraction: options.renewFraction,
      logger: this.log,
      ...(options.cloudCa ? { cloudCa: options.cloudCa } : {}),
    });
    this.health = new HealthCollector({
      dataDir: options.dataDir,
      version: options.version,
      logger: this.log,
      latencyMs: () => this.client.latencyMs,
      agentCertExpiry: () => this.agentExpiry(),
      ...(options.probe ? { probe: options.probe } : {}),
    });
    this.client = new LinkClient({
      url: linkUrl(options.cloudUrl),
      tls: () => this.tls(),
      logger: this.log,
      backoff: options.backoff,
      pingIntervalMs: options.pingIntervalMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      onOpen: (socket) => this.opened(socket),
      ...(options.random ? { random: options.random } : {}),
    });
  }

  /** Journal-backed progress store for job handlers (JobCheckpoints). */
  get checkpoints(): JobCheckpoints {
    return this.journal;
  }

  registerJobHandler(handler: JobHandler): void {
    this.runner.register(handler);
  }

  registerConfigApplier(applier: ConfigApplier): void {
    this.configs.register(applier);
  }

  registerHealthSource(source: HealthSource): void {
    this.health.register(source);
  }

  registerJwksConsumer(consumer: JwksConsumer): void {
    this.jwksConsumers.push(consumer);
  }

  jobKinds(): string[] {
    return this.runner.kinds();
  }

  status() {
    return {
      connected: this.client.connected,
      established: this.session?.welcomed ?? false,
      latencyMs: this.client.latencyMs,
      jobs: this.journal.counts(),
      outbox: this.journal.countOutbox(),
      renewals: this.renewal.renewals,
    };
  }

  async start(): Promise<void> {
    await this.loadStoredJwks();
    const resumed = this.runner.resume();
    if (resumed > 0) this.log.info({ resumed }, 'resuming journaled jobs');
    this.client.start();
    this.every(this.options.healthIntervalMs, () => this.sendHealth());
    this.every(RENEWAL_CHECK_MS, () => this.checkRenewal());
    this.every(PRUNE_EVERY_MS, () => {
      this.journal.prune(this.options.retentionMs ?? 30 * 86_400_000);
    });
    this.log.info(
      { url: linkUrl(this.options.cloudUrl).href, proxy: Boolean(this.options.proxyUrl) },
      'link started',
    );
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.runner.stop();
    await this.client.stop();
    this.db.close();
  }

  /** EventSink: journal the event, send it if the link is up; never throws into the role. */
  emit(event: RoleEvent): void {
    try {
      const parsed = linkEvent.safeParse(toLinkEvent(event));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        this.log.warn(
          { kind: event.kind, issue: `${issue?.path.join('.')}: ${issue?.message}` },
          'event not reportable on the link; dropped',
        );
        return;
      }
      const entry = {
        messageId: randomUUID(),
        type: 'event',
        body: { at: new Date().toISOString(), event: parsed.data },
      };
      this.journal.enqueue(entry);
      this.session?.sendEvent(entry);
    } catch (e) {
      this.log.error({ err: e }, 'event not journaled');
    }
  }

  private tls() {
    const creds = this.renewal.credentials();
    return {
      key: creds.key,
      cert: creds.cert,
      ...(this.options.cloudCa ? { ca: this.options.cloudCa } : {}),
      ...(this.options.proxyUrl ? { proxyUrl: this.options.proxyUrl } : {}),
    };
  }

  private agentExpiry(): Date | null {
    try {
      return this.renewal.credentials().notAfter;
    } catch {
      return null;
    }
  }

  private opened(socket: LinkSocket) {
    const session = new LinkSession({
      socket,
      identity: { applianceId: this.applianceId, roles: this.options.roles, version: this.options.version },
      journal: this.journal,
      runner: this.runner,
      configs: this.configs,
      hooks: this.hooks(),
      logger: this.log,
    });
    this.session = session;
    session.start();
    const welcomeTimer = setTimeout(() => {
      if (!session.welcomed) {
        this.log.warn(
          { timeoutMs: this.options.handshakeTimeoutMs },
          'no welcome from the cloud; reconnecting',
        );
        socket.close(1002, 'no welcome');
      }
    }, this.options.handshakeTimeoutMs);
    return {
      receive: (data: Buffer) => {
        try {
          session.receive(data);
        } catch (e) {
          // A journal failure must not take the role down: drop the connection and start again.
          this.log.error({ err: e }, 'link message handling failed; reconnecting');
          socket.close(1011, 'internal error');
        }
      },
      closed: () => {
        clearTimeout(welcomeTimer);
        session.end();
        if (this.session === session) this.session = undefined;
      },
    };
  }

  private hooks(): SessionHooks {
    return {
      welcomed: (session) => {
        this.client.resetBackoff();
        const results = this.runner.resendUndelivered();
        const events = this.journal.outbox();
        for (const e of events) session.sendEvent(e);
        this.log.info({ resentResults: results, resentEvents: events.length }, 'link established');
        void this.sendHealth();
        void this.checkRenewal();
      },
      jwks: (message) => void this.updateJwks({ issuer: message.issuer, keys: message.keys }, true),
      renewed: (message) => {
        this.renewal.complete(message);
      },
      refused: (message) => {
        if (message.ref !== undefined && this.renewal.refused(message.ref)) {
          this.log.error(
            { code: message.code, reason: message.message },
            'the cloud refused to renew the agent certificate',
          );
          return;
        }
        this.log.warn(
          { ref: message.ref, code: message.code, reason: message.reason, detail: message.message },
          'the cloud refused a message',
        );
      },
    };
  }

  private async sendHealth(): Promise<void> {
    const session = this.session;
    if (!session?.welcomed) return;
    try {
      session.sendHealth(await this.health.collect());
    } catch (e) {
      this.log.warn({ err: e }, 'health report failed');
    }
  }

  private async checkRenewal(): Promise<void> {
    const session = this.session;
    if (!session?.welcomed) return;
    try {
      await this.renewal.maybeRenew((csr) => session.sendRenew(csr));
    } catch (e) {
      this.log.warn({ err: e }, 'agent certificate renewal check failed');
    }
  }

  private async updateJwks(jwks: CloudJwks, persist: boolean): Promise<void> {
    if (persist) {
      try {
        writeFileAtomic(join(linkDir(this.options.dataDir), LinkFiles.jwks), JSON.stringify(jwks));
      } catch (e) {
        this.log.warn({ err: e }, 'cloud JWKS not saved');
      }
    }
    for (const consumer of this.jwksConsumers) {
      try {
        await consumer.update(jwks);
      } catch (e) {
        this.log.warn({ err: e }, 'a JWKS consumer refused the cloud keys');
      }
    }
  }

  /** The last keys the cloud pushed, so challenges and tokens verify while the cloud is away. */
  private async loadStoredJwks(): Promise<void> {
    const file = join(linkDir(this.options.dataDir), LinkFiles.jwks);
    if (!existsSync(file)) return;
    try {
      await this.updateJwks(JSON.parse(readFileSync(file, 'utf8')) as CloudJwks, false);
    } catch (e) {
      this.log.warn({ err: e }, 'stored cloud JWKS unreadable; waiting for the cloud');
    }
  }

  private every(ms: number, task: () => unknown): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.timers.push(timer);
  }
}

/** `{kind, data}` → the schema's flat event; absent values (null) are left out rather than sent as null. */
export function toLinkEvent(event: RoleEvent): Partial<LinkEvent> {
  const fields = Object.entries(event.data ?? {}).filter(([, v]) => v !== null && v !== undefined);
  return { ...Object.fromEntries(fields), kind: event.kind } as Partial<LinkEvent>;
}
