// The client side against a real `punie serve`: streaming, fs/* through the editor's documents,
// permissions, cancel, saved sessions and restart after a crash.
import assert from "node:assert/strict";
import { readFileSync, existsSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, test } from "node:test";
import { harness, writeScript, eventually, type Harness } from "./support";

const open: Harness[] = [];
after(async () => {
  for (const h of open) await h.close();
});
function start(args: string[]): Harness {
  const h = harness(args);
  open.push(h);
  return h;
}

test("a prompt streams a thought, a read tool call served from the unsaved buffer, and an answer", async () => {
  const h = start(["--model", "test"]);
  const file = path.join(h.workspace, "hello.py");
  writeFileSync(file, "print('on disk')\n");
  h.documents.buffers.set(file, "print('UNSAVED buffer')\n"); // open in the "editor", not saved
  const stop = await h.controller.prompt("Please look at hello.py");
  assert.equal(stop, "end_turn");
  const kinds = h.view.updates();
  assert.ok(kinds.includes("agent_thought_chunk"), kinds.join());
  assert.ok(kinds.includes("tool_call"), kinds.join());
  assert.ok(kinds.indexOf("tool_call") < kinds.lastIndexOf("agent_message_chunk"));
  const completed = h.view.messages.some(
    (m) => m.type === "update" && m.update.sessionUpdate === "tool_call_update" && m.update.status === "completed",
  );
  assert.ok(completed, "the read tool call completes");
  await eventually(() => /UNSAVED buffer/.test(h.view.answerText()), "the answer quoting the buffer");
  assert.ok(h.view.answerText().split("").length > 1);
  assert.ok(kinds.filter((k) => k === "agent_message_chunk").length > 3, "the answer arrives in several chunks");
});

test("a write in ask mode asks permission; allow writes through the editor, reject writes nothing", async () => {
  const h0 = start(["--model", "test"]); // for the workspace path only
  const script = writeScript(h0.workspace, [
    [{ call: "write_file", args: { path: "notes.txt", content: "first\n" } }],
    [{ say: "Wrote notes.txt." }],
    [{ call: "write_file", args: { path: "other.txt", content: "second\n" } }],
    [{ say: "Tried other.txt." }],
  ]);
  const h = start(["--model", `script:${script}`, "--mode", "ask"]);
  const answer = async (optionId: string): Promise<void> => {
    const asked = await h.view.waitFor((m) => m.type === "permission" && !h.view.messages.some((d) => d.type === "permissionDone" && d.requestId === m.requestId), "a permission request");
    assert.equal(asked.type, "permission");
    if (asked.type !== "permission") return;
    assert.deepEqual(asked.options.map((o) => o.kind).sort(), ["allow_always", "allow_once", "reject_always", "reject_once"]);
    assert.ok(asked.toolCall.content?.some((c) => c.type === "diff"), "the request shows the diff");
    await h.controller.handle({ type: "permission", requestId: asked.requestId, optionId });
  };
  const first = h.controller.prompt("write notes");
  await answer("allow_once");
  assert.equal(await first, "end_turn");
  assert.equal(readFileSync(path.join(h.workspace, "notes.txt"), "utf8"), "first\n");
  assert.equal(h.documents.writes.length, 1, "written through fs/write_text_file");
  assert.equal(h.documents.writes[0]?.oldText, null);

  const second = h.controller.prompt("write other");
  await answer("reject_once");
  assert.equal(await second, "end_turn");
  assert.equal(existsSync(path.join(h.workspace, "other.txt")), false);
  const failed = h.view.messages.some((m) => m.type === "update" && m.update.sessionUpdate === "tool_call_update" && m.update.status === "failed");
  assert.ok(failed, "the rejected write is a failed tool call");
});

