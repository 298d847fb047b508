// The security team's workflow in headless Chromium (run by tests/tests/dashboard.rs):
//   node triage.mjs BASE_URL PASSWORD ARTIFACT_DIR
// Reads the riskiest endpoints on the overview, sorts the inventory by risk, downloads the
// OpenAPI document and the Postman collection, triages an alert (its guidance, example,
// endpoint link; assigns, comments, acknowledges, mutes it), sees the rule listed and the alert
// on its endpoint's page, and runs axe-core on every page. Prints one JSON line.
import { openBrowser, seriousViolations } from "./browser.mjs";
import { readFileSync } from "node:fs";

const [base, password, artifacts] = process.argv.slice(2);
const { browser, page, consoleErrors, shot } = await openBrowser(artifacts);
const seen = { axe: {} };
const axe = async (name) => { seen.axe[name] = await seriousViolations(page); };
try {
  await page.goto(base + "/login");
  await page.waitForSelector("#password");
  await axe("login");
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(base + "/"), page.click("button[type=submit]")]);

  // Overview: the riskiest endpoints, each a link to its page.
  await page.waitForSelector("#riskiest table tbody tr");
  seen.riskiest = await page.$$eval("#riskiest table tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  seen.chart_labels = await page.$$eval("svg.chart text", (labels) => labels.map((l) => l.textContent));
  await shot("10-overview-risk");
  await axe("overview");

  // Inventory sorted by risk, most first.
  await page.goto(base + "/#/inventory?sort=risk&order=desc");
  await page.waitForSelector("th[aria-sort=descending]");
  await page.waitForSelector("table.data tbody tr");
  seen.risk_column = await page.$$eval("table.data tbody tr td:nth-child(5)", (cells) => cells.map((c) => c.textContent));
  await axe("inventory");

  // Downloads of what the inventory shows, filtered to one host.
  await page.goto(base + "/#/inventory?host=127.0.0.1%3A8000");
  await page.waitForSelector("#export-openapi-yaml");
  for (const [id, key] of [["#export-openapi-yaml", "openapi"], ["#export-postman", "postman"]]) {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click(id)]);
    const path = await download.path();
    const text = readFileSync(path, "utf8");
    seen[key] = { file: download.suggestedFilename(), head: text.slice(0, 200) };
    if (key === "postman") seen[key].schema = JSON.parse(text).info.schema;
  }

  // An open cleartext-credentials alert: what it means, an example, its endpoint.
  await page.goto(base + "/#/alerts?state=open&kind=cleartext_credentials");
  await page.waitForSelector("table.data tbody tr a");
  await axe("alerts");
  await page.click("table.data tbody tr a");
  await page.waitForSelector("#guidance");
  seen.alert_url = page.url();
  seen.kv = await page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll("dl.kv dt")].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  seen.guidance = await page.textContent("#guidance");
  seen.example = await page.textContent("#example");
  await axe("alert");

  // Assign, comment, acknowledge: each shows at once, with who did it.
  await page.fill("#assignee", "alice");
  await page.click("#assign-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("dl.kv")?.textContent.includes("alice"));
  await page.fill("#comment", "The login form posts over plain HTTP; moving it to HTTPS.");
  await page.click("#comment-form button[type=submit]");
  await page.waitForSelector("#comments li");
  await page.click("#ack");
  await page.waitForSelector("#history li");
  seen.comments = await page.$$eval("#comments li", (items) => items.map((i) => i.textContent));
  seen.history = await page.$$eval("#history li", (items) => items.map((i) => i.textContent));
  await shot("11-alert-triaged");

  // Mute this kind on this endpoint for 7 days: the rules page lists it.
  await page.selectOption("#mute-scope", "endpoint");
  await page.selectOption("#mute-expires", "7d");
  await page.fill("#mute-reason", "the test rig's own login");
  await Promise.all([page.waitForURL(/#\/rules$/), page.click("#mute-form button[type=submit]")]);
  await page.waitForSelector("#rules tbody tr");
  seen.rules = await page.$$eval("#rules tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  await shot("12-rules");
  await axe("rules");

  // The alert's endpoint lists it.
  await page.goto(seen.alert_url);
  await page.waitForSelector("#alert-endpoint");
  await page.click("#alert-endpoint");
  await page.waitForSelector("#endpoint-alerts tbody tr");
  seen.endpoint_alerts = await page.$$eval("#endpoint-alerts tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  await shot("13-endpoint-alerts");
  await axe("endpoint");

  for (const name of ["specs", "sensor"]) {
    await page.goto(`${base}/#/${name}`);
    await page.waitForSelector("main h1");
    await axe(name);
  }
} finally {
  await browser.close();
}
seen.console_errors = consoleErrors;
console.log(JSON.stringify(seen));
