// Drives Debian's headless Chromium (playwright-core, no downloaded browser) through the Kiln console served at
// the base URL given as the first argument: live log and status, Retry, Stop, XSS cases, screenshots.
// Usage: node console.test.mjs http://127.0.0.1:PORT [output-dir]. Exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const base = process.argv[2];
const out = process.argv[3] || "tests/output";
if (!base) {
  console.error("usage: node console.test.mjs <base-url> [output-dir]");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const XSS_TEXT = "<script>alert(1)</script>";
const XSS_REF = "\"><img src=x onerror=alert(1)>";

const profile = mkdtempSync(join(tmpdir(), "kiln-chromium-"));
// A fresh, empty profile directory (Playwright passes it as --user-data-dir).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  viewport: { width: 1280, height: 900 },
  timezoneId: "Europe/Paris",
});
const problems = [];
const step = (name) => console.log(`# ${name}`);

try {
  const page = await context.newPage();
  // Generous: CI runs this beside other tests on 2 cores; a wait only lasts as long as it must.
  page.setDefaultTimeout(120000);
  page.on("dialog", async (d) => { problems.push(`a dialog opened: ${d.type()} ${d.message()}`); await d.dismiss(); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });

  step("projects page lists the projects with a Start form; Tab reaches the skip link first");
  await page.goto(base + "/");
  await page.getByRole("heading", { name: "Projects" }).waitFor();
  const demo = page.locator("section.card", { has: page.locator("h2", { hasText: /^demo$/ }) });
  await demo.getByRole("button", { name: "Start build" }).waitFor();
  const sleeperCard = page.locator("section.card", { has: page.locator("h2", { hasText: /^sleeper$/ }) });
  await sleeperCard.getByText("Schedule nightly cron(0 3 * * ? *) (Europe/Paris)").waitFor();
  await demo.getByText("EVENT PUSH").waitFor();
  const title = await page.locator("time").first().getAttribute("title");
  assert.match(title, /UTC$/, "times carry the absolute UTC time on hover");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to content");

  step("Start: the build page shows log lines arriving and the status changing without a reload");
  await demo.getByRole("button", { name: "Start build" }).click();
  await page.waitForURL(/\/console\/builds\//);
  const firstBuild = page.url();
  await page.evaluate(() => {
    window.__noReload = true;
    window.__lags = [];
    // Lag from the build printing a tick (its epoch milliseconds are on the line) to the line on screen.
    new MutationObserver(() => {
      for (const code of document.querySelectorAll("#log .ln code")) {
        const m = /^tick \d+ at (\d{13})$/.exec(code.textContent);
        if (m && !code.dataset.seen) { code.dataset.seen = "1"; window.__lags.push(Date.now() - Number(m[1])); }
      }
    }).observe(document.getElementById("log"), { childList: true });
  });
  await page.locator("#log .ln", { hasText: "tick 2" }).waitFor();
  assert.equal(await page.locator("#log .ln", { hasText: "tick 8" }).count(), 0, "lines arrive one by one");
  await page.locator("#build-status", { hasText: "IN_PROGRESS" }).waitFor();
  await page.locator("#log .ln", { hasText: "tick 8" }).waitFor();
  await page.locator("#build-status", { hasText: "SUCCEEDED" }).waitFor({ timeout: 180000 });
  assert.equal(await page.evaluate(() => window.__noReload), true, "no reload happened");
  const lags = await page.evaluate(() => window.__lags);
  console.log(`# log lag from print to screen (ms), ${lags.length} live lines: max ${Math.max(...lags)}, all ${lags.join(" ")}`);
  const exact = new RegExp("^" + XSS_TEXT.replace(/[()/]/g, "\\$&") + "$");
  assert.equal(await page.locator("#log .ln code").filter({ hasText: exact }).count(), 1, "the script tag shows as text");
  assert.ok(await page.locator("#log .ansi-fg1", { hasText: "red text" }).count() >= 1, "ANSI red is a span");
  assert.ok(await page.locator("#log a[href='#L3']").count() === 1, "line 3 has an anchor");
  await page.locator(".phase-succeeded", { hasText: "BUILD" }).first().waitFor();
  await page.locator("#details a", { hasText: "Download" }).waitFor();
  await page.locator("#details .vars", { hasText: "GREETING" }).getByText("hello").waitFor();
  const download = await page.locator("#details a", { hasText: "Download" }).getAttribute("href");
  const zip = await page.evaluate(async (u) => {
    const r = await fetch(u);
    return { status: r.status, size: (await r.arrayBuffer()).byteLength };
  }, download);
  assert.equal(zip.status, 200, "the artifact downloads");
  assert.ok(zip.size > 20, "the artifact has content");
  await page.screenshot({ path: join(out, "build.png"), fullPage: true });

  step("a log line is linkable: #L3 is the target after navigation");
  await page.goto(firstBuild + "#L3");
  assert.equal(await page.evaluate(() => document.querySelector(":target")?.id), "L3");

  step("a log larger than a page: jump to the end, then the gap fills page by page while scrolling");
  await page.goto(base + "/console/builds/" + encodeURIComponent(process.env.KILN_BIG_BUILD));
  const initialLines = await page.locator("#log .ln").count();
  assert.ok(await page.locator("#log-more").count() === 1, "a first page only, with a link to more");
  const lineOf = (text) => page.evaluate((t) => {
    const hit = [...document.querySelectorAll("#log .ln code")].find((c) => c.textContent === t);
    return hit ? Number(hit.parentElement.id.slice(1)) : NaN;
  }, text);
  await page.getByRole("link", { name: "Jump to the end" }).click();
  const last = page.locator("#log .ln code").filter({ hasText: /ended: SUCCEEDED$/ });
  await last.waitFor();
  const lastNumber = await page.evaluate(() => {
    const all = document.querySelectorAll("#log .ln");
    return Number(all[all.length - 1].id.slice(1));
  });
  // The gap between the first page and the end fills page by page as it scrolls into view. It may already be
  // filling (or filled) by now, so poll for the finished state rather than wait for the gap to appear.
  for (let i = 0; i < 480; i++) {
    const gaps = await page.locator(".log-gap").count();
    if (gaps === 0 && (await page.locator("#log .ln").count()) === lastNumber) break;
    await page.evaluate(() => document.querySelector(".log-gap")?.scrollIntoView());
    await page.waitForTimeout(250);
  }
  assert.equal(await page.locator(".log-gap").count(), 0, "the gap filled");
  const finalLines = await page.locator("#log .ln").count();
  console.log(`# big log: ${initialLines} lines on the first page, ${finalLines} after the jump and the gap filled`);
  assert.equal(finalLines, lastNumber, "every line once, numbered 1..N without gaps or repeats");
  assert.equal(await lineOf("big line 120000") - await lineOf("big line 1"), 119999, "numbering runs on across pages");

  step("Retry lands on a new build");
  await page.goto(firstBuild);
  await page.getByRole("button", { name: "Retry" }).click();
  await page.waitForURL((u) => u.href !== firstBuild && /\/console\/builds\//.test(u.href));
  assert.notEqual(page.url(), firstBuild);
  await page.getByRole("heading", { name: /Build #\d+ of demo/ }).waitFor();

  step("Stop on a slow build shows STOPPED");
  await page.goto(base + "/");
  const sleeper = page.locator("section.card", { has: page.locator("h2", { hasText: /^sleeper$/ }) });
  await sleeper.getByRole("button", { name: "Start build" }).click();
  await page.waitForURL(/\/console\/builds\/sleeper/);
  await page.locator("#log .ln code").filter({ hasText: /^sleeping$/ }).waitFor({ timeout: 180000 });
  await page.getByRole("button", { name: "Stop" }).click();
  await page.locator("#build-status", { hasText: "STOPPED" }).waitFor({ timeout: 180000 });

  step("XSS: a source version and a variable with markup show as text");
  await page.goto(base + "/");
  await demo.getByLabel("Source version").fill(XSS_REF);
  await demo.getByLabel("Variables").fill("EVIL=" + XSS_TEXT);
  await demo.getByRole("button", { name: "Start build" }).click();
  await page.waitForURL(/\/console\/builds\//);
  await page.locator("#summary code", { hasText: XSS_REF }).first().waitFor();
  await page.locator("#build-status", { hasText: /FAILED|FAULT|SUCCEEDED/ }).waitFor({ timeout: 180000 });
  assert.equal(await page.locator("img[src=x]").count(), 0, "no img element was injected");

  step("a failed command shows in the phase timeline with its exit code");
  await page.goto(base + "/");
  await demo.getByLabel("Variables").fill("FAIL=yes");
  await demo.getByRole("button", { name: "Start build" }).click();
  await page.waitForURL(/\/console\/builds\//);
  await page.locator("#build-status", { hasText: "FAILED" }).waitFor({ timeout: 180000 });
  const failure = await page.locator(".phase-failed .context").first().innerText();
  assert.match(failure, /COMMAND_EXECUTION_ERROR.*\(exit 3\).*exit status 3/, failure);

  step("builds page: the webhook build with a hostile branch name, status filter, paging");
  await page.goto(base + "/console/projects/demo");
  await page.locator("table.builds").getByText(XSS_REF).first().waitFor();
  assert.equal(await page.locator("img[src=x]").count(), 0, "no img element was injected");
  await page.screenshot({ path: join(out, "builds.png"), fullPage: true });
  await page.getByLabel("Status").selectOption("SUCCEEDED");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=SUCCEEDED/);
  const statuses = await page.locator("table.builds tbody .status").allInnerTexts();
  assert.ok(statuses.length >= 1 && statuses.every((s) => s === "SUCCEEDED"), `filtered: ${statuses}`);

  step("events page: notices newest first");
  await page.goto(base + "/console/events");
  const cursors = (await page.locator("tbody tr td:first-child").allInnerTexts()).map(Number);
  assert.ok(cursors.length > 3, "notices are listed");
  assert.deepEqual(cursors, [...cursors].sort((a, b) => b - a), "newest first");
  await page.screenshot({ path: join(out, "events.png") });
  await page.goto(base + "/");
  await page.screenshot({ path: join(out, "projects.png"), fullPage: true });

  step("phone width: the build page fits without horizontal scrolling of the page");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(firstBuild);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page overflows by ${overflow}px at phone width`);
  await page.screenshot({ path: join(out, "build-phone.png"), fullPage: false });

  assert.deepEqual(problems, [], "no dialog, page error or console error");

  step("cross-site requests are refused: a form on another origin, and a same-origin POST without the token");
  const forged = `<form method="post" action="${base}/console/projects/demo/start">` +
    `<input name="csrf" value="guess"></form><script>document.forms[0].submit()</script>`;
  await page.goto("data:text/html," + encodeURIComponent(forged));
  await page.getByText("cross-site request refused").waitFor();
  await page.goto(base + "/");
  const refused = await page.evaluate(async (b) => {
    const r = await fetch(b + "/console/projects/demo/start", { method: "POST", body: "csrf=wrong",
      headers: { "Content-Type": "application/x-www-form-urlencoded" } });
    return r.status;
  }, base);
  assert.equal(refused, 403, "a POST without the session's CSRF token is refused");
  console.log("ok: console browser test passed");
} catch (e) {
  console.error("FAILED:", e && e.stack ? e.stack : e);
  if (problems.length) console.error("problems seen:", problems);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
