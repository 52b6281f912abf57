// The webview's page: no inline script or style, a nonce for our one script, nothing remote.
import { randomBytes } from "node:crypto";

export interface PageResources {
  /** `webview.cspSource`: where the extension's own files are served from. */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString("base64").replace(/[^A-Za-z0-9]/g, "");
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `img-src ${cspSource}`,
    `font-src ${cspSource}`,
    "connect-src 'none'",
    "frame-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join("; ");
}

const attr = (value: string): string => value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

export function pageHtml(resources: PageResources, nonce: string = makeNonce()): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(resources.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(resources.styleUri)}">
<title>Punie</title>
</head>
<body>
<header class="toolbar">
  <select id="mode" title="Mode" aria-label="Mode"></select>
  <button id="new" title="New session">New</button>
  <button id="history" title="Saved sessions" aria-expanded="false">Sessions</button>
</header>
<section id="sessions" class="sessions" hidden></section>
<main id="transcript" class="transcript" aria-live="polite"></main>
<section id="plan" class="plan" hidden></section>
<footer class="composer">
  <textarea id="prompt" rows="3" placeholder="Ask punie… (Enter to send, Shift+Enter for a new line)" aria-label="Prompt"></textarea>
  <div class="actions">
    <span id="status" class="status"></span>
    <button id="stop" class="stop" hidden>Stop</button>
    <button id="send" class="send">Send</button>
  </div>
</footer>
<script nonce="${attr(nonce)}" src="${attr(resources.scriptUri)}"></script>
</body>
</html>`;
}
