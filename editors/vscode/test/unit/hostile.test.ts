// The client side's own boundary: punie (or anything speaking for it) cannot make the editor read,
// write or run outside the workspace folder.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { FileHandler } from "../../src/host/files";
import { TerminalHandler } from "../../src/host/terminals";
import { DiskOnlyDocuments, tempWorkspace } from "./support";

const workspace = tempWorkspace();
const outside = tempWorkspace("punie-outside-");
writeFileSync(path.join(outside, "secret.txt"), "TOP SECRET\n");
writeFileSync(path.join(workspace, "inside.txt"), "fine\n");
symlinkSync(path.join(outside, "secret.txt"), path.join(workspace, "link-to-secret"));
symlinkSync(outside, path.join(workspace, "linked-dir"));
mkdirSync(path.join(workspace, "sub"));
const documents = new DiskOnlyDocuments();
const files = new FileHandler(() => [workspace], documents);

const readAttempts = [
  "/etc/passwd",
  path.join(outside, "secret.txt"),
  path.join(workspace, "..", path.basename(outside), "secret.txt"),
  path.join(workspace, "sub", "..", "..", path.basename(outside), "secret.txt"),
  path.join(workspace, "link-to-secret"),
  path.join(workspace, "linked-dir", "secret.txt"),
  "inside.txt", // relative: ACP paths are absolute
  `${workspace}/inside.txt\0.png`,
  "",
  `${workspace}-sibling/inside.txt`, // a prefix of the root is not inside it
];

for (const attempt of readAttempts) {
  test(`read refused: ${JSON.stringify(attempt)}`, async () => {
    await assert.rejects(files.readTextFile({ sessionId: "s", path: attempt }), (error: Error) => {
      assert.doesNotMatch(String(error.message), /TOP SECRET/);
      return true;
    });
  });
}

const writeAttempts = [
  path.join(outside, "planted.txt"),
  path.join(workspace, "..", path.basename(outside), "planted.txt"),
  path.join(workspace, "linked-dir", "planted.txt"),
  path.join(workspace, "linked-dir", "deeper", "planted.txt"),
  path.join(workspace, "link-to-secret"),
];

for (const attempt of writeAttempts) {
  test(`write refused: ${attempt}`, async () => {
    await assert.rejects(files.writeTextFile({ sessionId: "s", path: attempt, content: "pwned" }));
    assert.equal(documents.writes.length, 0);
    assert.equal(existsSync(path.join(outside, "planted.txt")), false);
  });
}

test("reads and writes inside the workspace work (the refusals above are not blanket)", async () => {
  assert.equal((await files.readTextFile({ sessionId: "s", path: path.join(workspace, "inside.txt") })).content, "fine\n");
  await files.writeTextFile({ sessionId: "s", path: path.join(workspace, "sub", "new.txt"), content: "ok" });
  assert.equal(documents.writes.length, 1);
});

test("line and limit select lines of the buffer", async () => {
  const file = path.join(workspace, "lines.txt");
  writeFileSync(file, "a\nb\nc\nd\n");
  assert.equal((await files.readTextFile({ sessionId: "s", path: file, line: 2, limit: 2 })).content, "b\nc\n");
});

test("a terminal cannot start outside the workspace", async () => {
  const terminals = new TerminalHandler(() => [workspace]);
  await assert.rejects(terminals.createTerminal({ sessionId: "s", command: "true", cwd: outside }));
  await assert.rejects(terminals.createTerminal({ sessionId: "s", command: "true", cwd: path.join(workspace, "linked-dir") }));
});

test("terminal output is read back, bounded, and the command is not run through a shell", async () => {
  const terminals = new TerminalHandler(() => [workspace]);
  const { terminalId } = await terminals.createTerminal({
    sessionId: "s", command: "printf", args: ["%s\\n", "$(touch pwned) ; echo hi"], cwd: workspace, outputByteLimit: 1000,
  });
  const exit = await terminals.waitForTerminalExit({ sessionId: "s", terminalId }, new AbortController().signal);
  assert.equal(exit.exitCode, 0);
  const out = await terminals.terminalOutput({ sessionId: "s", terminalId });
  assert.equal(out.output, "$(touch pwned) ; echo hi\n");
  assert.equal(existsSync(path.join(workspace, "pwned")), false);
  const big = await terminals.createTerminal({ sessionId: "s", command: "head", args: ["-c", "5000", "/dev/zero"], cwd: workspace, outputByteLimit: 100 });
  await terminals.waitForTerminalExit({ sessionId: "s", terminalId: big.terminalId }, new AbortController().signal);
  const bounded = await terminals.terminalOutput({ sessionId: "s", terminalId: big.terminalId });
  assert.equal(bounded.truncated, true);
  assert.ok(Buffer.byteLength(bounded.output) <= 100);
  await terminals.releaseTerminal({ sessionId: "s", terminalId });
  await assert.rejects(terminals.terminalOutput({ sessionId: "s", terminalId }));
});
