// Entry point: wires punie (supervised `punie serve`), the client side (files, terminals) and the
// chat view together.
import * as vscode from "vscode";
import type { ClientSide } from "./acp/clientSide";
import { AgentConnection } from "./acp/connection";
import { locatePunie } from "./acp/locate";
import { Supervisor } from "./acp/supervisor";
import { ChatController } from "./chat/controller";
import { FileHandler } from "./host/files";
import { TerminalHandler } from "./host/terminals";
import { isSafeLink } from "./webview/messages";
import { ChatViewProvider } from "./webview/provider";
import { PROPOSED_SCHEME, ProposedContent, VsCodeDocuments } from "./vscodeDocuments";
import { terminalViews } from "./vscodeTerminals";

export interface PunieApi {
  controller: ChatController;
  supervisor: Supervisor;
  files: FileHandler;
  terminals: TerminalHandler;
  notices: string[];
}

function roots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath);
}

function composeSide(files: FileHandler, terminals: TerminalHandler, chat: ChatController): ClientSide {
  return {
    readTextFile: (r) => files.readTextFile(r),
    writeTextFile: (r) => files.writeTextFile(r),
    createTerminal: (r) => terminals.createTerminal(r),
    terminalOutput: (r) => terminals.terminalOutput(r),
    waitForTerminalExit: (r, s) => terminals.waitForTerminalExit(r, s),
    killTerminal: (r) => terminals.killTerminal(r),
    releaseTerminal: (r) => terminals.releaseTerminal(r),
    requestPermission: (r, s) => chat.requestPermission(r, s),
    sessionUpdate: (n) => chat.sessionUpdate(n),
  };
}

export function activate(context: vscode.ExtensionContext): PunieApi {
  const log = vscode.window.createOutputChannel("Punie");
  const protocol = vscode.window.createOutputChannel("Punie Protocol");
  const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration("punie");
  const notices: string[] = [];

  const provider = new ChatViewProvider(context.extensionUri, (message) => void controller.handle(message));
  const controller = new ChatController({
    post: (message) => provider.post(message),
    cwd: () => roots()[0],
    openLink: (href) => {
      if (isSafeLink(href)) void vscode.env.openExternal(vscode.Uri.parse(href, true));
    },
    openFile: (file, line) => void openFile(file, line),
  });
  const proposed = new ProposedContent();
  const files = new FileHandler(roots, new VsCodeDocuments(proposed));
  const terminals = new TerminalHandler(roots, terminalViews(provider));
  const side = composeSide(files, terminals, controller);

  const supervisor = new Supervisor(
    async () => {
      const found = locatePunie({ command: config().get<string>("command", ""), args: [] }, roots()[0]);
      if ("error" in found) throw new Error(found.error);
      const args = config().get<string[]>("args", ["serve"]);
      log.appendLine(`starting ${found.command} ${args.join(" ")}`);
      return AgentConnection.start({
        command: found.command,
        args,
        cwd: roots()[0] ?? process.cwd(),
        side,
        stderr: (line) => log.appendLine(line),
        trace: () =>
          config().get<boolean>("traceProtocol", false)
            ? (direction, message) => protocol.appendLine(`${direction} ${JSON.stringify(message)}`)
            : undefined,
      });
    },
    {
      onRestart: (reason) => {
        const text = `${reason}. Restarting punie; the conversation continues in a resumed session.`;
        notices.push(text);
        log.appendLine(text);
        controller.connectionLost();
        terminals.disposeAll();
        provider.post({ type: "notice", level: "error", text });
        void vscode.window.showWarningMessage(text);
      },
      onGiveUp: (reason) => {
        const text = `${reason}. punie stopped too often; use "Punie: Restart Agent" after fixing the cause.`;
        notices.push(text);
        provider.post({ type: "notice", level: "error", text });
        void vscode.window.showErrorMessage(text, "Restart").then((choice) => {
          if (choice) void supervisor.restart();
        });
      },
      onConnected: (connection, restarted) => {
        log.appendLine(`punie is running (pid ${connection.pid ?? "?"})${restarted ? " after a restart" : ""}`);
      },
    },
  );
  controller.supervisor = supervisor;

  async function openFile(file: string, line: number | null): Promise<void> {
    const document = await vscode.workspace.openTextDocument(vscode.Uri.file(await files.confined(file)));
    const position = new vscode.Position(Math.max(0, (line ?? 1) - 1), 0);
    await vscode.window.showTextDocument(document, { selection: new vscode.Range(position, position), preview: true });
  }

  context.subscriptions.push(
    log,
    protocol,
    vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, proposed),
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewType, provider, {
      webviewOptions: { retainContextWhenHidden: true },
    }),
    vscode.commands.registerCommand("punie.restart", async () => {
      controller.connectionLost();
      terminals.disposeAll();
      await supervisor.restart();
      void vscode.window.showInformationMessage("punie restarted.");
    }),
    vscode.commands.registerCommand("punie.newSession", () => controller.handle({ type: "newSession" })),
    vscode.commands.registerCommand("punie.showLog", () => (config().get<boolean>("traceProtocol") ? protocol : log).show(true)),
    vscode.commands.registerCommand("punie.focus", () => vscode.commands.executeCommand("punie.chat.focus")),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("punie.command") || event.affectsConfiguration("punie.args")) {
        void supervisor.restart().catch((error: unknown) => log.appendLine(String(error)));
      }
    }),
    { dispose: () => void supervisor.stop() },
    { dispose: () => terminals.disposeAll() },
  );
  return { controller, supervisor, files, terminals, notices };
}

export function deactivate(): void {
  // subscriptions stop punie and its terminals
}
