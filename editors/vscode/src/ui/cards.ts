// Tool-call cards: kind, title, status, content (text, diffs, terminal output), locations and,
// while punie waits for an answer, the permission buttons.
import type * as acp from "@agentclientprotocol/sdk";
import { diffLines } from "./diff";
import { el } from "./dom";
import { renderMarkdown } from "./markdown";

export interface CardActions {
  answer(requestId: number, optionId: string | null): void;
  openFile(file: string, line: number | null): void;
}

const KIND_LABEL: Record<string, string> = {
  read: "Read", edit: "Edit", delete: "Delete", move: "Move", search: "Search", execute: "Run",
  think: "Think", fetch: "Fetch", switch_mode: "Mode", other: "Tool",
};

const MAX_DIFF_LINES = 400;

export class ToolCards {
  private readonly cards = new Map<string, HTMLElement>();
  private readonly terminals = new Map<string, HTMLElement[]>();
  private readonly terminalText = new Map<string, { output: string; exitStatus: acp.TerminalExitStatus | null }>();

  /** The workspace folder: paths under it are shown relative to it. */
  root: string | null = null;

  constructor(private readonly actions: CardActions) {}

  private shown(file: string): string {
    const root = this.root;
    return root && file.startsWith(root + "/") ? file.slice(root.length + 1) : file;
  }

  clear(): void {
    this.cards.clear();
    this.terminals.clear();
    this.terminalText.clear();
  }

  /** The card for a call, made (and appended to `parent`) the first time it is seen. */
  card(toolCallId: string, parent: HTMLElement): HTMLElement {
    let card = this.cards.get(toolCallId);
    if (!card) {
      card = el("div", "card");
      card.dataset.toolCallId = toolCallId;
      const header = el("div", "card-header");
      header.append(el("span", "kind"), el("span", "title"), el("span", "badge"));
      card.append(header, el("div", "card-body"), el("div", "locations"), el("div", "permission"));
      this.cards.set(toolCallId, card);
      parent.append(card);
    }
    return card;
  }

  apply(update: acp.ToolCall | acp.ToolCallUpdate, parent: HTMLElement): HTMLElement {
    const card = this.card(update.toolCallId, parent);
    if (update.kind) {
      card.dataset.kind = update.kind;
      (card.querySelector(".kind") as HTMLElement).textContent = KIND_LABEL[update.kind] ?? update.kind;
    }
    if (update.title) (card.querySelector(".title") as HTMLElement).textContent = update.title;
    if (update.status) {
      card.dataset.status = update.status;
      (card.querySelector(".badge") as HTMLElement).textContent = update.status.replace("_", " ");
    }
    if (update.content) this.renderContent(card.querySelector(".card-body") as HTMLElement, update.content);
    if (update.locations) this.renderLocations(card.querySelector(".locations") as HTMLElement, update.locations);
    return card;
  }

  private renderContent(body: HTMLElement, content: acp.ToolCallContent[]): void {
    body.replaceChildren();
    for (const item of content) {
      if (item.type === "diff") body.append(this.diffView(item));
      else if (item.type === "terminal") body.append(this.terminalView(item.terminalId));
      else if (item.content.type === "text") {
        const text = el("div", "tool-text");
        text.innerHTML = renderMarkdown(item.content.text); // escaped first (markdown.ts)
        body.append(text);
      } else {
        body.append(el("div", "tool-text", `[${item.content.type}]`));
      }
    }
  }

  private diffView(diff: acp.Diff): HTMLElement {
    const box = el("div", "diff");
    box.append(el("div", "diff-path", this.shown(diff.path)));
    const pre = el("pre", "diff-lines");
    const lines = diffLines(diff.oldText, diff.newText);
    for (const line of lines.slice(0, MAX_DIFF_LINES)) {
      const sign = line.kind === "add" ? "+" : line.kind === "del" ? "-" : " ";
      pre.append(el("div", `line ${line.kind}`, `${sign} ${line.text}`));
    }
    if (lines.length > MAX_DIFF_LINES) pre.append(el("div", "line more", `… ${lines.length - MAX_DIFF_LINES} more lines`));
    box.append(pre);
    return box;
  }

  private terminalView(terminalId: string): HTMLElement {
    const pre = el("pre", "terminal");
    pre.dataset.terminalId = terminalId;
    const views = this.terminals.get(terminalId) ?? [];
    views.push(pre);
    this.terminals.set(terminalId, views);
    const known = this.terminalText.get(terminalId);
    if (known) this.fillTerminal(pre, known.output, known.exitStatus);
    return pre;
  }

  terminalOutput(terminalId: string, output: string, exitStatus: acp.TerminalExitStatus | null): void {
    this.terminalText.set(terminalId, { output, exitStatus });
    for (const pre of this.terminals.get(terminalId) ?? []) this.fillTerminal(pre, output, exitStatus);
  }

  private fillTerminal(pre: HTMLElement, output: string, exitStatus: acp.TerminalExitStatus | null): void {
    const tail = exitStatus ? `\n[exit ${exitStatus.exitCode ?? exitStatus.signal ?? "?"}]` : "";
    pre.textContent = output + tail;
  }

  private renderLocations(box: HTMLElement, locations: acp.ToolCallLocation[]): void {
    box.replaceChildren();
    for (const location of locations.slice(0, 20)) {
      const line = location.line ?? null;
      const name = this.shown(location.path);
      const link = el("button", "location", line ? `${name}:${line}` : name);
      link.title = location.path;
      link.addEventListener("click", () => this.actions.openFile(location.path, line));
      box.append(link);
    }
  }

  askPermission(requestId: number, toolCall: acp.ToolCallUpdate, options: acp.PermissionOption[], parent: HTMLElement): void {
    const card = this.apply(toolCall, parent);
    card.classList.add("asking");
    const box = card.querySelector(".permission") as HTMLElement;
    box.replaceChildren();
    box.dataset.requestId = String(requestId);
    box.append(el("span", "question", "Allow this?"));
    for (const option of options) {
      const button = el("button", `option ${option.kind}`, option.name);
      button.dataset.optionId = option.optionId;
      button.dataset.kind = option.kind;
      button.addEventListener("click", () => this.actions.answer(requestId, option.optionId));
      box.append(button);
    }
    card.scrollIntoView({ block: "nearest" });
  }

  permissionDone(requestId: number): void {
    for (const card of this.cards.values()) {
      const box = card.querySelector(".permission") as HTMLElement;
      if (box.dataset.requestId === String(requestId)) {
        box.replaceChildren();
        delete box.dataset.requestId;
        card.classList.remove("asking");
      }
    }
  }
}
