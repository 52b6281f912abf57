// End-to-end: drive `punie serve` over stdio with the official ACP TypeScript SDK
// (@agentclientprotocol/sdk, pinned in package.json), so a non-Python client is known
// to agree with the server.
//
// Run: `npm ci && node --test` in this directory (or `pytest tests/e2e/test_node_client.py`).
// Env: PUNIE_CMD    command that starts the server, split on whitespace, used as is
//                   (default: `$PUNIE_PYTHON -m punie_acp serve` with this checkout on
//                   PYTHONPATH); `--model …` is appended.
//      PUNIE_PYTHON python for the default command (default: `python3`).
//
// Besides the behaviour asserted below, every connection checks what the SDK itself
// accepted: each `session/update` the server sent must have passed the SDK's schema
// parsing and reached our handler, the SDK must not have logged a protocol error or
// answered a line with a JSON-RPC error of its own, and the results of `initialize`,
// `session/new` and `session/prompt` (which the SDK passes through unvalidated) are
// checked against the SDK's own generated zod schemas.
//
// Timeouts here are failure guards only: nothing asserts how fast anything is.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as acp from "@agentclientprotocol/sdk";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, "..", "..");

// The SDK's generated v1 schemas. Not a public export, so loaded by file; the SDK
// version is pinned exactly, so this path is stable.
const schemas = await import(
  new URL("./node_modules/@agentclientprotocol/sdk/dist/v1/schema/zod.gen.js", import.meta.url).href
);

const GUARD_MS = 30_000; // failure guard for any single wait
const TEST_TIMEOUT_MS = 90_000; // failure guard for a whole test

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

function punieCommand() {
  const custom = process.env.PUNIE_CMD?.trim();
  if (custom) return { argv: custom.split(/\s+/), env: {} };
  const pythonPath = [REPO_ROOT, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  return {
    argv: [process.env.PUNIE_PYTHON || "python3", "-m", "punie_acp", "serve"],
    env: { PYTHONPATH: pythonPath }, // this checkout's punie_acp, installed or not
  };
}

function withTimeout(promise, label, ms = GUARD_MS) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** A byte-level tap that records each newline-delimited line passing through. */
function lineTap(direction, log) {
  const decoder = new TextDecoder();
  let pending = "";
  const record = (line) => {
    if (!line.trim()) return;
    let json;
    try {
      json = JSON.parse(line);
    } catch {
      json = undefined;
    }
    log.push({ direction, line, json });
  };
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        record(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      controller.enqueue(chunk);
    },
    flush() {
      record(pending + decoder.decode());
    },
  });
}

/** A temp dir holding a project (with hello.py) and the server's log/config dirs. */
async function makeWorkspace() {
  // realpath: the server reports resolved absolute paths (e.g. /private/var on macOS).
  const root = await realpath(await mkdtemp(path.join(tmpdir(), "punie-node-e2e-")));
  const project = path.join(root, "project");
  await mkdir(project);
  await writeFile(path.join(project, "hello.py"), "print('hello')\nanswer = 42\n");
  return { root, project };
}

async function writeScript(root, responses, chunkDelay) {
  const file = path.join(root, "script.json");
  await writeFile(file, JSON.stringify({ chunk_delay: chunkDelay, responses }));
  return `script:${file}`;
}

/**
 * Spawns `punie serve --model <model>`, connects an SDK client app to it and runs
 * `op(ctx, client)`; afterwards checks what the SDK accepted and stops the server.
 */
