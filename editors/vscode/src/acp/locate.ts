// Which `punie` to run: the configured path, else the workspace's .venv, else PATH.
import { accessSync, constants } from "node:fs";
import * as path from "node:path";

export interface LaunchSettings {
  /** Configured executable; empty means "find it". */
  command: string;
  args: readonly string[];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function venvCandidates(folder: string): string[] {
  return process.platform === "win32"
    ? [path.join(folder, ".venv", "Scripts", "punie.exe")]
    : [path.join(folder, ".venv", "bin", "punie")];
}

function onPath(name: string, envPath: string | undefined): string | undefined {
  const exts = process.platform === "win32" ? [".exe", ".cmd", ""] : [""];
  for (const dir of (envPath ?? "").split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

/** The executable to start, or an actionable message saying why there is none. */
export function locatePunie(
  settings: LaunchSettings,
  workspaceFolder: string | undefined,
  envPath: string | undefined = process.env.PATH,
): { command: string } | { error: string } {
  if (settings.command.trim()) return { command: settings.command.trim() };
  if (workspaceFolder) {
    for (const candidate of venvCandidates(workspaceFolder)) {
      if (isExecutable(candidate)) return { command: candidate };
    }
  }
  const found = onPath("punie", envPath);
  if (found) return { command: found };
  return {
    error: "punie was not found in the workspace's .venv or on PATH; install it or set 'punie.command'.",
  };
}
