// The UI layer: a user's conversation in the chat view, step by step (each step waits on what it
// needs to see, with generous failure timeouts; nothing is timed).
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { FrameLocator, Page } from "playwright-core";

export interface Step {
  name: string;
  run(): Promise<void>;
}

export interface ScenarioContext {
  page: Page;
  workspace: string;
  screenshots: string;
  runDir: string;
}

const LONG = { timeout: 60_000 };

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor(LONG);
  await input.fill(`>${title}`);
  await page.locator(".quick-input-widget .monaco-list-row", { hasText: title }).first().waitFor(LONG);
  await page.keyboard.press("Enter");
}

function chat(page: Page): FrameLocator {
  return page.frameLocator("iframe.webview.ready").first().frameLocator("iframe#active-frame");
}

async function send(view: FrameLocator, text: string): Promise<void> {
  const prompt = view.locator("#prompt");
  await prompt.fill(text);
  await prompt.press("Enter");
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** pids of the `punie serve` processes this test run started (their command line names its script). */
function puniePids(script: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (args.includes("serve") && args.includes(`script:${script}`)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

export function uiScenario({ page, workspace, screenshots, runDir }: ScenarioContext): Step[] {
  const view = chat(page);
  const hello = path.join(workspace, "hello.py");
  const script = path.join(runDir, "model-script.json");
  return [
    {
      name: "the chat view opens in punie's activity-bar container with the mode picker",
      run: async () => {
        await runCommand(page, "View: Close All Editors");
        await runCommand(page, "Punie: Open Chat");
        await view.locator("#prompt").waitFor(LONG);
        await view.locator("#mode option[value='ask']").waitFor({ state: "attached", ...LONG });
        const modes = await view.locator("#mode option").evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
        if (!modes.includes("auto-edit") || !modes.includes("read-only")) throw new Error(`modes: ${modes.join(",")}`);
      },
    },
    {
      name: "a prompt streams a collapsible thought, a read tool-call card that completes, and the answer",
      run: async () => {
        await send(view, "Please look at hello.py");
        await view.locator("details.thought", { hasText: "read it first" }).waitFor(LONG);
        const card = view.locator(".card[data-kind='read']");
        await card.locator(".badge", { hasText: "completed" }).waitFor(LONG);
        await view.locator(".message.answer strong", { hasText: "hello.py" }).waitFor(LONG);
        await view.locator(".message.answer li code", { hasText: "print" }).waitFor(LONG);
        await view.locator("#send:not([disabled])").waitFor(LONG);
      },
    },
    {
      name: "agent text with <script>, <img onerror> and javascript: links renders inert",
      run: async () => {
        const answer = view.locator(".message.answer", { hasText: "Agent text is shown, never run" });
        await answer.waitFor(LONG);
        const text = await answer.innerText();
        if (!text.includes('<img src=x onerror="document.body.dataset.pwned=1">')) throw new Error(`not shown as text: ${text}`);
        if ((await view.locator(".transcript img, .transcript script, .transcript iframe").count()) !== 0) throw new Error("markup from the agent became elements");
        if ((await view.locator("a[href^='javascript' i]").count()) !== 0) throw new Error("a javascript: link was rendered");
        if ((await view.locator("body[data-pwned]").count()) !== 0) throw new Error("agent script ran");
      },
    },
    {
      name: "a write asks permission in its card; Allow applies it and the editor shows the change",
      run: async () => {
        await send(view, "Add a docstring to hello.py");
        const card = view.locator(".card.asking");
        await card.waitFor(LONG);
        await card.locator(".diff .line.add", { hasText: "Say hello." }).waitFor(LONG);
        const kinds = await card.locator(".permission button").evaluateAll((b) => b.map((x) => (x as HTMLElement).dataset.kind));
        if (kinds.join() !== "allow_once,allow_always,reject_once,reject_always") throw new Error(`options: ${kinds.join()}`);
        mkdirSync(screenshots, { recursive: true });
        await page.screenshot({ path: path.join(screenshots, "vscode-permission.png") });
        await card.locator("button[data-kind='allow_once']").click();
        await view.locator(".card[data-kind='edit'] .badge", { hasText: "completed" }).waitFor(LONG);
        await page.locator(".monaco-editor .view-lines", { hasText: "Say hello." }).first().waitFor(LONG);
        await eventually(() => readFileSync(hello, "utf8").startsWith('"""Say hello."""'), "hello.py to change on disk");
        await view.locator(".message.answer", { hasText: "Added the docstring" }).waitFor(LONG);
        await page.screenshot({ path: path.join(screenshots, "vscode-panel.png") });
      },
    },
    {
      name: "the plan is shown; a command runs after Allow and its terminal output fills the card",
      run: async () => {
        await send(view, "Make a plan and run the greeting");
        await view.locator("#plan .plan-entry[data-status='in_progress']", { hasText: "Run it" }).waitFor(LONG);
        await view.locator("#plan .plan-entry[data-status='completed']", { hasText: "Check the greeting" }).waitFor(LONG);
        const card = view.locator(".card.asking[data-kind='execute']");
        await card.waitFor(LONG);
        await card.locator("button[data-kind='allow_once']").click();
        await view.locator(".card[data-kind='execute'] pre.terminal", { hasText: "hello from the terminal" }).waitFor(LONG);
        await view.locator(".card[data-kind='execute'] pre.terminal", { hasText: "[exit 0]" }).waitFor(LONG);
        await view.locator(".card[data-kind='execute'] .badge", { hasText: "completed" }).waitFor(LONG);
        await view.locator(".message.answer", { hasText: "printed its greeting" }).waitFor(LONG);
        await page.screenshot({ path: path.join(screenshots, "vscode-terminal.png") });
      },
    },
    {
      name: "Stop mid-reply cancels the turn",
      run: async () => {
        await send(view, "Tell me a long story");
        await view.locator(".message.answer", { hasText: "Once upon a time" }).waitFor(LONG);
        await view.locator("#stop").click();
        await view.locator("#status", { hasText: "stopped: cancelled" }).waitFor(LONG);
        const story = await view.locator(".message.answer", { hasText: "Once upon a time" }).innerText();
        if (story.includes("word1499")) throw new Error("the whole story arrived: Stop did nothing");
        await view.locator("#send:not([disabled])").waitFor(LONG);
      },
    },
    {
      name: "the session list shows the saved conversation and loading it replays the history",
      run: async () => {
        if (await view.locator("#sessions").isVisible()) throw new Error("the session list shows before it is asked for");
        await view.locator("#history").click();
        const item = view.locator(".session-item").first();
        await item.waitFor(LONG);
        await item.click();
        await view.locator(".message.user", { hasText: "Please look at hello.py" }).waitFor(LONG);
        await view.locator(".card[data-kind='edit']").waitFor(LONG);
        if ((await view.locator(".message.user", { hasText: "Tell me a long story" }).count()) === 0) {
          throw new Error("the replay lacks the last prompt");
        }
      },
    },
    {
      name: "a punie that crashes is restarted with a visible notice and the chat goes on",
      run: async () => {
        const pids = puniePids(script);
        if (!pids.length) throw new Error("no punie process found");
        for (const pid of pids) process.kill(pid, "SIGKILL");
        await page.locator(".notifications-toasts", { hasText: "Restarting punie" }).waitFor(LONG);
        await view.locator(".notice.error", { hasText: "killed by SIGKILL" }).waitFor(LONG);
        const answers = await view.locator(".message.answer", { hasText: "Here is what I found" }).count();
        await send(view, "Please look at hello.py again");
        await view.locator(".card[data-kind='read'] .badge", { hasText: "completed" }).last().waitFor(LONG);
        await view.locator(".message.answer", { hasText: "Here is what I found" }).nth(answers).waitFor(LONG);
      },
    },
  ];
}
