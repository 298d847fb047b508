// The endpoint pages of the API styles in headless Chromium (run by tests/tests/dashboard.rs):
//   node api-styles.mjs BASE_URL PASSWORD ARTIFACT_DIR
// Signs in, filters the inventory by protocol (gRPC, GraphQL, WebSocket) through its select,
// opens one endpoint of each and reads what its page shows: the gRPC operation, the GraphQL
// operations with their schema states, the WebSocket messages. Fails on any console error.
// Prints one JSON line with what it saw.
import { openBrowser } from "./browser.mjs";

const [base, password, artifacts] = process.argv.slice(2);
const { browser, page, consoleErrors, shot } = await openBrowser(artifacts);
const seen = {};
try {

  await page.goto(base + "/login");
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(base + "/"), page.click("button[type=submit]")]);
  await page.waitForSelector(".cards .card");

  // Filters the inventory to `protocol` with the select, waits until every row has its badge,
  // and returns the rows' protocol cells and paths, read in one evaluation.
  const filtered = async (protocol) => {
    await page.goto(base + "/#/inventory");
    await page.waitForSelector("table.data tbody tr");
    await page.selectOption("#f-protocol", protocol);
    await page.waitForFunction((p) => {
      const rows = [...document.querySelectorAll("table.data tbody tr")];
      return location.hash.includes("protocol=" + p)
        && rows.length > 0 && rows.every((row) => [...row.querySelectorAll("td.protocols .badge")].some((b) => b.textContent === p));
    }, protocol);
    return page.evaluate(() => [...document.querySelectorAll("table.data tbody tr")].map((row) =>
      ({ path: row.querySelector("td:nth-child(3)").textContent, protocols: row.querySelector("td.protocols").textContent })));
  };
  // Opens the inventory row with this method and path and returns the page's headings,
  // key/value pairs and tables.
  const open = async (method, path) => {
    const at = await page.evaluate(([m, p]) => [...document.querySelectorAll("table.data tbody tr")].findIndex((row) =>
      row.querySelector("td:nth-child(2)").textContent === m && row.querySelector("td:nth-child(3)").textContent === p), [method, path]);
    await page.locator("table.data tbody tr a").nth(at).click();
    await page.waitForFunction((p) => document.querySelector("h1")?.textContent.endsWith(p), path);
    return page.evaluate(() => ({
      // A node list rendered as text ("[object HTMLPreElement]") instead of as elements.
      unrendered: document.body.innerText.includes("[object "),
      headings: [...document.querySelectorAll("h2")].map((x) => x.textContent),
      kv: Object.fromEntries([...document.querySelectorAll("dl.kv dt")].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])),
      tables: [...document.querySelectorAll("table.data")].map((t) =>
        [...t.querySelectorAll("tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent))),
    }));
  };

  seen.grpc_rows = await filtered("grpc");
  seen.grpc_page = await open("POST", "/shop.v1.OrderService/ListOrders");
  await shot("20-grpc-method");
  seen.graphql_rows = await filtered("graphql");
  seen.graphql_page = await open("POST", "/graphql");
  await shot("21-graphql-operations");
  seen.websocket_rows = await filtered("websocket");
  seen.websocket_page = await open("GET", "/ws/chat");
  await shot("22-websocket-messages");
} finally {
  await browser.close();
}
seen.console_errors = consoleErrors;
console.log(JSON.stringify(seen));
