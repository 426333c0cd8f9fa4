// The tkc-library GraphQL playground: GraphiQL (with its documentation explorer and history),
// the ready-made operations from /playground/operations.json as tabs, and a status bar that says
// who is signed in. Queries and mutations go to POST /graphql, subscriptions over a WebSocket to
// the same /graphql (graphql-transport-ws, the graphql-ws library's protocol). Everything it
// loads comes from this server; see ../README.md.
import "./workers.js";
import "graphiql/style.css";
import "./playground.css";

import React from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { parse } from "graphql";
import { createClient } from "graphql-ws";

const GRAPHQL_URL = "/graphql";
const OPERATIONS_URL = "/playground/operations.json";

const statusElement = document.getElementById("session-status");
const logoutButton = document.getElementById("logout");

/** POST one GraphQL request to this server, with the session cookie. */
async function postGraphQL(body, extraHeaders) {
  const response = await fetch(GRAPHQL_URL, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      ...extraHeaders,
      accept: "application/graphql-response+json, application/json",
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${response.status} ${response.statusText}: ${text.slice(0, 500)}`);
  }
}

// --- who is signed in -------------------------------------------------------------------------

let statusRequest = 0;

/** Ask the server who the session belongs to and show it; the latest answer wins. */
async function refreshStatus() {
  const request = ++statusRequest;
  let text;
  let signedIn = false;
  try {
    const result = await postGraphQL({ query: "query PlaygroundSession { me { username role } }" });
    const me = result?.data?.me;
    if (me) {
      text = `Signed in as ${me.username} (${me.role})`;
      signedIn = true;
    } else if (result?.errors?.length) {
      text = `Session unknown: ${result.errors[0].message}`;
    } else {
      text = "anonymous";
    }
  } catch (error) {
    text = `Session unknown: ${error.message}`;
  }
  if (request !== statusRequest) return;
  statusElement.textContent = text;
  statusElement.dataset.signedIn = String(signedIn);
  logoutButton.disabled = !signedIn;
}

logoutButton.addEventListener("click", async () => {
  logoutButton.disabled = true;
  try {
    await postGraphQL({ query: "mutation PlaygroundLogout { logout }" });
  } catch (error) {
    console.warn("Log out failed:", error);
  }
  await refreshStatus();
});

// --- GraphiQL -----------------------------------------------------------------------------------

/** The WebSocket URL of this page's own origin's /graphql: `ws:` for an http page, `wss:` for https. */
function subscriptionUrl() {
  const url = new URL(GRAPHQL_URL, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/**
 * Subscriptions: one graphql-ws client, which opens the socket when a subscription starts and
 * closes it as soon as none is running (so the next one connects with the session cookie of that
 * moment: the browser sends it with the upgrade). The server answers connection_init within
 * seconds; give up after 10 s rather than wait forever. A dropped connection is retried a few
 * times (graphql-ws's default), e.g. across a server restart.
 */
const wsClient = createClient({
  url: subscriptionUrl,
  lazy: true,
  lazyCloseTimeout: 0,
  connectionAckWaitTimeout: 10_000,
});

/**
 * GraphiQL's own fetcher, used for subscriptions only: it runs them on `wsClient` and reports a
 * closed socket readably. Its HTTP fetcher is never used (queries and mutations go through
 * `postGraphQL`), so refuse, should it ever be.
 */
const subscriptionFetcher = createGraphiQLFetcher({
  url: GRAPHQL_URL,
  wsClient,
  enableIncrementalDelivery: false,
  fetch: () => Promise.reject(new Error("the playground sends only subscriptions this way")),
});

/** The parsed document, or null if it does not parse (the server then reports the syntax error). */
function parseDocument(query) {
  if (typeof query !== "string") return null;
  try {
    return parse(query);
  } catch {
    return null;
  }
}

/** The document's operation definitions. */
function operationsOf(document) {
  return document ? document.definitions.filter((definition) => definition.kind === "OperationDefinition") : [];
}

/**
 * GraphiQL 5.4 learns the operation name 100 ms after the editor's text changes, so an operation
 * run right after switching tabs would go out with the previous tab's operation name ("Unknown
 * operation named …"). Send the name only if the document defines it; with a single operation,
 * send that one's name.
 */
function withCurrentOperationName(params, document) {
  if (!params?.operationName || !document) return params;
  const names = operationsOf(document).map((definition) => definition.name?.value);
  if (names.includes(params.operationName)) return params;
  return { ...params, operationName: names.length === 1 ? names[0] : undefined };
}

/** The operation that will run: the one named, else the only one (undefined if unclear). */
function selectedOperation(params, document) {
  const operations = operationsOf(document);
  if (params?.operationName) return operations.find((definition) => definition.name?.value === params.operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

/**
 * GraphiQL's fetcher: a subscription goes over the WebSocket; every other operation (and any
 * document that does not parse or does not say clearly which operation to run, for the server to
 * report) goes to POST /graphql, then the status bar is refreshed. The operation's type is read
 * from the document sent, not from GraphiQL's `documentAST`, which lags behind the editor like the
 * operation name.
 */
async function fetcher(params, options) {
  const document = parseDocument(params?.query);
  const current = withCurrentOperationName(params, document);
  const operation = selectedOperation(current, document);
  if (operation?.operation === "subscription") {
    // The request headers editor has no way onto the socket: the session cookie goes with the
    // upgrade, and that is all the server reads.
    return subscriptionFetcher({ ...current, operationName: operation.name?.value }, { documentAST: document });
  }
  try {
    return await postGraphQL(current, options?.headers);
  } finally {
    if (params?.operationName !== "IntrospectionQuery") void refreshStatus();
  }
}

/** The ready-made operations as GraphiQL tabs (Catalogue first, as the server lists them). */
async function loadTabs() {
  try {
    const response = await fetch(OPERATIONS_URL, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    const operations = await response.json();
    return operations.map((operation) => ({
      query: operation.query,
      variables: operation.variables ?? undefined,
    }));
  } catch (error) {
    console.warn("Could not load the ready-made operations:", error);
    return undefined;
  }
}

async function start() {
  void refreshStatus();
  const defaultTabs = await loadTabs();
  // GraphiQL restores the tabs of the last visit from localStorage and only falls back to
  // `defaultTabs` when there are none: forget them, so every visit opens the current ready-made
  // operations with Catalogue active. Past runs stay in the history plugin.
  try {
    localStorage.removeItem("graphiql:tabState");
  } catch {
    // Storage may be unavailable (private mode); GraphiQL copes.
  }
  // GraphiQL 5.4 fills the first tab's editors from `initialQuery`/`initialVariables`, else from
  // what it stored on the last visit (not from `defaultTabs[0]`, for the variables): pass them.
  const first = defaultTabs?.[0];
  const container = document.getElementById("graphiql");
  container.replaceChildren();
  createRoot(container).render(
    <GraphiQL
      fetcher={fetcher}
      defaultTabs={defaultTabs}
      initialQuery={first?.query}
      initialVariables={first ? (first.variables ?? "") : undefined}
      defaultQuery={"# Who is signed in?\nquery Me {\n  me {\n    username\n    role\n  }\n}\n"}
      defaultEditorToolsVisibility="variables"
      isHeadersEditorEnabled
      shouldPersistHeaders={false}
    />,
  );
}

void start();