async function withPunie(workspace, model, op) {
  const command = punieCommand();
  const [cmd, ...args] = command.argv;
  const child = spawn(cmd, [...args, "--model", model], {
    cwd: workspace.root,
    stdio: ["pipe", "pipe", "pipe"],
    env: {
      ...process.env,
      ...command.env,
      PUNIE_LOG_FILE: path.join(workspace.root, "punie.log"),
      XDG_CONFIG_HOME: path.join(workspace.root, "config"), // no user config leaks in
      XDG_STATE_HOME: path.join(workspace.root, "state"),
    },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ error })); // e.g. the command does not exist
  });
  const spawnError = new Promise((_, reject) => child.once("error", reject));
  spawnError.catch(() => {});

  // Byte-level taps on both directions, so the log holds exactly what crossed the pipe.
  const wire = [];
  const inTap = lineTap("agent->client", wire);
  const outTap = lineTap("client->agent", wire);
  Readable.toWeb(child.stdout).pipeTo(inTap.writable).catch(() => {});
  outTap.readable.pipeTo(Writable.toWeb(child.stdin)).catch(() => {});
  const stream = acp.ndJsonStream(outTap.writable, inTap.readable);

  // What reached our handlers after the SDK parsed it.
  const client = { delivered: [], permissionRequests: [] };
  const app = acp
    .client({ name: "punie-node-e2e" })
    .onNotification(acp.methods.client.session.update, ({ params }) => {
      client.delivered.push(params);
    })
    .onRequest(acp.methods.client.session.requestPermission, ({ params }) => {
      client.permissionRequests.push(params);
      return { outcome: { outcome: "cancelled" } };
    });

  // The SDK reports rejected messages with console.error; collect them.
  const sdkErrors = [];
  const originalConsoleError = console.error;
  console.error = (...items) => {
    sdkErrors.push(items.map((i) => (typeof i === "string" ? i : JSON.stringify(i))).join(" "));
    originalConsoleError(...items);
  };

  const diagnostics = () => {
    const tail = wire
      .slice(-40)
      .map((w) => `${w.direction}: ${w.line.length > 400 ? w.line.slice(0, 400) + "…" : w.line}`)
      .join("\n");
    return `\n--- last wire lines ---\n${tail}\n--- server stderr ---\n${stderr.slice(-4000)}`;
  };

  try {
    let result;
    try {
      result = await Promise.race([app.connectWith(stream, (ctx) => op(ctx, client)), spawnError]);
    } catch (error) {
      const problems = sdkDisagreements(wire, client, sdkErrors);
      if (problems.length) error.message += `\n--- SDK disagreements ---\n${problems.join("\n")}`;
      error.message += diagnostics();
      throw error;
    }
    assert.deepEqual(sdkDisagreements(wire, client, sdkErrors), [], `SDK disagreements${diagnostics()}`);
    return result;
  } finally {
    console.error = originalConsoleError;
    child.stdin.end();
    const stopped = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 5_000))]);
    if (stopped === null) {
      child.kill("SIGKILL");
      await exited;
    }
  }
}

/** Everything the SDK rejected, altered or complained about on this connection. */
function sdkDisagreements(wire, client, sdkErrors) {
  const problems = [];
  for (const w of wire) {
    if (w.direction === "agent->client" && w.json === undefined) {
      problems.push(`server wrote a non-JSON line to stdout: ${w.line}`);
    }
    // Errors the SDK itself sends back (parse errors, invalid requests) have id null.
    if (w.direction === "client->agent" && w.json && "error" in w.json && w.json.id === null) {
      problems.push(`the SDK answered a server line with an error: ${w.line}`);
    }
  }
  problems.push(...sdkErrors.map((e) => `the SDK logged: ${e}`));
  const sent = wire.filter((w) => w.direction === "agent->client" && w.json?.method === "session/update");
  problems.push(...sent.flatMap((w) => schemaProblems("zSessionNotification", w.json.params)));
  if (client.delivered.length !== sent.length) {
    problems.push(
      `only ${client.delivered.length} of ${sent.length} session/update notifications reached the client handler`,
    );
  }
  return problems;
}

/**
 * Paths where the SDK's parse of `raw` lost or changed what the server sent: unknown
 * keys are stripped and invalid optional values are silently replaced by defaults, so
 * "parses" alone is too lenient. (Defaults the parse adds for absent keys are fine.)
 */
function alteredByParse(raw, parsed, at = "$") {
  if (raw === null || typeof raw !== "object") {
    return Object.is(raw, parsed) ? [] : [`${at}: sent ${JSON.stringify(raw)}, SDK saw ${JSON.stringify(parsed)}`];
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(raw) !== Array.isArray(parsed)) {
    return [`${at}: sent ${JSON.stringify(raw)}, SDK saw ${JSON.stringify(parsed)}`];
  }
  if (Array.isArray(raw) && raw.length !== parsed.length) {
    return [`${at}: sent ${raw.length} items, SDK kept ${parsed.length}`];
  }
  return Object.keys(raw).flatMap((key) =>
    key in parsed ? alteredByParse(raw[key], parsed[key], `${at}.${key}`) : [`${at}.${key}: dropped by the SDK`],
  );
}

