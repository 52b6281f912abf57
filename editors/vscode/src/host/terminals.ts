// terminal/*: commands run as child processes whose output the extension keeps (bounded) and can
// read back; each is mirrored into a VS Code pseudo-terminal by the `TerminalView` it is given.
import type * as acp from "@agentclientprotocol/sdk";
import { RequestError } from "@agentclientprotocol/sdk";
import { spawn, type ChildProcess } from "node:child_process";
import type { TerminalSide } from "../acp/clientSide";
import { confine } from "./paths";

const DEFAULT_OUTPUT_LIMIT = 1024 * 1024;

/** Where a terminal's output is shown (a VS Code pseudo-terminal; nothing in unit tests). */
export interface TerminalView {
  write(text: string): void;
  exited(status: acp.TerminalExitStatus): void;
  dispose(): void;
}

export type TerminalViewFactory = (terminalId: string, title: string) => TerminalView | undefined;

/** Keeps the last `limit` bytes of output, cut at a character boundary. */
export class BoundedOutput {
  private text = "";
  private truncatedFlag = false;

  constructor(private readonly limit: number) {}

  append(chunk: string): void {
    this.text += chunk;
    const bytes = Buffer.byteLength(this.text, "utf8");
    if (bytes <= this.limit) return;
    const buffer = Buffer.from(this.text, "utf8");
    let start = bytes - this.limit;
    while (start < buffer.length && ((buffer[start] ?? 0) & 0xc0) === 0x80) start++; // not mid-character
    this.text = buffer.subarray(start).toString("utf8");
    this.truncatedFlag = true;
  }

  get output(): string {
    return this.text;
  }

  get truncated(): boolean {
    return this.truncatedFlag;
  }
}

class RunningTerminal {
  readonly output: BoundedOutput;
  status: acp.TerminalExitStatus | undefined;
  readonly done: Promise<acp.TerminalExitStatus>;

  constructor(
    private readonly child: ChildProcess,
    limit: number,
    private readonly view: TerminalView | undefined,
  ) {
    this.output = new BoundedOutput(limit);
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString("utf8");
      this.output.append(text);
      view?.write(text);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.done = new Promise((resolve) => {
      child.on("error", (error) => {
        this.output.append(`${error.message}\n`);
        this.finish({ exitCode: 127, signal: null }, resolve);
      });
      child.on("close", (code, signal) => this.finish({ exitCode: code, signal: signal ?? null }, resolve));
    });
  }

  private finish(status: acp.TerminalExitStatus, resolve: (s: acp.TerminalExitStatus) => void): void {
    if (this.status) return;
    this.status = status;
    this.view?.exited(status);
    resolve(status);
  }

  kill(): void {
    if (!this.status) this.child.kill("SIGKILL");
  }

  release(): void {
    this.kill();
    this.view?.dispose();
  }
}

export class TerminalHandler implements TerminalSide {
  private readonly terminals = new Map<string, RunningTerminal>();
  private next = 1;

  constructor(
    private readonly roots: () => readonly string[],
    private readonly views: TerminalViewFactory = () => undefined,
    private readonly baseEnv: NodeJS.ProcessEnv = process.env,
  ) {}

  private get(id: string): RunningTerminal {
    const terminal = this.terminals.get(id);
    if (!terminal) throw new RequestError(-32002, `no terminal ${id}`, { terminalId: id });
    return terminal;
  }

  async createTerminal(request: acp.CreateTerminalRequest): Promise<acp.CreateTerminalResponse> {
    const roots = this.roots();
    const first = roots[0];
    if (!first) throw RequestError.invalidParams({}, "no workspace folder is open");
    const cwd = await confine(request.cwd ?? first, roots);
    const env: NodeJS.ProcessEnv = { ...this.baseEnv };
    for (const variable of request.env ?? []) env[variable.name] = variable.value;
    const args = request.args ?? [];
    // No shell: the command and its arguments are passed as they are, never re-parsed.
    const child = spawn(request.command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const title = `punie: ${[request.command, ...args].join(" ")}`.slice(0, 80);
    const limit = request.outputByteLimit ?? DEFAULT_OUTPUT_LIMIT;
    const id = `term-${this.next++}`;
    this.terminals.set(id, new RunningTerminal(child, Math.max(0, limit), this.views(id, title)));
    return { terminalId: id };
  }

  async terminalOutput(request: acp.TerminalOutputRequest): Promise<acp.TerminalOutputResponse> {
    const terminal = this.get(request.terminalId);
    return { output: terminal.output.output, truncated: terminal.output.truncated, exitStatus: terminal.status ?? null };
  }

  async waitForTerminalExit(request: acp.WaitForTerminalExitRequest, signal: AbortSignal): Promise<acp.WaitForTerminalExitResponse> {
    const terminal = this.get(request.terminalId);
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener("abort", () => reject(RequestError.requestCancelled()), { once: true });
    });
    const status = await Promise.race([terminal.done, aborted]);
    return { exitCode: status.exitCode ?? null, signal: status.signal ?? null };
  }

  async killTerminal(request: acp.KillTerminalRequest): Promise<acp.KillTerminalResponse> {
    this.get(request.terminalId).kill();
    return {};
  }

  async releaseTerminal(request: acp.ReleaseTerminalRequest): Promise<acp.ReleaseTerminalResponse> {
    this.get(request.terminalId).release();
    this.terminals.delete(request.terminalId);
    return {};
  }

  /** Kills everything (punie restarted, or the extension deactivates). */
  disposeAll(): void {
    for (const terminal of this.terminals.values()) terminal.release();
    this.terminals.clear();
  }
}
