// What every browser script starts with: headless Debian Chromium with the flags this closed
// network needs, one page that accepts the dashboard's self-signed certificate, console errors
// collected, and screenshots into ARTIFACT_DIR.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

// axe-core's browser build, evaluated in the page through the debugging protocol (the
// dashboard's Content-Security-Policy rightly refuses injected script tags).
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// The accessibility violations of the page as it is now that axe-core rates serious or
// critical: [{ id, impact, help, targets }].
export async function seriousViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
        why: v.nodes[0]?.failureSummary }));
  });
}

export async function openBrowser(artifacts) {
  mkdirSync(artifacts, { recursive: true });
  const consoleErrors = [];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const shot = (name) => page.screenshot({ path: `${artifacts}/${name}.png`, fullPage: true });
  return { browser, page, consoleErrors, shot };
}
