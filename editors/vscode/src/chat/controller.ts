// The conversation: one current session on the running punie, driven by the webview's messages.
// Free of the vscode module, so the unit tests drive it against a real `punie serve`.
import type * as acp from "@agentclientprotocol/sdk";
import type { ConversationSide } from "../acp/clientSide";
import type { AgentConnection } from "../acp/connection";
import type { Supervisor } from "../acp/supervisor";
import type { FromWebview, ToWebview } from "../webview/messages";

export interface ChatHost {
  post(message: ToWebview): void;
  cwd(): string | undefined;
  openLink(href: string): void;
  openFile(file: string, line: number | null): void;
}

interface PendingPermission {
  sessionId: string;
  optionIds: string[];
  resolve(response: acp.RequestPermissionResponse): void;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ChatController implements ConversationSide {
  private sessionId: string | null = null;
  private sessionConnection: AgentConnection | undefined;
  private modes: acp.SessionModeState | null = null;
  private running = false;
  private nextRequest = 1;
  private readonly pending = new Map<number, PendingPermission>();
  supervisor: Supervisor | undefined;

  constructor(private readonly host: ChatHost) {}

  get currentSessionId(): string | null {
    return this.sessionId;
  }

  get isRunning(): boolean {
    return this.running;
  }

  // --- punie → client ---------------------------------------------------------------------------

  sessionUpdate(notification: acp.SessionNotification): void {
    if (notification.sessionId !== this.sessionId) return;
    const update = notification.update;
    if (update.sessionUpdate === "current_mode_update" && this.modes) {
      this.modes = { ...this.modes, currentModeId: update.currentModeId };
    }
    this.host.post({ type: "update", update });
  }

  requestPermission(request: acp.RequestPermissionRequest, signal: AbortSignal): Promise<acp.RequestPermissionResponse> {
    const requestId = this.nextRequest++;
    return new Promise((resolve) => {
      const finish = (response: acp.RequestPermissionResponse): void => {
        if (!this.pending.delete(requestId)) return;
        this.host.post({ type: "permissionDone", requestId });
        resolve(response);
      };
      const optionIds = request.options.map((o) => o.optionId);
      this.pending.set(requestId, { sessionId: request.sessionId, optionIds, resolve: finish });
      signal.addEventListener("abort", () => finish({ outcome: { outcome: "cancelled" } }), { once: true });
      this.host.post({ type: "permission", requestId, toolCall: request.toolCall, options: request.options });
    });
  }

  // --- webview → punie --------------------------------------------------------------------------

  async handle(message: FromWebview): Promise<void> {
    try {
      await this.dispatch(message);
    } catch (error) {
      this.host.post({ type: "notice", level: "error", text: errorText(error) });
    }
  }

  private async dispatch(message: FromWebview): Promise<void> {
    switch (message.type) {
      case "ready":
        this.host.post({ type: "turn", running: this.running });
        // A session right away: the mode picker is usable before the first prompt.
        if (this.sessionId) this.postSession(this.sessionId);
        else if (this.host.cwd()) await this.newSession();
        await this.listSessions();
        return;
      case "prompt":
        await this.prompt(message.text);
        return;
      case "cancel":
        return this.cancel();
      case "setMode":
        return this.setMode(message.modeId);
      case "permission":
        return this.answerPermission(message.requestId, message.optionId);
      case "newSession":
        await this.newSession();
        return;
      case "loadSession":
        return this.loadSession(message.sessionId);
      case "listSessions":
        return this.listSessions();
      case "openLink":
        return this.host.openLink(message.href);
      case "openFile":
        return this.host.openFile(message.path, message.line);
    }
  }

  private async connection(): Promise<AgentConnection> {
    if (!this.supervisor) throw new Error("punie is not configured");
    return this.supervisor.current();
  }

  private requireCwd(): string {
    const cwd = this.host.cwd();
    if (!cwd) throw new Error("Open a folder first: punie works inside a workspace folder.");
    return cwd;
  }

  async newSession(): Promise<string> {
    const connection = await this.connection();
    const response = await connection.agent.request("session/new", { cwd: this.requireCwd(), mcpServers: [] });
    this.adopt(connection, response.sessionId, response.modes ?? null, true);
    return response.sessionId;
  }

  private adopt(connection: AgentConnection, sessionId: string, modes: acp.SessionModeState | null, reset: boolean): void {
    this.sessionConnection = connection;
    this.sessionId = sessionId;
    this.modes = modes;
    if (reset) this.host.post({ type: "reset" });
    this.postSession(sessionId);
  }

  private postSession(sessionId: string): void {
    this.host.post({ type: "session", sessionId, modes: this.modes, root: this.host.cwd() ?? null });
  }

  /** The session to prompt: the current one, resumed on a restarted punie, or a new one. */
  private async ensureSession(): Promise<{ connection: AgentConnection; sessionId: string }> {
    const connection = await this.connection();
    if (this.sessionId && this.sessionConnection === connection) return { connection, sessionId: this.sessionId };
    const previous = this.sessionId;
    if (previous && connection.initialized.agentCapabilities?.sessionCapabilities?.resume) {
      try {
        const resumed = await connection.agent.request("session/resume", { sessionId: previous, cwd: this.requireCwd() });
        this.adopt(connection, previous, resumed.modes ?? null, false);
        return { connection, sessionId: previous };
      } catch {
        // not saved (or punie forgot it): start afresh below
      }
    }
    return { connection, sessionId: await this.newSession() };
  }

  async prompt(text: string): Promise<acp.StopReason | undefined> {
    if (this.running) throw new Error("punie is still answering; stop it first");
    this.running = true;
    this.host.post({ type: "turn", running: true });
    this.host.post({ type: "user", text });
    let stopReason: acp.StopReason | undefined;
    try {
      const { connection, sessionId } = await this.ensureSession();
      const response = await connection.agent.request("session/prompt", { sessionId, prompt: [{ type: "text", text }] });
      stopReason = response.stopReason;
    } finally {
      this.running = false;
      this.host.post(stopReason ? { type: "turn", running: false, stopReason } : { type: "turn", running: false });
    }
    void this.listSessions().catch(() => undefined);
    return stopReason;
  }

  async cancel(): Promise<void> {
    const sessionId = this.sessionId;
    if (!sessionId || !this.sessionConnection) return;
    // ACP: the client answers every open permission request of the session with "cancelled".
    for (const pending of [...this.pending.values()]) {
      if (pending.sessionId === sessionId) pending.resolve({ outcome: { outcome: "cancelled" } });
    }
    await this.sessionConnection.agent.notify("session/cancel", { sessionId });
  }

  private answerPermission(requestId: number, optionId: string | null): void {
    const pending = this.pending.get(requestId);
    // Only an option punie offered is an answer (a forged id is not taken as anything).
    if (!pending || (optionId !== null && !pending.optionIds.includes(optionId))) return;
    pending.resolve(optionId === null ? { outcome: { outcome: "cancelled" } } : { outcome: { outcome: "selected", optionId } });
  }

  private async setMode(modeId: string): Promise<void> {
    const { connection, sessionId } = await this.ensureSession();
    await connection.agent.request("session/set_mode", { sessionId, modeId });
    if (this.modes) this.modes = { ...this.modes, currentModeId: modeId };
    this.postSession(sessionId);
  }

  async listSessions(): Promise<void> {
    const connection = await this.connection();
    if (!connection.initialized.agentCapabilities?.sessionCapabilities?.list) return;
    const cwd = this.host.cwd();
    const response = await connection.agent.request("session/list", cwd ? { cwd } : {});
    this.host.post({ type: "sessions", sessions: response.sessions });
  }

  private async loadSession(sessionId: string): Promise<void> {
    if (this.running) throw new Error("punie is still answering; stop it first");
    const connection = await this.connection();
    // The history arrives as updates before the answer: route them to this session first.
    this.sessionId = sessionId;
    this.sessionConnection = connection;
    this.host.post({ type: "reset" });
    const response = await connection.agent.request("session/load", { sessionId, cwd: this.requireCwd(), mcpServers: [] });
    this.adopt(connection, sessionId, response.modes ?? null, false);
  }

  /** punie restarted: open permission prompts belonged to the dead process. */
  connectionLost(): void {
    for (const pending of [...this.pending.values()]) pending.resolve({ outcome: { outcome: "cancelled" } });
  }
}
