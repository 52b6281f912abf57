// Driver of the two in-VS-Code layers: the extension-host tests (companion extension) and the
// Playwright UI tests, in one code-server opened by headless Chromium. Ends with "N passed, N failed".
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { chromium, type Page } from "playwright-core";
import { freePort, installExtension, makeProfile, startCodeServer } from "./codeServer";
import { uiScenario, type Step } from "./scenario";

const HERE = path.resolve(__dirname, "../..");
const REPO = path.resolve(HERE, "../..");
const CODE_SERVER = process.env.CODE_SERVER ?? "code-server";
const PUNIE = process.env.PUNIE_BIN ?? path.join(REPO, ".venv", "bin", "punie");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOTS = process.env.SCREENSHOTS ?? path.join(REPO, "docs", "screenshots");
const RUN_DIR = path.join(HERE, ".test-run");

function writeModelScript(file: string): void {
  const story = Array.from({ length: 1500 }, (_, i) => (i % 12 === 11 ? `word${i}.` : `word${i}`)).join(" ");
  const answer = [
    "Here is what I found in **hello.py**: it prints a greeting.",
    "",
    "- one `print` call",
    "- no imports",
    "",
    'Agent text is shown, never run: <img src=x onerror="document.body.dataset.pwned=1"> <script>document.body.dataset.pwned=1</script> [click me](javascript:document.body.dataset.pwned=1)',
  ].join("\n");
  const responses = [
    [{ think: "The user named hello.py, so I will read it first." }, { call: "read_file", args: { path: "hello.py" } }],
    [{ say: answer }],
    [{ say: "I'll add a module docstring." }, { call: "write_file", args: { path: "hello.py", content: '"""Say hello."""\n\nprint("hello")\n' } }],
    [{ say: "Added the docstring to `hello.py`." }],
    [{ call: "update_plan", args: { entries: [{ content: "Check the greeting", status: "completed" }, { content: "Run it", status: "in_progress" }, { content: "Report back" }] } }],
    [{ call: "run_command", args: { command: "echo hello from the terminal" } }],
    [{ say: "The command printed its greeting." }],
    [{ say: `Once upon a time ${story}` }],
  ];
  writeFileSync(file, JSON.stringify({ chunk_delay: 0.02, responses }));
}

async function waitForFile(file: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 200));
  return readFileSync(file, "utf8");
}

async function openWorkbench(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
  await page.locator(".statusbar").waitFor({ timeout: 90_000 });
}

async function main(): Promise<number> {
  const profile = makeProfile(RUN_DIR, {});
  const script = path.join(RUN_DIR, "model-script.json");
  writeModelScript(script);
  writeFileSync(
    path.join(profile.userData, "User", "settings.json"),
    JSON.stringify({
      ...JSON.parse(readFileSync(path.join(profile.userData, "User", "settings.json"), "utf8")),
      "punie.command": PUNIE,
      "punie.args": ["serve", "--model", `script:${script}`, "--mode", "ask", "--session-store", path.join(RUN_DIR, "sessions.db")],
      "punie.reviewWrites": "diff",
      "chat.disableAIFeatures": true,
      "workbench.secondarySideBar.defaultVisibility": "hidden",
    }),
  );
  writeFileSync(path.join(profile.workspace, "hello.py"), 'print("hello")\n');
  installExtension(CODE_SERVER, profile, path.join(HERE, "dist", "punie-vscode.vsix"));
  installExtension(CODE_SERVER, profile, path.join(HERE, "out-test", "punie-host-tests.vsix"));
  const port = await freePort();
  const server = await startCodeServer(CODE_SERVER, profile, port, {
    PUNIE_HOST_TESTS: profile.hostResults,
    PUNIE_MOCHA: path.join(HERE, "node_modules", "mocha"),
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  let passed = 0;
  let failed = 0;
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(profile.workspace)}`;
    // Layer 2: the extension host runs the companion's mocha tests once a window connects.
    await openWorkbench(page, url);
    const hostReport = await waitForFile(profile.hostResults, 240_000);
    process.stdout.write(`--- extension host tests\n${hostReport}`);
    const counts = /(\d+) passed, (\d+) failed\s*$/.exec(hostReport);
    passed += Number(counts?.[1] ?? 0);
    failed += counts ? Number(counts[2]) : 1;
    // Layer 3: a fresh window (a new extension host and punie), driven like a user would.
    await openWorkbench(page, url);
    process.stdout.write("--- UI tests (Playwright)\n");
    const steps: Step[] = uiScenario({ page, workspace: profile.workspace, screenshots: SCREENSHOTS, runDir: RUN_DIR });
    for (const step of steps) {
      try {
        await step.run();
        passed++;
        process.stdout.write(`ok ${step.name}\n`);
      } catch (error) {
        failed++;
        const shot = path.join(RUN_DIR, `failed-${passed + failed}.png`);
        await page.screenshot({ path: shot }).catch(() => undefined);
        process.stdout.write(`FAIL ${step.name}: ${error instanceof Error ? error.message : String(error)} (screenshot ${shot})\n`);
      }
    }
  } finally {
    await browser.close();
    server.kill();
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n0 passed, 1 failed\n`);
    process.exit(1);
  },
);
