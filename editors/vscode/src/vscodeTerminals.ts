// terminal/* output shown in VS Code: a pseudo-terminal per command, and the tool card's copy
// (kept here, so the card gets the whole output even after punie has released the terminal).
import type * as acp from "@agentclientprotocol/sdk";
import * as vscode from "vscode";
import { BoundedOutput, type TerminalView, type TerminalViewFactory } from "./host/terminals";
import type { ToWebview } from "./webview/messages";

const CARD_OUTPUT_LIMIT = 256 * 1024;

export function terminalViews(view: { post(message: ToWebview): void }): TerminalViewFactory {
  return (terminalId, title): TerminalView => {
    const emitter = new vscode.EventEmitter<string>();
    const pty: vscode.Pseudoterminal = { onDidWrite: emitter.event, open: () => undefined, close: () => undefined };
    const terminal = vscode.window.createTerminal({ name: title, pty });
    const copy = new BoundedOutput(CARD_OUTPUT_LIMIT);
    let exitStatus: acp.TerminalExitStatus | null = null;
    let scheduled: ReturnType<typeof setTimeout> | undefined;
    const post = (): void => {
      scheduled = undefined;
      view.post({ type: "terminal", terminalId, output: copy.output, exitStatus });
    };
    const refresh = (): void => {
      scheduled ??= setTimeout(post, 100); // at most ten card updates a second
    };
    return {
      write: (text) => {
        copy.append(text);
        emitter.fire(text.replace(/\r?\n/g, "\r\n"));
        refresh();
      },
      exited: (status) => {
        exitStatus = status;
        emitter.fire(`\r\n[punie: exit ${status.exitCode ?? status.signal ?? "?"}]\r\n`);
        if (scheduled) clearTimeout(scheduled);
        post();
      },
      dispose: () => {
        emitter.dispose();
        terminal.dispose();
      },
    };
  };
}