/** What one of the SDK's generated schemas rejects in, or changes about, `value`. */
function schemaProblems(schemaName, value) {
  const parsed = schemas[schemaName].safeParse(value);
  if (!parsed.success) {
    return [`${schemaName} rejects ${JSON.stringify(value)}: ${JSON.stringify(parsed.error.issues)}`];
  }
  return alteredByParse(value, parsed.data).map((p) => `${schemaName} on ${JSON.stringify(value)}: ${p}`);
}

function assertSchema(schemaName, value) {
  assert.deepEqual(schemaProblems(schemaName, value), []);
}

async function initialize(ctx) {
  const resp = await withTimeout(
    ctx.request(acp.methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
      clientInfo: { name: "punie-node-e2e", version: "0.0.0" },
    }),
    "initialize",
  );
  assertSchema("zInitializeResponse", resp);
  return resp;
}

/** Reads an ActiveSession's messages until the turn's `stop` message. */
async function readTurn(session, onUpdate = () => {}) {
  const updates = [];
  for (;;) {
    const msg = await withTimeout(session.nextUpdate(), `a session/update or the end of the turn`);
    if (msg.kind === "stop") return { updates, stop: msg };
    updates.push(msg.update);
    await onUpdate(msg.update, updates);
  }
}

const textOf = (updates, kind) =>
  updates
    .filter((u) => u.sessionUpdate === kind && u.content.type === "text")
    .map((u) => u.content.text)
    .join("");

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

test("initialize: protocol version 1 and agent info", { timeout: TEST_TIMEOUT_MS }, async () => {
  const ws = await makeWorkspace();
  try {
    await withPunie(ws, "test", async (ctx) => {
      const resp = await initialize(ctx);
      assert.equal(resp.protocolVersion, 1);
      assert.equal(resp.agentInfo?.name, "punie");
    });
  } finally {
    await rm(ws.root, { recursive: true, force: true });
  }
});

test("prompt streams a thought, message chunks and a read_file tool call", { timeout: TEST_TIMEOUT_MS }, async () => {
  const ws = await makeWorkspace();
  try {
    await withPunie(ws, "test", async (ctx, client) => {
      await initialize(ctx);
      const session = await withTimeout(ctx.buildSession(ws.project).start(), "session/new");
      assertSchema("zNewSessionResponse", session.newSessionResponse);
      assert.ok(session.sessionId, "session/new returned a sessionId");

      const responded = session.prompt("what is in hello.py?");
      const { updates, stop } = await readTurn(session);
      const response = await withTimeout(responded, "session/prompt response");
      assertSchema("zPromptResponse", response);
      assert.equal(response.stopReason, "end_turn");
      assert.equal(stop.stopReason, "end_turn");

      const kinds = updates.map((u) => u.sessionUpdate);
      assert.ok(kinds.includes("agent_thought_chunk"), `no agent_thought_chunk in ${kinds}`);
      const messageChunks = kinds.filter((k) => k === "agent_message_chunk").length;
      assert.ok(messageChunks > 3, `expected several agent_message_chunk updates, got ${messageChunks}: ${kinds}`);
      assert.ok(kinds.indexOf("agent_thought_chunk") < kinds.indexOf("agent_message_chunk"), `${kinds}`);

      // Tool call lifecycle: tool_call (pending) -> tool_call_update in_progress -> completed.
      const toolEvents = updates.filter((u) => u.sessionUpdate === "tool_call" || u.sessionUpdate === "tool_call_update");
      assert.ok(toolEvents.length >= 3, `tool events: ${JSON.stringify(toolEvents)}`);
      const [start, ...rest] = toolEvents;
      assert.equal(start.sessionUpdate, "tool_call");
      assert.equal(start.kind, "read");
      assert.equal(start.status, "pending");
      assert.deepEqual(start.rawInput, { path: "hello.py" });
      assert.ok(start.locations?.length, "tool_call has locations");
      assert.equal(start.locations[0].path, path.join(ws.project, "hello.py"));
      assert.ok(path.isAbsolute(start.locations[0].path));
      assert.ok(rest.every((e) => e.sessionUpdate === "tool_call_update"), JSON.stringify(rest));
      assert.ok(toolEvents.every((e) => e.toolCallId === start.toolCallId), "same toolCallId throughout");
      assert.deepEqual(
        rest.filter((e) => e.status).map((e) => e.status),
        ["in_progress", "completed"],
      );
      const done = rest.at(-1);
      assert.equal(done.status, "completed");
      const doneText = (done.content ?? [])
        .filter((c) => c.type === "content" && c.content.type === "text")
        .map((c) => c.content.text)
        .join("");
      assert.match(doneText, /print\('hello'\)/);

      // The answer comes after the tool finished.
      const lastMessage = kinds.lastIndexOf("agent_message_chunk");
      assert.ok(lastMessage > updates.indexOf(done), "agent reply continues after the tool call completed");
      assert.ok(textOf(updates, "agent_message_chunk").length > 0);
      assert.deepEqual(client.permissionRequests, [], "reading a file needs no permission");
      session.dispose();
    });
  } finally {
    await rm(ws.root, { recursive: true, force: true });
  }
});

