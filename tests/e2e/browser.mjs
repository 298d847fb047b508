// What every browser script starts with: headless Debian Chromium with the flags this closed
// network needs, one page that accepts the dashboard's self-signed certificate, console errors
// collected, and screenshots into ARTIFACT_DIR.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

export async function openBrowser(artifacts) {
  mkdirSync(artifacts, { recursive: true });
  const consoleErrors = [];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const shot = (name) => page.screenshot({ path: `${artifacts}/${name}.png`, fullPage: true });
  return { browser, page, consoleErrors, shot };
}
