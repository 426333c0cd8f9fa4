#!/usr/bin/env node
// Headless-browser test of the GraphQL playground, with Debian's Chromium and playwright-core.
//
//   node playground/test/browser.mjs <BASE_URL> <SCREENSHOT_PATH>
//   e.g. node playground/test/browser.mjs http://127.0.0.1:8130 /tmp/playground.png
//
// Needs `npm ci` in playground/ (for playwright-core) and /usr/bin/chromium
// (`apt-get install chromium`); it downloads no browser. The server must be a development one
// with the demo data (the "Log in (demo accounts)" tab and the admin/admin account).
//
// It fails (exit 1) on any request or WebSocket to another origin than BASE_URL's, any console
// error, any uncaught page or worker error, and any HTTP error status; otherwise it runs the
// Catalogue tab and the demo login tab, then the subscription tab (over a WebSocket to /graphql)
// until it shows an item that the test changes meanwhile (and changes back), stops it, saves a
// full-page screenshot, prints one line and exits 0.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const STEP_TIMEOUT_MS = 20_000;
const TOTAL_TIMEOUT_MS = 90_000;
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const LOGIN_TAB = "Log in (demo accounts)";
const FIRST_TAB = "Catalogue";
const WATCH_TAB = "Watch items (subscription)";
/** How often to change the item again while waiting for the subscription to show it. */
const CHANGE_EVERY_MS = 1_000;

const [baseArg, screenshotPath] = process.argv.slice(2);
if (!baseArg || !screenshotPath) {
  console.error("usage: node playground/test/browser.mjs <BASE_URL> <SCREENSHOT_PATH>");
  process.exit(2);
}
const base = new URL(baseArg);
const origin = base.origin;
const pageUrl = new URL("/", base).href;

let browser;
let finished = false;
const problems = []; // anything that must fail the test, found by the listeners
const requests = []; // every URL the page (or its workers) asked for

let page; // for a screenshot of what went wrong

function fail(message) {
  if (finished) return;
  finished = true;
  console.error(`FAIL: ${message}`);
  for (const problem of problems) console.error(`  - ${problem}`);
  // What the page looked like, to see why; then close the browser.
  const shot = page
    ? page.screenshot({ path: screenshotPath, fullPage: true, timeout: 5_000 }).then(
        () => console.error(`  (screenshot of the failure: ${screenshotPath})`),
        () => {},
      )
    : Promise.resolve();
  const closing = shot.then(() => (browser ? browser.close().catch(() => {}) : undefined));
  // Do not let a stuck browser keep the process alive.
  Promise.race([closing, new Promise((r) => setTimeout(r, 10_000))]).then(() => process.exit(1));
}

const overall = setTimeout(() => fail(`the whole test took more than ${TOTAL_TIMEOUT_MS / 1000} s`), TOTAL_TIMEOUT_MS);
// Never pass by accident: leaving without having said PASS is a failure.
process.on("exit", (code) => {
  if (!finished && code === 0) {
    console.error("FAIL: the test stopped before it finished");
    process.exitCode = 1;
  }
});

/** Runs one step, bounded in time, and names it if it fails. */
async function step(name, action) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([action(), timeout]);
  } catch (error) {
    throw new Error(`${name}: ${error.message.split("\n")[0]}`);
  } finally {
    clearTimeout(timer);
  }
}

function checkProblems(after) {
  if (problems.length) throw new Error(`${problems.length} problem(s) after ${after}`);
}

/** The operation name in a GraphQL document: GraphiQL titles each tab with it. */
function operationName(document) {
  const match = /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(document);
  return match ? match[1] : null;
}

