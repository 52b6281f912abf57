// Finding punie, and the protocol log.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { AnyMessage } from "@agentclientprotocol/sdk";
import { AgentConnection } from "../../src/acp/connection";
import { locatePunie } from "../../src/acp/locate";
import { DiskOnlyDocuments, PUNIE, tempWorkspace } from "./support";
import { FileHandler } from "../../src/host/files";
import { TerminalHandler } from "../../src/host/terminals";

function fakeExecutable(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, "#!/bin/sh\n");
  chmodSync(file, 0o755);
  return file;
}

test("punie is found: the setting, else the workspace's .venv, else PATH, else an actionable error", () => {
  const workspace = tempWorkspace();
  const onPath = tempWorkspace("punie-path-");
  const fromPath = fakeExecutable(path.join(onPath, "punie"));
  assert.deepEqual(locatePunie({ command: "", args: [] }, workspace, onPath), { command: fromPath });
  const fromVenv = fakeExecutable(path.join(workspace, ".venv", "bin", "punie"));
  assert.deepEqual(locatePunie({ command: "", args: [] }, workspace, onPath), { command: fromVenv });
  assert.deepEqual(locatePunie({ command: " /opt/punie ", args: [] }, workspace, onPath), { command: "/opt/punie" });
  const missing = locatePunie({ command: "", args: [] }, tempWorkspace(), tempWorkspace());
  assert.ok("error" in missing && /punie\.command/.test(missing.error));
});

test("with tracing on, every message in and out reaches the protocol log", async () => {
  const workspace = tempWorkspace();
  const traced: [string, AnyMessage][] = [];
  const files = new FileHandler(() => [workspace], new DiskOnlyDocuments());
  const terminals = new TerminalHandler(() => [workspace]);
  const connection = await AgentConnection.start({
    command: PUNIE,
    args: ["serve", "--model", "test", "--session-store", "none"],
    cwd: workspace,
    side: {
      readTextFile: (r) => files.readTextFile(r),
      writeTextFile: (r) => files.writeTextFile(r),
      createTerminal: (r) => terminals.createTerminal(r),
      terminalOutput: (r) => terminals.terminalOutput(r),
      waitForTerminalExit: (r, s) => terminals.waitForTerminalExit(r, s),
      killTerminal: (r) => terminals.killTerminal(r),
      releaseTerminal: (r) => terminals.releaseTerminal(r),
      requestPermission: async () => ({ outcome: { outcome: "cancelled" } }),
      sessionUpdate: () => undefined,
    },
    trace: () => (direction, message) => traced.push([direction, message]),
  });
  try {
    assert.equal(connection.initialized.agentInfo?.name, "punie");
    const session = await connection.agent.request("session/new", { cwd: workspace, mcpServers: [] });
    assert.ok(session.sessionId);
    const methods = traced.map(([d, m]) => `${d} ${"method" in m ? m.method : "result" in m ? "result" : "error"}`);
    assert.ok(methods.includes("→ initialize"), methods.join());
    assert.ok(methods.includes("→ session/new"), methods.join());
    assert.ok(methods.filter((m) => m === "← result").length >= 2, methods.join());
  } finally {
    connection.dispose();
  }
});

test("a punie that cannot start fails with its own last words, not a hang", async () => {
  const workspace = tempWorkspace();
  const noSide = {
    readTextFile: () => Promise.reject(new Error("unused")),
    writeTextFile: () => Promise.reject(new Error("unused")),
    createTerminal: () => Promise.reject(new Error("unused")),
    terminalOutput: () => Promise.reject(new Error("unused")),
    waitForTerminalExit: () => Promise.reject(new Error("unused")),
    killTerminal: () => Promise.reject(new Error("unused")),
    releaseTerminal: () => Promise.reject(new Error("unused")),
    requestPermission: () => Promise.reject(new Error("unused")),
    sessionUpdate: () => undefined,
  };
  await assert.rejects(
    AgentConnection.start({ command: PUNIE, args: ["serve", "--mode", "bogus"], cwd: workspace, side: noSide }),
    /punie exited with code 2: .*bogus/,
  );
  await assert.rejects(
    AgentConnection.start({ command: path.join(workspace, "no-such-punie"), args: [], cwd: workspace, side: noSide }),
    /ENOENT/,
  );
});
