// Test-only companion extension: code-server ignores --extensionTestsPath, so this extension runs
// the in-extension-host tests with mocha when PUNIE_HOST_TESTS names a results file (once).
import { existsSync, writeFileSync } from "node:fs";
import { registerTests } from "./tests";

export function activate(): void {
  const results = process.env.PUNIE_HOST_TESTS;
  const mochaPath = process.env.PUNIE_MOCHA;
  if (!results || !mochaPath || existsSync(results)) return;
  writeFileSync(results + ".started", "");
  // mocha is loaded from the build's node_modules (it is not bundled: it loads its parts by path).
  const MochaRunner = require(mochaPath) as typeof Mocha;
  const mocha = new MochaRunner({ ui: "bdd", timeout: 60_000, color: false });
  mocha.suite.emit("pre-require", globalThis, "host-tests", mocha);
  registerTests();
  const lines: string[] = [];
  let passed = 0;
  let failed = 0;
  const runner = mocha.run();
  runner.on("pass", (t: Mocha.Test) => {
    passed++;
    lines.push(`ok ${t.fullTitle()}`);
  });
  runner.on("fail", (t: Mocha.Test, error: Error) => {
    failed++;
    lines.push(`FAIL ${t.fullTitle()}: ${error.stack ?? error.message}`);
  });
  runner.on("end", () => writeFileSync(results, `${lines.join("\n")}\n${passed} passed, ${failed} failed\n`));
}

export function deactivate(): void {
  // nothing to clean up
}
