// Soak test: many concurrent clients mixing reads, logins and mutations for a fixed time against a
// running tkc-library; then checks that the database holds exactly what the clients saw succeed,
// that no request got a 5xx, and that the server's memory stayed flat. Then a login storm: 50
// concurrent wrong-password logins while `{ __typename }` is timed.
//
//   node bench/soak.mjs <base URL> <server pid> <seconds> <clients>
// (bench/soak runs it against a release build on PostgreSQL.)
import { readFileSync } from "node:fs";

const [base, pidArg, secondsArg = "180", clientsArg = "32"] = process.argv.slice(2);
if (!base || !pidArg) {
  console.error("usage: node bench/soak.mjs <base URL> <server pid> [seconds] [clients]");
  process.exit(2);
}
const pid = Number(pidArg);
const seconds = Number(secondsArg);
const clients = Number(clientsArg);
const endpoint = `${base}/graphql`;

const stats = { requests: 0, http5xx: 0, otherHttp: 0, networkErrors: 0, graphqlErrors: {} };
const created = { posts: new Set(), items: 0 };
const deleted = { posts: new Set() };

function rssKiB() {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

/// A client with its own cookie.
function client() {
  let cookie = "";
  return async function gql(query, variables = {}) {
    stats.requests += 1;
    let response;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/graphql-response+json", cookie },
        body: JSON.stringify({ query, variables }),
      });
    } catch (e) {
      stats.networkErrors += 1;
      return null;
    }
    const setCookie = response.headers.get("set-cookie");
    if (setCookie) cookie = setCookie.split(";")[0];
    if (response.status >= 500) stats.http5xx += 1;
    else if (response.status !== 200) stats.otherHttp += 1;
    const body = await response.json().catch(() => null);
    for (const error of body?.errors ?? []) {
      const code = error.extensions?.code ?? "NONE";
      stats.graphqlErrors[code] = (stats.graphqlErrors[code] ?? 0) + 1;
    }
    return body;
  };
}

async function signIn(gql, username) {
  const body = await gql(
    "mutation($input: RegisterInput!) { register(input: $input) { id } }",
    { input: { username, email: `${username}@soak.example`, password: "soak password 1" } },
  );
  if (!body?.data) {
    await gql("mutation($u: String!) { login(username: $u, password: \"soak password 1\") { id } }", { u: username });
  }
}

async function worker(index, deadline) {
  const gql = client();
  const mine = []; // this client's live posts: it deletes only its own

  const me = `soak${process.pid}_${index}`;
  await signIn(gql, me);
  const admin = client();
  await admin('mutation { login(username: "admin", password: "admin") { id } }');
  let n = 0;
  while (Date.now() < deadline) {
    n += 1;
    switch (n % 10) {
      case 0:
      case 1:
      case 2:
        await gql("query($after: String) { items(first: 20, after: $after) { totalCount edges { node { id name } } pageInfo { endCursor } } }");
        break;
      case 3:
      case 4:
        await gql("{ posts(first: 50) { edges { node { title author { username postCount } } } } }");
        break;
      case 5:
        await gql("{ users(first: 10) { edges { node { username posts(first: 3) { edges { node { title } } } } } } }");
        break;
      case 6: {
        const body = await gql(
          "mutation($t: String!) { createPost(input: { title: $t, body: \"soak\" }) { id } }",
          { t: `soak ${index}.${n}` },
        );
        const id = body?.data?.createPost?.id;
        if (id) {
          created.posts.add(id);
          mine.push(id);
        }
        break;
      }
      case 7: {
        // Every other round, delete the oldest of this client's posts.
        const id = n % 20 === 7 ? mine.shift() : undefined;
        if (id) {
          const body = await gql("mutation($id: ID!) { deletePost(id: $id) }", { id });
          if (body?.data?.deletePost) deleted.posts.add(id);
        }
        break;
      }
      case 8: {
        const body = await admin(
          "mutation($n: String!) { createItem(input: { name: $n }) { id } }",
          { n: `soak item ${index}.${n}` },
        );
        if (body?.data?.createItem?.id) created.items += 1;
        break;
      }
      case 9:
        // A wrong password for a name nobody has: counted (and throttled) per name, harmless.
        await client()(`mutation { login(username: "nobody-${index}-${n}", password: "wrong password") { id } }`);
        break;
    }
  }
}

async function counts() {
  const body = await client()("{ items { totalCount } posts { totalCount } }");
  return { items: body.data.items.totalCount, posts: body.data.posts.totalCount };
}

const before = await counts();
const samples = [];
const started = Date.now();
const deadline = started + seconds * 1000;
const sampler = setInterval(() => samples.push({ t: (Date.now() - started) / 1000, rss: rssKiB() }), 5000);
samples.push({ t: 0, rss: rssKiB() });
await Promise.all(Array.from({ length: clients }, (_, i) => worker(i, deadline)));
clearInterval(sampler);
samples.push({ t: (Date.now() - started) / 1000, rss: rssKiB() });
const after = await counts();

const expected = {
  items: before.items + created.items,
  posts: before.posts + created.posts.size - deleted.posts.size,
};
const firstMinute = samples.filter((s) => s.t > 0 && s.t <= 60).map((s) => s.rss);
const lastMinute = samples.filter((s) => s.t > seconds - 60).map((s) => s.rss);
const avg = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

// The login storm.
const stormClients = Array.from({ length: 50 }, () => client());
const storm = Promise.all(
  stormClients.map((gql, i) => gql(`mutation { login(username: "storm${i}", password: "wrong password") { id } }`)),
);
const probe = client();
const latencies = [];
for (let i = 0; i < 20; i += 1) {
  const t = performance.now();
  await probe("{ __typename }");
  latencies.push(performance.now() - t);
}
await storm;
latencies.sort((a, b) => a - b);

const report = {
  seconds,
  clients,
  requests: stats.requests,
  requestsPerSecond: Math.round(stats.requests / seconds),
  http5xx: stats.http5xx,
  otherHttpStatus: stats.otherHttp,
  networkErrors: stats.networkErrors,
  graphqlErrorCodes: stats.graphqlErrors,
  mutations: { postsCreated: created.posts.size, postsDeleted: deleted.posts.size, itemsCreated: created.items },
  counts: { before, after, expected },
  rssKiB: { start: samples[0].rss, firstMinuteAvg: Math.round(avg(firstMinute)), lastMinuteAvg: Math.round(avg(lastMinute)), end: samples.at(-1).rss },
  loginStorm: { typenameMsP50: latencies[10].toFixed(1), typenameMsMax: latencies.at(-1).toFixed(1) },
};
console.log(JSON.stringify(report, null, 2));

const problems = [];
if (after.items !== expected.items || after.posts !== expected.posts) problems.push("database counts differ from the successful mutations");
if (stats.http5xx > 0 || stats.networkErrors > 0) problems.push("5xx answers or network errors");
if (report.rssKiB.lastMinuteAvg > report.rssKiB.firstMinuteAvg * 1.2 + 2048) problems.push("memory grew");
if (latencies.at(-1) >= 100) problems.push("{ __typename } took 100 ms or more during the login storm");
console.log(problems.length ? `soak: FAILED: ${problems.join("; ")}` : "soak: clean");
process.exit(problems.length ? 1 : 0);
