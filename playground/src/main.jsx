// The tkc-library GraphQL playground: GraphiQL (with its documentation explorer and history),
// the ready-made operations from /playground/operations.json as tabs, and a status bar that says
// who is signed in. Everything it loads comes from this server; see ../README.md.
import "./workers.js";
import "graphiql/style.css";
import "./playground.css";

import React from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { parse } from "graphql";

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

/**
 * GraphiQL 5.4 learns the operation name 100 ms after the editor's text changes, so an operation
 * run right after switching tabs would go out with the previous tab's operation name ("Unknown
 * operation named …"). Send the name only if the document defines it; with a single operation,
 * send that one's name.
 */
function withCurrentOperationName(params) {
  if (!params?.operationName || typeof params.query !== "string") return params;
  let names;
  try {
    names = parse(params.query)
      .definitions.filter((definition) => definition.kind === "OperationDefinition")
      .map((definition) => definition.name?.value);
  } catch {
    return params; // let the server report the syntax error
  }
  if (names.includes(params.operationName)) return params;
  return { ...params, operationName: names.length === 1 ? names[0] : undefined };
}

/** GraphiQL's fetcher: every operation goes to /graphql, then the status bar is refreshed. */
async function fetcher(params, options) {
  try {
    return await postGraphQL(withCurrentOperationName(params), options?.headers);
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
