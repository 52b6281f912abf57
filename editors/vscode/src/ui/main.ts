// The webview: renders the conversation punie streams and sends the user's actions back.
import type * as acp from "@agentclientprotocol/sdk";
import type { FromWebview, ToWebview } from "../webview/messages";
import { ToolCards } from "./cards";
import { byId, el } from "./dom";
import { renderMarkdown } from "./markdown";

interface VsCodeApi {
  postMessage(message: FromWebview): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const send = (message: FromWebview): void => vscode.postMessage(message);

const transcript = byId<HTMLElement>("transcript");
const planBox = byId<HTMLElement>("plan");
const sessionsBox = byId<HTMLElement>("sessions");
const prompt = byId<HTMLTextAreaElement>("prompt");
const sendButton = byId<HTMLButtonElement>("send");
const stopButton = byId<HTMLButtonElement>("stop");
const modeSelect = byId<HTMLSelectElement>("mode");
const status = byId<HTMLElement>("status");

const cards = new ToolCards({
  answer: (requestId, optionId) => send({ type: "permission", requestId, optionId }),
  openFile: (file, line) => send({ type: "openFile", path: file, line }),
});

/** The text block being streamed into: consecutive chunks of one kind share a block. */
let open: { kind: "answer" | "thought"; text: string; node: HTMLElement } | null = null;
let renderPending = false;

function scrollToEnd(): void {
  transcript.scrollTop = transcript.scrollHeight;
}

function appendChunk(kind: "answer" | "thought", text: string): void {
  if (!open || open.kind !== kind) {
    if (kind === "thought") {
      const details = el("details", "thought");
      details.append(el("summary", undefined, "Thinking"));
      const body = el("div", "thought-body");
      details.append(body);
      transcript.append(details);
      open = { kind, text: "", node: body };
    } else {
      const node = el("div", "message answer");
      transcript.append(node);
      open = { kind, text: "", node };
    }
  }
  open.text += text;
  if (!renderPending) {
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      if (open) open.node.innerHTML = renderMarkdown(open.text); // escaped first (markdown.ts)
      scrollToEnd();
    });
  }
}

function flushOpen(): void {
  if (open) open.node.innerHTML = renderMarkdown(open.text);
  open = null;
}

function chunkText(block: acp.ContentBlock): string {
  if (block.type === "text") return block.text;
  if (block.type === "resource_link") return `[${block.name}]`;
  return `[${block.type}]`;
}

function renderPlan(entries: acp.PlanEntry[]): void {
  planBox.hidden = entries.length === 0;
  planBox.replaceChildren(el("div", "plan-title", "Plan"));
  const list = el("ol");
  for (const entry of entries) {
    const item = el("li", `plan-entry ${entry.status}`, entry.content);
    item.dataset.status = entry.status;
    list.append(item);
  }
  planBox.append(list);
}

function applyUpdate(update: acp.SessionUpdate): void {
  switch (update.sessionUpdate) {
    case "agent_message_chunk":
      return appendChunk("answer", chunkText(update.content));
    case "agent_thought_chunk":
      return appendChunk("thought", chunkText(update.content));
    case "user_message_chunk":
      flushOpen();
      transcript.append(el("div", "message user", chunkText(update.content)));
      return;
    case "tool_call":
    case "tool_call_update":
      flushOpen();
      cards.apply(update, transcript);
      scrollToEnd();
      return;
    case "plan":
      return renderPlan(update.entries);
    case "current_mode_update":
      modeSelect.value = update.currentModeId;
      return;
    case "usage_update":
      status.dataset.usage = `${update.used}/${update.size}`;
      return;
    default:
      return;
  }
}

function setModes(modes: acp.SessionModeState | null): void {
  modeSelect.replaceChildren();
  modeSelect.hidden = !modes;
  for (const mode of modes?.availableModes ?? []) {
    const option = el("option", undefined, mode.name);
    option.value = mode.id;
    option.title = mode.description ?? "";
    modeSelect.append(option);
  }
  if (modes) modeSelect.value = modes.currentModeId;
}

function setRunning(running: boolean, stopReason?: acp.StopReason): void {
  document.body.dataset.running = String(running);
  stopButton.hidden = !running;
  sendButton.disabled = running;
  status.textContent = running ? "punie is working…" : stopReason && stopReason !== "end_turn" ? `stopped: ${stopReason}` : "";
  // The turn's last chunks may arrive just after its end: keep the block open for them.
  if (!running && open) open.node.innerHTML = renderMarkdown(open.text);
}

function renderSessions(sessions: acp.SessionInfo[]): void {
  sessionsBox.replaceChildren();
  if (!sessions.length) sessionsBox.append(el("div", "empty", "No saved sessions yet."));
  for (const session of sessions) {
    const button = el("button", "session-item", session.title || session.sessionId);
    button.dataset.sessionId = session.sessionId;
    if (session.updatedAt) button.title = session.updatedAt;
    button.addEventListener("click", () => {
      send({ type: "loadSession", sessionId: session.sessionId });
      sessionsBox.hidden = true;
    });
    sessionsBox.append(button);
  }
}

function notice(level: "info" | "error", text: string): void {
  flushOpen();
  transcript.append(el("div", `notice ${level}`, text));
  scrollToEnd();
}

function receive(message: ToWebview): void {
  switch (message.type) {
    case "update":
      return applyUpdate(message.update);
    case "session":
      cards.root = message.root;
      return setModes(message.modes);
    case "permission":
      flushOpen();
      return cards.askPermission(message.requestId, message.toolCall, message.options, transcript);
    case "permissionDone":
      return cards.permissionDone(message.requestId);
    case "turn":
      return setRunning(message.running, message.stopReason);
    case "notice":
      return notice(message.level, message.text);
    case "sessions":
      return renderSessions(message.sessions);
    case "reset":
      open = null;
      transcript.replaceChildren();
      cards.clear();
      renderPlan([]);
      return;
    case "user":
      flushOpen();
      transcript.append(el("div", "message user", message.text));
      scrollToEnd();
      return;
    case "terminal":
      return cards.terminalOutput(message.terminalId, message.output, message.exitStatus);
  }
}

function submit(): void {
  const text = prompt.value;
  if (!text.trim() || document.body.dataset.running === "true") return;
  prompt.value = "";
  send({ type: "prompt", text });
}

sendButton.addEventListener("click", submit);
stopButton.addEventListener("click", () => send({ type: "cancel" }));
prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});
modeSelect.addEventListener("change", () => send({ type: "setMode", modeId: modeSelect.value }));
byId<HTMLButtonElement>("new").addEventListener("click", () => send({ type: "newSession" }));
byId<HTMLButtonElement>("history").addEventListener("click", (event) => {
  sessionsBox.hidden = !sessionsBox.hidden;
  (event.currentTarget as HTMLElement).setAttribute("aria-expanded", String(!sessionsBox.hidden));
  if (!sessionsBox.hidden) send({ type: "listSessions" });
});
// Links in agent text never navigate the webview; the extension opens http(s) ones externally.
document.addEventListener("click", (event) => {
  const link = (event.target as HTMLElement | null)?.closest("a");
  if (!link) return;
  event.preventDefault();
  send({ type: "openLink", href: link.getAttribute("href") ?? "" });
});
window.addEventListener("message", (event: MessageEvent<ToWebview>) => receive(event.data));
send({ type: "ready" });
