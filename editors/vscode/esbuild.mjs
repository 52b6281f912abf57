// Bundles the extension (CommonJS for the extension host), the webview script (browser IIFE),
// the companion test extension and the Node test files. tsc only type-checks.
import { build } from "esbuild";
import { copyFileSync, readdirSync, writeFileSync } from "node:fs";

const common = { bundle: true, sourcemap: true, logLevel: "warning", target: "es2022" };
const node = { ...common, platform: "node", format: "cjs", external: ["vscode"] };

const unitTests = readdirSync("test/unit").filter((f) => f.endsWith(".test.ts"));

await Promise.all([
  build({ ...node, entryPoints: ["src/extension.ts"], outfile: "dist/extension.js" }),
  build({ ...common, platform: "browser", format: "iife", entryPoints: ["src/ui/main.ts"], outfile: "dist/webview.js" }),
  build({ ...node, entryPoints: ["test/host-extension/extension.ts"], outfile: "out-test/host-extension/dist/extension.js" }),
  build({ ...node, entryPoints: unitTests.map((f) => `test/unit/${f}`), outdir: "out-test/unit" }),
  build({ ...node, entryPoints: ["test/ui/run.ts"], outfile: "out-test/ui/run.js", external: ["playwright-core"] }),
]);
copyFileSync("test/host-extension/package.json", "out-test/host-extension/package.json");
writeFileSync("out-test/host-extension/README.md", "Test-only companion of the punie extension.\n");
