// Agent text rendered in the webview: everything inert, only a small tag set survives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderMarkdown, escapeHtml } from "../../src/ui/markdown";
import { contentSecurityPolicy, pageHtml } from "../../src/webview/html";
import { isSafeLink, parseFromWebview } from "../../src/webview/messages";

const ALLOWED_TAGS = new Set(["p", "br", "code", "pre", "strong", "em", "a", "ul", "ol", "li", "h3", "h4", "h5", "h6"]);

/** Every tag in `html` is one we emit, and its only attributes are ours (a web link at most). */
function assertInert(html: string): void {
  for (const match of html.matchAll(/<\/?([a-zA-Z0-9]+)([^>]*)>/g)) {
    const [, tag = "", attrs = ""] = match;
    assert.ok(ALLOWED_TAGS.has(tag.toLowerCase()), `unexpected tag <${tag}> in ${html}`);
    const names = [...attrs.matchAll(/\s([^\s=]+)=/g)].map((m) => m[1]);
    for (const name of names) assert.ok(["href", "class", "title"].includes(name ?? ""), `attribute ${name} in ${html}`);
    const href = /href="([^"]*)"/.exec(attrs)?.[1];
    if (href !== undefined) assert.match(href, /^https?:\/\//);
  }
}

const attacks = [
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "[click](javascript:alert(1))",
  "[click](JaVaScRiPt:alert(1))",
  '[x](http://a" onmouseover="alert(1))',
  "[x](http://a' onmouseover='alert(1))",
  "<a href=\"javascript:alert(1)\">x</a>",
  "```\n</code></pre><script>alert(1)</script>\n```",
  "`<svg onload=alert(1)>`",
  "**<iframe src=//evil>**",
  "# <style>body{display:none}</style>",
  "- <object data=x></object>\n- [ok](https://example.com/?a=1&b=<2>)",
  "<<script>script>alert(1)<</script>/script>",
  "&lt;script&gt; already escaped",
  "[x](data:text/html;base64,PHNjcmlwdD4=)",
];

for (const attack of attacks) {
  test(`inert: ${JSON.stringify(attack)}`, () => {
    const html = renderMarkdown(attack);
    assertInert(html);
    assert.doesNotMatch(html, /<script|<img|<iframe|<svg|<style|<object|javascript:\S*"/i);
  });
}

test("the markdown subset renders", () => {
  const html = renderMarkdown("# Title\n\n**bold** and *em* and `code`\n\n- one\n- two\n\n[site](https://example.com)\n\n```py\nx = 1 < 2\n```");
  assert.match(html, /<h3>Title<\/h3>/);
  assert.match(html, /<strong>bold<\/strong>/);
  assert.match(html, /<em>em<\/em>/);
  assert.match(html, /<code>code<\/code>/);
  assert.match(html, /<ul><li>one<\/li><li>two<\/li><\/ul>/);
  assert.match(html, /<a href="https:\/\/example.com" class="link"/);
  assert.match(html, /<pre><code>x = 1 &lt; 2\n<\/code><\/pre>/);
  assertInert(html);
});

test("escapeHtml escapes all five characters", () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
});

test("the page's CSP allows only our nonce'd script and our own styles", () => {
  const csp = contentSecurityPolicy("vscode-resource:", "abc123");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-abc123'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:|\*/);
  const html = pageHtml({ cspSource: "vscode-resource:", scriptUri: "vscode-resource:/w.js", styleUri: "vscode-resource:/p.css" }, "abc123");
  const scripts = [...html.matchAll(/<script([^>]*)>/g)];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0]?.[1] ?? "", /nonce="abc123"/);
  assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handlers");
});

test("webview messages are validated, links limited to http(s)", () => {
  assert.equal(parseFromWebview({ type: "prompt", text: "  " }), undefined);
  assert.equal(parseFromWebview({ type: "permission", requestId: "1", optionId: "allow_once" }), undefined);
  assert.equal(parseFromWebview({ type: "bogus" }), undefined);
  assert.equal(parseFromWebview(null), undefined);
  assert.deepEqual(parseFromWebview({ type: "cancel", extra: 1 }), { type: "cancel" });
  assert.equal(isSafeLink("javascript:alert(1)"), false);
  assert.equal(isSafeLink("command:workbench.action.terminal.new"), false);
  assert.equal(isSafeLink("file:///etc/passwd"), false);
  assert.equal(isSafeLink("https://example.com"), true);
});