test("session/cancel mid-reply ends the turn with stopReason cancelled", { timeout: TEST_TIMEOUT_MS }, async () => {
  const ws = await makeWorkspace();
  const longReply = Array.from({ length: 2000 }, (_, i) => `word${i}`).join(" ");
  const model = await writeScript(ws.root, [[{ say: longReply }], [{ say: "second turn" }]], 0.005);
  try {
    await withPunie(ws, model, async (ctx) => {
      await initialize(ctx);
      const session = await withTimeout(ctx.buildSession(ws.project).start(), "session/new");

      const responded = session.prompt("talk");
      let cancelSent = false;
      const { updates, stop } = await readTurn(session, async (_update, seen) => {
        const chunks = seen.filter((u) => u.sessionUpdate === "agent_message_chunk").length;
        if (!cancelSent && chunks >= 5) {
          cancelSent = true;
          await ctx.notify(acp.methods.agent.session.cancel, { sessionId: session.sessionId });
        }
      });
      assert.ok(cancelSent, "the reply streamed at least 5 chunks before the turn ended");
      const response = await withTimeout(responded, "session/prompt response after cancel");
      assertSchema("zPromptResponse", response);
      assert.equal(response.stopReason, "cancelled");
      assert.equal(stop.stopReason, "cancelled");
      const received = textOf(updates, "agent_message_chunk");
      assert.ok(received.length > 0 && received.length < longReply.length, `received ${received.length} chars`);

      // The session is not wedged: the next prompt runs to the end.
      const again = session.prompt("again");
      const second = await readTurn(session);
      assert.equal((await withTimeout(again, "second session/prompt")).stopReason, "end_turn");
      assert.equal(textOf(second.updates, "agent_message_chunk"), "second turn");
      session.dispose();
    });
  } finally {
    await rm(ws.root, { recursive: true, force: true });
  }
});

test("session/new with a relative cwd is an error reply", { timeout: TEST_TIMEOUT_MS }, async () => {
  const ws = await makeWorkspace();
  try {
    await withPunie(ws, "test", async (ctx) => {
      await initialize(ctx);
      await assert.rejects(
        withTimeout(ctx.request(acp.methods.agent.session.new, { cwd: "relative/dir", mcpServers: [] }), "session/new"),
        (error) => {
          assert.ok(error instanceof acp.RequestError, `expected a JSON-RPC error, got ${error}`);
          assert.equal(error.code, -32602);
          assert.match(error.message + JSON.stringify(error.data ?? ""), /relative\/dir/);
          return true;
        },
      );
      // The connection still serves requests afterwards.
      const ok = await withTimeout(
        ctx.request(acp.methods.agent.session.new, { cwd: ws.project, mcpServers: [] }),
        "session/new",
      );
      assertSchema("zNewSessionResponse", ok);
      assert.ok(ok.sessionId);
    });
  } finally {
    await rm(ws.root, { recursive: true, force: true });
  }
});
