-- wrk script: POST the GraphQL body in $BODY (with {ID} replaced by a random item id), and count
-- responses that carry GraphQL errors.
local body = os.getenv("BODY")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if body:find("{ID}", 1, true) then
    return wrk.format(nil, nil, nil, (body:gsub("{ID}", tostring(math.random(1, 2000)))))
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, response_body)
  if status ~= 200 or response_body:find('"errors"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("errors")
  end
  io.write(string.format("graphql_errors %d\n", total))
  io.write(string.format("p50_ms %.3f\np99_ms %.3f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
