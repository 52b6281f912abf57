// terminal/* output shown in VS Code: a pseudo-terminal per command, and the tool card's copy.
import * as vscode from "vscode";
import type { TerminalHandler, TerminalView, TerminalViewFactory } from "./host/terminals";
import type { ToWebview } from "./webview/messages";

export function terminalViews(
  handler: () => TerminalHandler,
  view: { post(message: ToWebview): void },
): TerminalViewFactory {
  return (terminalId, title): TerminalView => {
    const emitter = new vscode.EventEmitter<string>();
    const pty: vscode.Pseudoterminal = { onDidWrite: emitter.event, open: () => undefined, close: () => undefined };
    const terminal = vscode.window.createTerminal({ name: title, pty });
    let scheduled = false;
    const refresh = (): void => {
      if (scheduled) return;
      scheduled = true;
      setTimeout(() => {
        scheduled = false;
        void handler()
          .terminalOutput({ sessionId: "", terminalId })
          .then((out) => view.post({ type: "terminal", terminalId, output: out.output, exitStatus: out.exitStatus ?? null }))
          .catch(() => undefined);
      }, 100);
    };
    return {
      write: (text) => {
        emitter.fire(text.replace(/\r?\n/g, "\r\n"));
        refresh();
      },
      exited: (status) => {
        emitter.fire(`\r\n[punie: exit ${status.exitCode ?? status.signal ?? "?"}]\r\n`);
        refresh();
      },
      dispose: () => {
        emitter.dispose();
        terminal.dispose();
      },
    };
  };
}