test("the mode picker's choice reaches punie: in auto-edit a write needs no permission", async () => {
  const h0 = start(["--model", "test"]);
  const script = writeScript(h0.workspace, [
    [{ call: "write_file", args: { path: "auto.txt", content: "auto\n" } }],
    [{ say: "Done." }],
  ]);
  const h = start(["--model", `script:${script}`, "--mode", "ask"]);
  await h.controller.handle({ type: "ready" });
  const session = await h.view.waitFor((m) => m.type === "session" && m.modes !== null, "the session's modes");
  assert.equal(session.type === "session" && session.modes?.currentModeId, "ask");
  await h.controller.handle({ type: "setMode", modeId: "auto-edit" });
  assert.equal(await h.controller.prompt("write it"), "end_turn");
  assert.equal(h.view.messages.some((m) => m.type === "permission"), false);
  assert.equal(readFileSync(path.join(h.workspace, "auto.txt"), "utf8"), "auto\n");
});

test("a permission answer with an option punie did not offer is ignored", async () => {
  const h0 = start(["--model", "test"]);
  const script = writeScript(h0.workspace, [
    [{ call: "write_file", args: { path: "forged.txt", content: "x\n" } }],
    [{ say: "Done." }],
  ]);
  const h = start(["--model", `script:${script}`, "--mode", "ask"]);
  const turn = h.controller.prompt("write it");
  const asked = await h.view.waitFor((m) => m.type === "permission", "the permission request");
  if (asked.type !== "permission") return;
  await h.controller.handle({ type: "permission", requestId: asked.requestId, optionId: "allow_everything_forever" });
  assert.equal(h.view.messages.some((m) => m.type === "permissionDone"), false, "still waiting for a real answer");
  await h.controller.handle({ type: "permission", requestId: asked.requestId, optionId: "reject_once" });
  assert.equal(await turn, "end_turn");
  assert.equal(existsSync(path.join(h.workspace, "forged.txt")), false);
});

test("stop during a long reply ends the turn as cancelled", async () => {
  const h0 = start(["--model", "test"]);
  const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
  const script = writeScript(h0.workspace, [[{ say: long }]], 0.05);
  const h = start(["--model", `script:${script}`]);
  const turn = h.controller.prompt("talk for a long time");
  await h.view.waitFor((m) => m.type === "update" && m.update.sessionUpdate === "agent_message_chunk", "the first chunk");
  await h.controller.cancel();
  assert.equal(await turn, "cancelled");
  assert.ok(!h.view.answerText().includes("word399"), "the reply stopped early");
});

test("a crashed punie is restarted with a notice and the next prompt works", async () => {
  const h = start(["--model", "test"]);
  assert.equal(await h.controller.prompt("hi"), "end_turn");
  const first = await h.supervisor.current();
  first.kill("SIGKILL");
  await eventually(() => h.events.some((e) => e.startsWith("restart: punie was killed by SIGKILL")), "the restart notice");
  await eventually(() => h.events.includes("connected again"), "the new connection");
  assert.notEqual((await h.supervisor.current()).pid, first.pid);
  assert.equal(await h.controller.prompt("hello again"), "end_turn");
  await eventually(() => h.view.answerText().includes("You said: hello again"), "the answer after the restart");
});

test("saved sessions are listed and a loaded session replays its history", async () => {
  const h = start(["--model", "test"]);
  assert.equal(await h.controller.prompt("remember the word pelican"), "end_turn");
  const saved = h.controller.currentSessionId;
  await h.controller.newSession();
  await h.controller.listSessions();
  const listed = await h.view.waitFor((m) => m.type === "sessions" && m.sessions.some((s) => s.sessionId === saved), "the session list");
  assert.equal(listed.type, "sessions");
  const before = h.view.messages.length;
  await h.controller.handle({ type: "loadSession", sessionId: saved ?? "" });
  const replayedUser = (): boolean =>
    h.view.messages.slice(before).some((m) => m.type === "update" && m.update.sessionUpdate === "user_message_chunk" && m.update.content.type === "text" && m.update.content.text.includes("pelican"));
  await eventually(replayedUser, "the replay of the user's message");
  assert.equal(h.controller.currentSessionId, saved);
});
