// fs/read_text_file and fs/write_text_file: the editor's buffers are the truth, writes are edits.
import type * as acp from "@agentclientprotocol/sdk";
import { RequestError } from "@agentclientprotocol/sdk";
import { readFile, stat } from "node:fs/promises";
import type { FileSide } from "../acp/clientSide";
import { confine } from "./paths";

const MAX_READ_BYTES = 16 * 1024 * 1024;

/** The editor's view of files (VS Code's in the extension; a disk-only double in unit tests). */
export interface Documents {
  /** The text of the open buffer (unsaved changes included), or undefined when it is not open. */
  openText(file: string): string | undefined;
  /** Puts `newText` into the file as an editor edit; `oldText` null: a new file. */
  write(file: string, oldText: string | null, newText: string): Promise<void>;
}

export function sliceLines(text: string, line?: number | null, limit?: number | null): string {
  if (line == null && limit == null) return text;
  const lines = text.split(/(?<=\n)/);
  const start = Math.max(0, (line ?? 1) - 1);
  const end = limit == null ? lines.length : start + Math.max(0, limit);
  return lines.slice(start, end).join("");
}

async function diskText(file: string): Promise<string | null> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw RequestError.invalidParams({ path: file }, `${file} is not a regular file`);
    if (info.size > MAX_READ_BYTES) throw RequestError.invalidParams({ path: file }, `${file} is larger than 16 MiB`);
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

export class FileHandler implements FileSide {
  constructor(
    private readonly roots: () => readonly string[],
    private readonly documents: Documents,
  ) {}

  /** `file` if punie may touch it (used for "open file" links from the chat too). */
  confined(file: string): Promise<string> {
    return confine(file, this.roots());
  }

  async readTextFile(request: acp.ReadTextFileRequest): Promise<acp.ReadTextFileResponse> {
    const file = await confine(request.path, this.roots());
    const text = this.documents.openText(file) ?? (await diskText(file));
    if (text === null) throw new RequestError(-32002, `no such file: ${file}`, { path: file });
    return { content: sliceLines(text, request.line, request.limit) };
  }

  async writeTextFile(request: acp.WriteTextFileRequest): Promise<acp.WriteTextFileResponse> {
    if (typeof request.content !== "string") throw RequestError.invalidParams({}, "content must be a string");
    const file = await confine(request.path, this.roots());
    const old = this.documents.openText(file) ?? (await diskText(file));
    await this.documents.write(file, old, request.content);
    return {};
  }
}
