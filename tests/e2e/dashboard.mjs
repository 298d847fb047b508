// End-to-end walk through the dashboard in headless Chromium (run by tests/tests/dashboard.rs):
//   node dashboard.mjs BASE_URL PASSWORD ARTIFACT_DIR
// Signs in, checks the overview, finds a shadow endpoint in the inventory (by keyboard), opens
// its detail, acknowledges an alert, and fails on any console error. Screenshots go to
// ARTIFACT_DIR. Prints one JSON line with what it saw.
import { openBrowser } from "./browser.mjs";

const [base, password, artifacts] = process.argv.slice(2);
const { browser, page, consoleErrors, shot } = await openBrowser(artifacts);
const seen = {};
try {
  // Waits until the inventory table has rows and every one of them holds `selector`: after a
  // filter changes, the previous table stays on the page until the new one is rendered.
  const everyRowHas = (selector) =>
    page.waitForFunction((wanted) => {
      const rows = [...document.querySelectorAll("table.data tbody tr")];
      return rows.length > 0 && rows.every((row) => row.querySelector(wanted));
    }, selector);

  // Unauthenticated: the dashboard sends us to the login page.
  await page.goto(base + "/");
  await page.waitForURL(/\/login$/);
  await page.fill("#password", "wrong-password");
  await page.click("button[type=submit]");
  seen.wrong_password_message = await page.textContent("[role=alert]");
  // The refused login is a 401 document, which Chromium reports on the console; that one is
  // expected, everything after it must be clean.
  consoleErrors.length = 0;
  await page.goto(base + "/login");
  await page.fill("#password", password);
  await shot("01-login");
  await Promise.all([page.waitForURL(base + "/"), page.click("button[type=submit]")]);

  // Overview.
  await page.waitForSelector(".cards .card");
  seen.overview_endpoints = Number((await page.textContent(".card .big")).replace(/\D/g, ""));
  seen.chart_bars = await page.locator("svg.chart rect").count();
  await shot("02-overview");

  // Inventory filtered to shadow endpoints, through the select.
  await page.click("nav a[href='#/inventory']");
  // The overview has a table of its own (the riskiest endpoints): wait for the inventory's.
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Inventory");
  await page.waitForSelector("table.data tbody tr");
  seen.inventory_rows = await page.locator("table.data tbody tr").count();
  await page.selectOption("#f-state", "shadow");
  await page.waitForFunction(() => location.hash.includes("state=shadow"));
  // The unfiltered table stays until the filtered one is rendered: wait for that one (on a busy
  // machine the fetch can take longer than the count below).
  await everyRowHas(".badge.shadow");
  seen.shadow_rows = await page.locator("table.data tbody tr").count();
  seen.shadow_states = await page.locator("table.data tbody tr .badge.shadow").count();
  await shot("03-inventory-shadow");

  // Keyboard: focus the first row and press Enter to open its detail.
  await page.focus("table.data tbody tr");
  await page.keyboard.press("Enter");
  await page.waitForSelector("h1 code");
  seen.detail_title = (await page.textContent("h1")).trim();
  seen.detail_state = await page.textContent("dl.kv .badge");
  await shot("04-endpoint-detail");

  // Sorting by a header button, with the keyboard.
  await page.goto(base + "/#/inventory");
  await page.waitForSelector("table.data tbody tr");
  await page.focus("th button.sort >> text=Hits");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => location.hash.includes("sort=hits"));
  await page.waitForSelector("th[aria-sort=ascending]");

  // Orphans (documented, never seen): last seen "never" and no transport, in the list and detail.
  await page.goto(base + "/#/inventory?state=orphan");
  await everyRowHas(".badge.orphan");
  // Read in one go: a table rendered between two reads would mix two lists.
  Object.assign(seen, await page.evaluate(() => {
    const rows = [...document.querySelectorAll("table.data tbody tr")];
    const column = (n) => rows.map((row) => row.querySelector(`td:nth-child(${n})`)?.textContent ?? "");
    return { orphan_rows: rows.length, orphan_transport: column(8), orphan_protocols: column(9), orphan_last_seen: column(11) };
  }));
  await page.click("table.data tbody tr a");
  await page.waitForSelector("h1 code");
  seen.orphan_detail = await page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll("dl.kv dt")].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));

  // Protocol: a column, and a filter chosen from its select.
  await page.goto(base + "/#/inventory");
  await page.waitForSelector("table.data tbody tr");
  await page.selectOption("#f-protocol", "http/1");
  await page.waitForFunction(() => location.hash.includes("protocol=http"));
  await everyRowHas("td.protocols .badge.proto");
  Object.assign(seen, await page.evaluate(() => {
    const cells = [...document.querySelectorAll("table.data tbody td.protocols")].map((td) => td.textContent);
    return { http1_rows: cells.length, http1_protocols: [...new Set(cells)] };
  }));
  await page.goto(base + "/#/inventory?protocol=h2");
  await page.waitForFunction(() => document.querySelector("table.data caption")?.textContent === "0 endpoints");
  seen.h2_rows = await page.locator("table.data tbody tr").count();

  // What is new: the "New since" filter, with a column saying what.
  await page.goto(base + "/#/inventory");
  await page.waitForSelector("table.data tbody tr");
  await page.selectOption("#f-since", "1h");
  await page.waitForFunction(() => location.hash.includes("since=1h"));
  await page.waitForSelector("table.data tbody td.new");
  seen.new_rows = await page.locator("table.data tbody tr").count();
  seen.new_cells = [...new Set(await page.locator("table.data tbody td.new").allTextContents())];
  seen.new_caption = await page.textContent("table.data caption");
  await shot("08-inventory-new");

  // Alerts: open the first open one and acknowledge it.
  await page.goto(base + "/#/alerts?state=open");
  await page.waitForSelector("table.data tbody tr a");
  seen.open_alerts_listed = await page.locator("table.data tbody tr").count();
  await page.click("table.data tbody tr a");
  await page.waitForSelector("#ack");
  seen.alert_url = page.url();
  await page.click("#ack");
  await page.waitForSelector("#ack[disabled]");
  seen.alert_state_after = await page.textContent("dl.kv .badge.acknowledged");
  await shot("05-alert-acknowledged");

  // Specs and sensor pages render.
  await page.goto(base + "/#/specs");
  // The page before had tables and muted notes of its own: wait for this page's heading first.
  await page.waitForFunction(() => /spec/i.test(document.querySelector("main h1")?.textContent ?? ""));
  await page.waitForSelector("table.data, p.muted");
  seen.specs_rows = await page.locator("table.data tbody tr").count();
  await shot("06-specs");
  await page.goto(base + "/#/sensor");
  await page.waitForSelector("h1");
  await shot("07-sensor");
} finally {
  await browser.close();
}
seen.console_errors = consoleErrors;
console.log(JSON.stringify(seen));
