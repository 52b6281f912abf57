// Keeps one punie running: starts it on demand and restarts it when it dies unexpectedly.
import { AgentConnection, describeExit } from "./connection";

export interface SupervisorEvents {
  /** punie died and is being started again. */
  onRestart(reason: string): void;
  /** punie died too often in a short time; it stays down until restarted by hand. */
  onGiveUp(reason: string): void;
  /** A (new) connection is up. */
  onConnected(connection: AgentConnection, restarted: boolean): void;
}

export class Supervisor {
  private connection: Promise<AgentConnection> | undefined;
  private readonly crashes: number[] = [];
  private stopped = false;

  constructor(
    private readonly start: () => Promise<AgentConnection>,
    private readonly events: SupervisorEvents,
    private readonly maxCrashes = 3,
    private readonly crashWindowMs = 60_000,
  ) {}

  /** The running connection, starting punie if needed. */
  current(): Promise<AgentConnection> {
    this.stopped = false;
    if (!this.connection) this.connection = this.launch(false);
    return this.connection;
  }

  private launch(restarted: boolean): Promise<AgentConnection> {
    const pending = this.start().then((connection) => {
      void connection.exited.then((exit) => this.onExit(connection, describeExit(exit)));
      this.events.onConnected(connection, restarted);
      return connection;
    });
    pending.catch(() => {
      if (this.connection === pending) this.connection = undefined;
    });
    return pending;
  }

  private onExit(connection: AgentConnection, reason: string): void {
    if (connection.isDisposed || this.stopped) return;
    this.connection = undefined;
    const now = Date.now();
    this.crashes.push(now);
    while (this.crashes.length && now - (this.crashes[0] ?? now) > this.crashWindowMs) this.crashes.shift();
    if (this.crashes.length > this.maxCrashes) {
      this.events.onGiveUp(reason);
      return;
    }
    this.events.onRestart(reason);
    this.connection = this.launch(true);
    this.connection.catch((error: unknown) => this.events.onGiveUp(String(error instanceof Error ? error.message : error)));
  }

  /** Stops punie and starts a fresh one (the "Restart" command). */
  async restart(): Promise<AgentConnection> {
    await this.stop();
    this.crashes.length = 0;
    return this.current();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const pending = this.connection;
    this.connection = undefined;
    if (!pending) return;
    try {
      (await pending).dispose();
    } catch {
      // it never started; nothing to stop
    }
  }
}
