// Tests inside the real extension host (code-server): the extension's client side with VS Code's
// own documents, edits, terminals and views.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { PunieApi } from "../../src/extension";

async function api(): Promise<PunieApi> {
  const extension = vscode.extensions.getExtension<PunieApi>("punie.punie-vscode");
  assert.ok(extension, "the punie extension is installed");
  return extension.activate();
}

function folder(): string {
  const first = vscode.workspace.workspaceFolders?.[0];
  assert.ok(first, "a workspace folder is open");
  return first.uri.fsPath;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function registerTests(): void {
  describe("punie extension in the extension host", () => {
    it("activates, registers its commands and resolves the chat view", async () => {
      const punie = await api();
      assert.ok(punie.controller && punie.supervisor);
      const commands = await vscode.commands.getCommands(true);
      for (const c of ["punie.restart", "punie.newSession", "punie.showLog", "punie.focus"]) assert.ok(commands.includes(c), c);
      await vscode.commands.executeCommand("punie.focus");
    });

    it("fs/read_text_file returns the unsaved buffer of an open file", async () => {
      const punie = await api();
      const file = path.join(folder(), "buffer.txt");
      writeFileSync(file, "on disk\n");
      const document = await vscode.workspace.openTextDocument(file);
      const editor = await vscode.window.showTextDocument(document);
      await editor.edit((e) => e.insert(new vscode.Position(0, 0), "UNSAVED "));
      assert.equal(document.isDirty, true);
      const read = await punie.files.readTextFile({ sessionId: "s", path: file });
      assert.equal(read.content, "UNSAVED on disk\n");
      assert.equal(readFileSync(file, "utf8"), "on disk\n");
      await vscode.commands.executeCommand("workbench.action.revertAndCloseActiveEditor");
    });

    it("fs/write_text_file is an undoable edit, visible in the editor and saved", async () => {
      const punie = await api();
      const file = path.join(folder(), "edit-me.txt");
      writeFileSync(file, "before\n");
      await punie.files.writeTextFile({ sessionId: "s", path: file, content: "after\n" });
      const document = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file);
      assert.ok(document, "the written file is open in the editor");
      assert.equal(document.getText(), "after\n");
      assert.equal(readFileSync(file, "utf8"), "after\n");
      const shown = vscode.window.visibleTextEditors.some((e) => e.document.uri.fsPath === file);
      assert.ok(shown, "the change is visible in an editor (the diff view)");
      await vscode.window.showTextDocument(document);
      await vscode.commands.executeCommand("undo");
      assert.equal(document.getText(), "before\n", "the write can be undone");
    });

    it("fs/write_text_file creates a new file through the editor", async () => {
      const punie = await api();
      const file = path.join(folder(), "brand-new.txt");
      await punie.files.writeTextFile({ sessionId: "s", path: file, content: "fresh\n" });
      assert.equal(readFileSync(file, "utf8"), "fresh\n");
    });

    it("refuses to read or write outside the workspace folder", async () => {
      const punie = await api();
      const outside = path.join(path.dirname(folder()), "outside-planted.txt");
      await assert.rejects(punie.files.writeTextFile({ sessionId: "s", path: outside, content: "x" }));
      assert.equal(existsSync(outside), false);
      await assert.rejects(punie.files.readTextFile({ sessionId: "s", path: "/etc/passwd" }));
    });

    it("terminal/* runs a command in a VS Code terminal and reads its output back", async () => {
      const punie = await api();
      const { terminalId } = await punie.terminals.createTerminal({ sessionId: "s", command: "echo", args: ["hello from a terminal"], cwd: folder() });
      await punie.terminals.waitForTerminalExit({ sessionId: "s", terminalId }, new AbortController().signal);
      const out = await punie.terminals.terminalOutput({ sessionId: "s", terminalId });
      assert.equal(out.output, "hello from a terminal\n");
      assert.equal(out.exitStatus?.exitCode, 0);
      assert.ok(vscode.window.terminals.some((t) => t.name.startsWith("punie: echo")), "a VS Code terminal shows it");
      await punie.terminals.releaseTerminal({ sessionId: "s", terminalId });
    });

    it("a punie that crashes is restarted with a notice", async () => {
      const punie = await api();
      const first = await punie.supervisor.current();
      const before = punie.notices.length;
      first.kill("SIGKILL");
      await until(() => punie.notices.length > before, "the restart notice");
      assert.match(punie.notices[punie.notices.length - 1] ?? "", /killed by SIGKILL.*Restarting punie/);
      const second = await punie.supervisor.current();
      assert.notEqual(second.pid, first.pid);
      assert.equal(second.initialized.agentInfo?.name, "punie");
    });
  });
}
