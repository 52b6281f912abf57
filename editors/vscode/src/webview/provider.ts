// The chat view in punie's activity-bar container.
import * as vscode from "vscode";
import { pageHtml } from "./html";
import { parseFromWebview, type FromWebview, type ToWebview } from "./messages";

export class ChatViewProvider implements vscode.WebviewViewProvider {
  static readonly viewType = "punie.chat";
  private view: vscode.WebviewView | undefined;
  private readonly backlog: ToWebview[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly onMessage: (message: FromWebview) => void,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, "media");
    const dist = vscode.Uri.joinPath(this.extensionUri, "dist");
    view.webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: [media, dist] };
    view.webview.html = pageHtml({
      cspSource: view.webview.cspSource,
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(dist, "webview.js")).toString(),
      styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(media, "panel.css")).toString(),
    });
    view.webview.onDidReceiveMessage((raw: unknown) => {
      const message = parseFromWebview(raw);
      if (!message) return;
      if (message.type === "ready") this.flushBacklog();
      this.onMessage(message);
    });
    view.onDidDispose(() => {
      this.view = undefined;
    });
  }

  private flushBacklog(): void {
    const pending = this.backlog.splice(0);
    for (const message of pending) void this.view?.webview.postMessage(message);
  }

  post(message: ToWebview): void {
    if (this.view) void this.view.webview.postMessage(message);
    else if (message.type !== "update" || this.backlog.length < 10_000) this.backlog.push(message);
  }
}
