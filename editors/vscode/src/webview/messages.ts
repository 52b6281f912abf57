// Messages between the extension and its webview. Both sides import these types; the extension
// validates what the webview sends (`parseFromWebview`) before acting on it.
import type * as acp from "@agentclientprotocol/sdk";

export type ToWebview =
  | { type: "session"; sessionId: string; modes: acp.SessionModeState | null; root: string | null }
  | { type: "update"; update: acp.SessionUpdate }
  | { type: "permission"; requestId: number; toolCall: acp.ToolCallUpdate; options: acp.PermissionOption[] }
  | { type: "permissionDone"; requestId: number }
  | { type: "turn"; running: boolean; stopReason?: acp.StopReason }
  | { type: "notice"; level: "info" | "error"; text: string }
  | { type: "sessions"; sessions: acp.SessionInfo[] }
  | { type: "reset" }
  | { type: "user"; text: string }
  | { type: "terminal"; terminalId: string; output: string; exitStatus: acp.TerminalExitStatus | null };

export type FromWebview =
  | { type: "ready" }
  | { type: "prompt"; text: string }
  | { type: "cancel" }
  | { type: "setMode"; modeId: string }
  | { type: "permission"; requestId: number; optionId: string | null }
  | { type: "newSession" }
  | { type: "loadSession"; sessionId: string }
  | { type: "listSessions" }
  | { type: "openLink"; href: string }
  | { type: "openFile"; path: string; line: number | null };

const MAX_PROMPT = 1_000_000;

function str(value: unknown, max = 4096): string | undefined {
  return typeof value === "string" && value.length <= max ? value : undefined;
}

/** The message if it is well-formed, else undefined (a webview is not trusted blindly). */
export function parseFromWebview(raw: unknown): FromWebview | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case "ready":
    case "cancel":
    case "newSession":
    case "listSessions":
      return { type: m.type };
    case "prompt": {
      const text = str(m.text, MAX_PROMPT);
      return text !== undefined && text.trim() ? { type: "prompt", text } : undefined;
    }
    case "setMode":
    case "loadSession": {
      const value = str(m.type === "setMode" ? m.modeId : m.sessionId, 256);
      if (value === undefined) return undefined;
      return m.type === "setMode" ? { type: "setMode", modeId: value } : { type: "loadSession", sessionId: value };
    }
    case "permission": {
      const optionId = m.optionId === null ? null : str(m.optionId, 256);
      if (typeof m.requestId !== "number" || optionId === undefined) return undefined;
      return { type: "permission", requestId: m.requestId, optionId };
    }
    case "openLink": {
      const href = str(m.href);
      return href !== undefined ? { type: "openLink", href } : undefined;
    }
    case "openFile": {
      const file = str(m.path);
      const line = typeof m.line === "number" && Number.isInteger(m.line) && m.line > 0 ? m.line : null;
      return file !== undefined ? { type: "openFile", path: file, line } : undefined;
    }
    default:
      return undefined;
  }
}

/** Only web links may be opened from agent text; `javascript:`, `file:`, `command:` never. */
export function isSafeLink(href: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(href);
}
