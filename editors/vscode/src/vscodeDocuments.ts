// The VS Code side of fs/*: open buffers are read as they are; writes are WorkspaceEdits (undoable,
// visible in the editor), with the change shown in a diff editor when the user asked to review.
import { RequestError } from "@agentclientprotocol/sdk";
import * as vscode from "vscode";
import type { Documents } from "./host/files";

export const PROPOSED_SCHEME = "punie-proposed";

/** Read-only documents holding the text before (or the proposal of) a write, for vscode.diff. */
export class ProposedContent implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private next = 1;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.query) ?? "";
  }

  add(file: string, text: string): vscode.Uri {
    const key = String(this.next++);
    this.texts.set(key, text);
    if (this.texts.size > 50) this.texts.delete(this.texts.keys().next().value ?? "");
    return vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: file, query: key });
  }
}

type Review = "off" | "diff" | "confirm";

function review(): Review {
  const value = vscode.workspace.getConfiguration("punie").get<string>("reviewWrites", "diff");
  return value === "off" || value === "confirm" ? value : "diff";
}

export class VsCodeDocuments implements Documents {
  constructor(private readonly proposed: ProposedContent) {}

  private find(file: string): vscode.TextDocument | undefined {
    return vscode.workspace.textDocuments.find((d) => d.uri.scheme === "file" && d.uri.fsPath === file);
  }

  openText(file: string): string | undefined {
    return this.find(file)?.getText();
  }

  async write(file: string, oldText: string | null, newText: string): Promise<void> {
    const uri = vscode.Uri.file(file);
    const name = vscode.workspace.asRelativePath(uri);
    const mode = review();
    if (mode === "confirm") {
      const before = this.proposed.add(file, oldText ?? "");
      const after = this.proposed.add(file, newText);
      await vscode.commands.executeCommand("vscode.diff", before, after, `punie proposes: ${name}`, { preview: true });
      const choice = await vscode.window.showInformationMessage(`Apply punie's change to ${name}?`, { modal: true }, "Apply");
      if (choice !== "Apply") throw RequestError.internalError({ path: file }, `the user did not apply the change to ${name}`);
    }
    const edit = new vscode.WorkspaceEdit();
    if (oldText === null && !this.find(file)) {
      edit.createFile(uri, { ignoreIfExists: true });
      edit.insert(uri, new vscode.Position(0, 0), newText);
    } else {
      const document = await vscode.workspace.openTextDocument(uri);
      const end = document.lineAt(document.lineCount - 1).range.end;
      edit.replace(uri, new vscode.Range(new vscode.Position(0, 0), end), newText);
    }
    if (!(await vscode.workspace.applyEdit(edit))) {
      throw RequestError.internalError({ path: file }, `VS Code could not apply the edit to ${name}`);
    }
    const document = await vscode.workspace.openTextDocument(uri);
    // Saved, so that tools punie runs next (tests, linters) see what the editor shows.
    await document.save();
    if (mode === "diff") {
      const before = this.proposed.add(file, oldText ?? "");
      await vscode.commands.executeCommand("vscode.diff", before, uri, `punie changed: ${name}`, { preview: true, preserveFocus: true });
    } else {
      await vscode.window.showTextDocument(document, { preview: true, preserveFocus: true });
    }
  }
}