async function main() {
  // The ready-made tabs as the server lists them (asked by this script, not by the page).
  const operations = await step("fetch operations.json", async () => {
    const response = await fetch(new URL("/playground/operations.json", base));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  });
  if (!Array.isArray(operations) || operations.length === 0) throw new Error("operations.json lists no operation");
  if (operations[0].name !== FIRST_TAB) throw new Error(`operations.json starts with "${operations[0].name}", not "${FIRST_TAB}"`);
  const login = operations.find((operation) => operation.name === LOGIN_TAB);
  if (!login) throw new Error(`operations.json has no "${LOGIN_TAB}" tab (is this a development server?)`);
  const watch = operations.find((operation) => operation.name === WATCH_TAB);
  if (!watch) throw new Error(`operations.json has no "${WATCH_TAB}" tab`);
  const firstTitle = operationName(operations[0].query);
  const loginTitle = operationName(login.query);
  const watchTitle = operationName(watch.query);
  if (!firstTitle || !loginTitle || !watchTitle) throw new Error("an operation in operations.json has no operation name");

  browser = await step("launch Chromium", () =>
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-quic",
        "--disable-sync",
      ],
    }),
  );
  // A new context is a fresh profile: no cookies, no localStorage from an earlier run.
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);

  const seen = new Set();
  const report = (text) => {
    if (!seen.has(text)) {
      seen.add(text);
      problems.push(text);
    }
  };
  context.on("request", (request) => {
    const url = request.url();
    requests.push(`${request.method()} ${url}`);
    const { protocol } = new URL(url);
    if (protocol === "data:" || protocol === "blob:") return;
    if (new URL(url).origin !== origin) report(`request to another origin: ${request.method()} ${url}`);
  });
  // Nothing may leave this machine: answer any foreign request with an error instead.
  await context.route(
    (url) => !["data:", "blob:"].includes(url.protocol) && url.origin !== origin,
    (route) => route.abort("blockedbyclient"),
  );
  context.on("response", (response) => {
    if (response.status() >= 400) report(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
  });
  context.on("requestfailed", (request) => {
    report(`request failed (${request.failure()?.errorText}): ${request.method()} ${request.url()}`);
  });
  const onConsole = (where) => (message) => {
    if (message.type() === "error") report(`console error${where}: ${message.text()}`);
  };
  context.on("console", onConsole(""));
  context.on("weberror", (error) => report(`uncaught error: ${error.error().message}`));

  page = await context.newPage();
  page.on("pageerror", (error) => report(`page error: ${error.message}`));
  page.on("crash", () => report("the page crashed"));
  page.on("worker", (worker) => {
    worker.on("console", onConsole(` in worker ${worker.url()}`));
  });
  // WebSockets are not requests to Playwright (nor routed): check them here. Only ws: (wss: for
  // an https page) to BASE_URL's host is allowed.
  const wsProtocol = base.protocol === "https:" ? "wss:" : "ws:";
  const sockets = []; // { url, sent: [frames], closed: Promise }
  page.on("websocket", (socket) => {
    const url = new URL(socket.url());
    requests.push(`WebSocket ${socket.url()}`);
    if (url.protocol !== wsProtocol || url.host !== base.host) report(`WebSocket to another origin: ${socket.url()}`);
    const entry = { url: socket.url(), sent: [] };
    entry.closed = new Promise((resolve) => socket.on("close", resolve));
    socket.on("framesent", (frame) => entry.sent.push(String(frame.payload)));
    socket.on("socketerror", (error) => report(`WebSocket error on ${socket.url()}: ${error}`));
    sockets.push(entry);
  });

  await step(`open ${pageUrl}`, () => page.goto(pageUrl, { waitUntil: "load" }));

  const status = page.locator("#session-status");
  const tabs = page.locator(".graphiql-tab");
  await step("wait for GraphiQL to render", async () => {
    await page.locator(".graphiql-container").waitFor({ state: "visible" });
    await page.locator(".graphiql-query-editor .monaco-editor").first().waitFor({ state: "visible" });
    await page.locator(".graphiql-execute-button").waitFor({ state: "visible" });
    await page.waitForFunction((count) => document.querySelectorAll(".graphiql-tab").length === count, operations.length);
    await page.waitForFunction(() => {
      const text = document.getElementById("session-status")?.textContent ?? "";
      return text === "anonymous";
    });
  });
  checkProblems("loading the page");

  const activeTitle = (await page.locator(".graphiql-tab-active .graphiql-tab-button").innerText()).trim();
  if (activeTitle !== firstTitle) throw new Error(`the active tab is "${activeTitle}", expected "${firstTitle}" (${FIRST_TAB})`);

  /** The text of GraphiQL's response editor (its Monaco model), or "" while there is none. */
  const responseText = () =>
    page.evaluate(() => {
      const model = globalThis.__MONACO?.editor
        .getModels()
        .find((m) => m.uri.path.endsWith("response.json"));
      return model ? model.getValue() : "";
    });

  const catalogue = await step(`run the ${FIRST_TAB} tab`, async () => {
    await page.locator(".graphiql-execute-button").click();
    await page.waitForFunction(() => {
      const model = globalThis.__MONACO?.editor.getModels().find((m) => m.uri.path.endsWith("response.json"));
      const text = model ? model.getValue() : "";
      return text.includes('"items"') && text.includes('"totalCount"');
    });
    // The result pane shows it too, not only the model behind it (Monaco draws only the lines
    // in view, so look for "items", near the top, rather than "totalCount").
    await page.waitForFunction(() =>
      (document.querySelector(".result-window .view-lines")?.textContent ?? "").includes('"items"'),
    );
    return JSON.parse(await responseText());
  });
  checkProblems(`running ${FIRST_TAB}`);
  const totalCount = catalogue?.data?.items?.totalCount;
  if (!(totalCount > 0)) throw new Error(`the catalogue is empty: ${JSON.stringify(catalogue).slice(0, 300)}`);
  const firstItem = catalogue.data.items.edges?.[0]?.node?.name;

  const loggedIn = await step(`switch to "${LOGIN_TAB}" (tab "${loginTitle}") and run it`, async () => {
    await tabs.locator(".graphiql-tab-button", { hasText: loginTitle }).first().click();
    await page.waitForFunction(
      (title) => document.querySelector(".graphiql-tab-active .graphiql-tab-button")?.textContent?.trim() === title,
      loginTitle,
    );
    await page.locator(".graphiql-execute-button").click();
    await page.waitForFunction(() => /admin/.test(document.getElementById("session-status")?.textContent ?? ""));
    await page.waitForFunction(() => {
      const model = globalThis.__MONACO?.editor.getModels().find((m) => m.uri.path.endsWith("response.json"));
      return (model ? model.getValue() : "").includes('"login"');
    });
    return (await status.innerText()).trim();
  });
  checkProblems(`running ${LOGIN_TAB}`);

  // The subscription: run it, change an item (as admin, by POST from the page) until the result
  // pane shows that item, change it back, stop the subscription and see the socket close.
  const item = catalogue.data.items.edges?.[0]?.node;
  if (!item?.id) throw new Error("the catalogue has no item to change");
  /** Sets the item's description from the page (with its session); returns the response. */
  const setDescription = (description) =>
    page.evaluate(
      async ({ id, description }) => {
        const response = await fetch("/graphql", {
          method: "POST",
          credentials: "same-origin",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            query:
              "mutation BrowserTestTouch($id: ID!, $description: String) { updateItem(id: $id, input: { description: $description }) { id } }",
            variables: { id, description },
          }),
        });
        return response.json();
      },
      { id: item.id, description },
    );
  const watched = await step(`switch to "${WATCH_TAB}" (tab "${watchTitle}"), run it and change item ${item.id}`, async () => {
    await tabs.locator(".graphiql-tab-button", { hasText: watchTitle }).first().click();
    await page.waitForFunction(
      (title) => document.querySelector(".graphiql-tab-active .graphiql-tab-button")?.textContent?.trim() === title,
      watchTitle,
    );
    const before = sockets.length;
    await page.locator(".graphiql-execute-button").click();
    // Wait for the subscribe message on a new WebSocket. The server may take a moment more to
    // start listening, so change the item again every second until the result pane shows it.
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    let socket;
    while (!(socket = sockets.slice(before).find((s) => s.sent.some((f) => f.includes('"type":"subscribe"'))))) {
      if (Date.now() > deadline) throw new Error("no subscribe message was sent over a WebSocket");
      await page.waitForTimeout(50);
    }
    for (let attempt = 1; ; attempt++) {
      const result = await setDescription(`Changed by the playground's browser test (${attempt})`);
      if (result?.errors?.length) throw new Error(`updateItem failed: ${JSON.stringify(result.errors).slice(0, 300)}`);
      const shown = await page
        .waitForFunction(
          (id) => {
            const model = globalThis.__MONACO?.editor.getModels().find((m) => m.uri.path.endsWith("response.json"));
            const text = model ? model.getValue() : "";
            return text.includes('"itemChanged"') && text.includes(`"id": "${id}"`);
          },
          item.id,
          { timeout: CHANGE_EVERY_MS },
        )
        .then(
          () => true,
          () => false,
        );
      if (shown) break;
      if (Date.now() > deadline) throw new Error("the subscription showed no change");
    }
    return { response: JSON.parse(await responseText()), socket };
  });
  checkProblems(`running ${WATCH_TAB}`);
  const changed = watched.response?.data?.itemChanged;
  if (changed?.id !== item.id) throw new Error(`the subscription showed ${JSON.stringify(watched.response).slice(0, 300)}`);

  await step(`put item ${item.id}'s description back and stop the subscription`, async () => {
    const result = await setDescription(item.description ?? null);
    if (result?.errors?.length) throw new Error(`updateItem failed: ${JSON.stringify(result.errors).slice(0, 300)}`);
    await page.locator(".graphiql-execute-button").click(); // the stop button while it runs
    await watched.socket.closed; // graphql-ws closes the socket once no subscription runs
  });
  checkProblems(`stopping ${WATCH_TAB}`);

  await step("save the screenshot", async () => {
    mkdirSync(path.dirname(path.resolve(screenshotPath)), { recursive: true });
    await page.waitForTimeout(300); // let the editors finish painting
    await page.screenshot({ path: screenshotPath, fullPage: true });
  });
  checkProblems("the screenshot");

  await browser.close();
  finished = true;
  clearTimeout(overall);
  console.log(
    `PASS: ${pageUrl} rendered GraphiQL with ${operations.length} tabs; ${FIRST_TAB} returned totalCount=${totalCount}` +
      (firstItem ? ` (first "${firstItem}")` : "") +
      `; ${LOGIN_TAB} → "${loggedIn}"; ${WATCH_TAB} showed item ${changed.id} (${changed.status}) over ${watched.socket.url}; ` +
      `${requests.length} requests and WebSockets, all to ${base.host}; ` +
      `no console errors; screenshot ${screenshotPath}`,
  );
  process.exit(0);
}

main().catch((error) => fail(error.message));
