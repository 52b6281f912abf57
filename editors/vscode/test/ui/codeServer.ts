// A real VS Code for the tests: code-server with our extension (and the test-only companion)
// installed into a throwaway profile, bound to localhost, opened by headless Chromium.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";

export interface Profile {
  root: string;
  workspace: string;
  userData: string;
  extensions: string;
  hostResults: string;
}

export function makeProfile(root: string, settings: Record<string, unknown>): Profile {
  rmSync(root, { recursive: true, force: true });
  const profile: Profile = {
    root,
    workspace: path.join(root, "workspace"),
    userData: path.join(root, "user-data"),
    extensions: path.join(root, "extensions"),
    hostResults: path.join(root, "host-results.txt"),
  };
  mkdirSync(path.join(profile.userData, "User"), { recursive: true });
  mkdirSync(profile.workspace, { recursive: true });
  mkdirSync(profile.extensions, { recursive: true });
  writeFileSync(
    path.join(profile.userData, "User", "settings.json"),
    JSON.stringify(
      {
        "telemetry.telemetryLevel": "off",
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": false,
        "extensions.autoCheckUpdates": false,
        "extensions.autoUpdate": false,
        "update.mode": "none",
        "security.workspace.trust.enabled": false,
        ...settings,
      },
      null,
      2,
    ),
  );
  return profile;
}

export function installExtension(codeServer: string, profile: Profile, vsix: string): void {
  execFileSync(codeServer, ["--extensions-dir", profile.extensions, "--user-data-dir", profile.userData, "--install-extension", vsix], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, EXTENSIONS_GALLERY: "{}" },
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startCodeServer(codeServer: string, profile: Profile, port: number, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const log = createWriteStream(path.join(profile.root, "code-server.log"));
  const child = spawn(
    codeServer,
    [
      "--bind-addr", `127.0.0.1:${port}`, "--auth", "none",
      "--user-data-dir", profile.userData, "--extensions-dir", profile.extensions,
      "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
      profile.workspace,
    ],
    { env: { ...process.env, EXTENSIONS_GALLERY: "{}", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}); see ${profile.root}/code-server.log`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("code-server did not answer /healthz within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }
}
