// A minimal, dependency-free query runner: sends the query to /graphql with the browser's cookies.
"use strict";

const query = document.getElementById("query");
const variables = document.getElementById("variables");
const result = document.getElementById("result");

async function run() {
  let vars = {};
  try {
    vars = variables.value.trim() ? JSON.parse(variables.value) : {};
  } catch (e) {
    result.textContent = "Variables are not valid JSON: " + e.message;
    return;
  }
  result.textContent = "…";
  try {
    const response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query: query.value, variables: vars }),
    });
    const text = await response.text();
    try {
      result.textContent = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      result.textContent = response.status + " " + text;
    }
  } catch (e) {
    result.textContent = "Request failed: " + e.message;
  }
}

document.getElementById("run").addEventListener("click", run);
document.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    run();
  }
});
