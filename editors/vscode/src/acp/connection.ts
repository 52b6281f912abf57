// One running `punie serve`: the child process and the ACP connection over its stdio.
import * as acp from "@agentclientprotocol/sdk";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { Readable, Writable } from "node:stream";
import { CLIENT_CAPABILITIES, type ClientSide } from "./clientSide";
import { traced, type TraceSink } from "./trace";

export interface StartOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  side: ClientSide;
  trace?: () => TraceSink | undefined;
  /** Each line punie writes to stderr (its logs). */
  stderr?: (line: string) => void;
  clientName?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines punie wrote to stderr: usually says why it stopped. */
  lastLines: string[];
}

function clientApp(side: ClientSide): acp.ClientApp {
  return acp
    .client({ name: "punie-vscode" })
    .onRequest("fs/read_text_file", (cx) => side.readTextFile(cx.params))
    .onRequest("fs/write_text_file", (cx) => side.writeTextFile(cx.params))
    .onRequest("session/request_permission", (cx) => side.requestPermission(cx.params, cx.signal))
    .onRequest("terminal/create", (cx) => side.createTerminal(cx.params))
    .onRequest("terminal/output", (cx) => side.terminalOutput(cx.params))
    .onRequest("terminal/wait_for_exit", (cx) => side.waitForTerminalExit(cx.params, cx.signal))
    .onRequest("terminal/kill", (cx) => side.killTerminal(cx.params))
    .onRequest("terminal/release", (cx) => side.releaseTerminal(cx.params))
    .onNotification("session/update", (cx) => side.sessionUpdate(cx.params));
}

export class AgentConnection {
  private disposed = false;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly connection: acp.ClientConnection,
    readonly initialized: acp.InitializeResponse,
    readonly exited: Promise<Exit>,
  ) {}

  get agent(): acp.ClientContext {
    return this.connection.agent;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  static async start(options: StartOptions): Promise<AgentConnection> {
    const child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const lastLines: string[] = [];
    let partial = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        lastLines.push(line);
        if (lastLines.length > 20) lastLines.shift();
        options.stderr?.(line);
      }
    });
    const exited = new Promise<Exit>((resolve) => {
      child.on("error", (error) => {
        lastLines.push(String(error.message));
        resolve({ code: null, signal: null, lastLines });
      });
      // After "exit", stderr may still hold the reason: read it to its end, but not for long (a
      // process punie started could keep the pipe open).
      child.on("exit", (code, signal) => {
        const done = (): void => {
          if (partial) lastLines.push(partial);
          partial = "";
          resolve({ code, signal, lastLines });
        };
        if (child.stderr.readableEnded) return done();
        child.stderr.once("end", done);
        setTimeout(done, 500);
      });
    });
    // A write to a dead child's stdin must not become an uncaught exception.
    child.stdin.on("error", () => undefined);
    const raw = acp.ndJsonStream(
      Writable.toWeb(child.stdin) as WritableStream<Uint8Array>,
      Readable.toWeb(child.stdout) as ReadableStream<Uint8Array>,
    );
    const stream = options.trace ? traced(raw, options.trace) : raw;
    const connection = clientApp(options.side).connect(stream);
    void exited.then(() => connection.close(new Error("punie exited")));
    try {
      const initialized = await Promise.race([
        connection.agent.request("initialize", {
          protocolVersion: acp.PROTOCOL_VERSION,
          clientCapabilities: CLIENT_CAPABILITIES,
          clientInfo: { name: options.clientName ?? "punie-vscode", version: "0.1.0" },
        }),
        exited.then((exit) => {
          throw new Error(describeExit(exit));
        }),
      ]);
      return new AgentConnection(child, connection, initialized, exited);
    } catch (error) {
      // Its stdout may close before the process is gone: give it a moment to say why it stopped.
      const exit = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(r, 3000, undefined))]);
      child.kill();
      connection.close(error);
      throw exit ? new Error(describeExit(exit)) : error;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.connection.close();
    this.child.kill();
  }

  /** Kills punie as if it crashed (tests and the restart path use it). */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.child.kill(signal);
  }
}

export function describeExit(exit: Exit): string {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code ?? "unknown"}`;
  const last = exit.lastLines.filter((l) => l.trim()).slice(-1)[0];
  return last ? `punie ${how}: ${last}` : `punie ${how}`;
}
