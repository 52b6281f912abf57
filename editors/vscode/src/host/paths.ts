// The client's own boundary: punie may only read and write inside the workspace folders.
// punie confines paths itself; the editor checks again because it must not trust its agent.
import { RequestError } from "@agentclientprotocol/sdk";
import { realpath } from "node:fs/promises";
import * as path from "node:path";

async function realOrNearestParent(target: string): Promise<string> {
  // For a file that does not exist yet, resolve the deepest existing ancestor (symlinks included)
  // and put the rest back: a link in the existing part that leads outside is caught.
  let current = target;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(await realpath(current), ...rest.reverse());
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      const parent = path.dirname(current);
      if (parent === current) throw error;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * The path to use for `requested` if it lies inside one of `roots`, else a `RequestError`.
 * Checks the lexical path and the real path (symlinks resolved).
 */
export async function confine(requested: string, roots: readonly string[]): Promise<string> {
  if (typeof requested !== "string" || requested.length === 0 || requested.includes("\0")) {
    throw RequestError.invalidParams({ path: requested }, "the path is empty or not a valid path");
  }
  if (!path.isAbsolute(requested)) {
    throw RequestError.invalidParams({ path: requested }, "ACP paths must be absolute");
  }
  const lexical = path.resolve(requested);
  const realRoots = await Promise.all(roots.map((r) => realOrNearestParent(path.resolve(r))));
  const within = roots.some((r) => inside(path.resolve(r), lexical));
  let real: string;
  try {
    real = await realOrNearestParent(lexical);
  } catch {
    throw RequestError.invalidParams({ path: requested }, "the path cannot be resolved");
  }
  if (!within || !realRoots.some((r) => inside(r, real))) {
    throw RequestError.invalidParams({ path: requested }, `refused: ${requested} is outside the workspace`);
  }
  return lexical;
}
