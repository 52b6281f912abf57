// Shared pieces of the unit tests: a real `punie serve`, a temporary workspace, and two clearly
// named test doubles (a disk-only stand-in for VS Code's documents, a recording chat view).
import { mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { ClientSide } from "../../src/acp/clientSide";
import { AgentConnection } from "../../src/acp/connection";
import { Supervisor } from "../../src/acp/supervisor";
import { ChatController } from "../../src/chat/controller";
import { FileHandler, type Documents } from "../../src/host/files";
import { TerminalHandler } from "../../src/host/terminals";
import type { ToWebview } from "../../src/webview/messages";

export const REPO = path.resolve(__dirname, "../../../..");
export const PUNIE = process.env.PUNIE_BIN ?? path.join(REPO, ".venv", "bin", "punie");
const WAIT_MS = 60_000;

export function tempWorkspace(prefix = "punie-vscode-"): string {
  return realpathSync(mkdtempSync(path.join(tmpdir(), prefix)));
}

/** Test double for VS Code's documents: "open buffers" are a map; writes go straight to disk. */
export class DiskOnlyDocuments implements Documents {
  readonly buffers = new Map<string, string>();
  readonly writes: { file: string; oldText: string | null; newText: string }[] = [];

  openText(file: string): string | undefined {
    return this.buffers.get(file);
  }

  async write(file: string, oldText: string | null, newText: string): Promise<void> {
    this.writes.push({ file, oldText, newText });
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, newText);
    if (this.buffers.has(file)) this.buffers.set(file, newText);
  }
}

/** Test double for the webview: records what the controller posts and lets a test wait for it. */
export class RecordingView {
  readonly messages: ToWebview[] = [];
  private waiters: { test: (m: ToWebview) => boolean; resolve: (m: ToWebview) => void }[] = [];

  post(message: ToWebview): void {
    this.messages.push(message);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(message)) return true;
      w.resolve(message);
      return false;
    });
  }

  waitFor(test: (m: ToWebview) => boolean, what: string): Promise<ToWebview> {
    const seen = this.messages.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
      this.waiters.push({ test, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }

  updates(): string[] {
    return this.messages.flatMap((m) => (m.type === "update" ? [m.update.sessionUpdate] : []));
  }

  answerText(): string {
    return this.messages
      .map((m) => (m.type === "update" && m.update.sessionUpdate === "agent_message_chunk" && m.update.content.type === "text" ? m.update.content.text : ""))
      .join("");
  }
}

export function writeScript(dir: string, responses: unknown[], chunkDelay = 0): string {
  const file = path.join(dir, "..", `${path.basename(dir)}-script.json`);
  writeFileSync(file, JSON.stringify({ chunk_delay: chunkDelay, responses }));
  return file;
}

export interface Harness {
  workspace: string;
  documents: DiskOnlyDocuments;
  view: RecordingView;
  files: FileHandler;
  terminals: TerminalHandler;
  controller: ChatController;
  supervisor: Supervisor;
  events: string[];
  close(): Promise<void>;
}

/** A ChatController on a supervised, real `punie serve` with the given arguments. */
export function harness(args: string[], workspace = tempWorkspace()): Harness {
  const documents = new DiskOnlyDocuments();
  const view = new RecordingView();
  const roots = (): string[] => [workspace];
  const files = new FileHandler(roots, documents);
  const terminals = new TerminalHandler(roots);
  const events: string[] = [];
  const controller = new ChatController({
    post: (m) => view.post(m),
    cwd: () => workspace,
    openLink: () => undefined,
    openFile: () => undefined,
  });
  const side: ClientSide = {
    readTextFile: (r) => files.readTextFile(r),
    writeTextFile: (r) => files.writeTextFile(r),
    createTerminal: (r) => terminals.createTerminal(r),
    terminalOutput: (r) => terminals.terminalOutput(r),
    waitForTerminalExit: (r, s) => terminals.waitForTerminalExit(r, s),
    killTerminal: (r) => terminals.killTerminal(r),
    releaseTerminal: (r) => terminals.releaseTerminal(r),
    requestPermission: (r, s) => controller.requestPermission(r, s),
    sessionUpdate: (n) => controller.sessionUpdate(n),
  };
  const supervisor = new Supervisor(
    () =>
      AgentConnection.start({
        command: PUNIE,
        args: ["serve", ...args, "--session-store", path.join(workspace, "..", `${path.basename(workspace)}-sessions.db`)],
        cwd: workspace,
        side,
      }),
    {
      onRestart: (reason) => {
        events.push(`restart: ${reason}`);
        controller.connectionLost();
      },
      onGiveUp: (reason) => events.push(`give up: ${reason}`),
      onConnected: (_c, restarted) => events.push(restarted ? "connected again" : "connected"),
    },
  );
  controller.supervisor = supervisor;
  return {
    workspace, documents, view, files, terminals, controller, supervisor, events,
    close: async () => {
      terminals.disposeAll();
      await supervisor.stop();
    },
  };
}

export async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
