-- Posts pre-built request lines "path<TAB>body" from BENCH_REQUESTS_<thread id>.txt in order,
-- and prints a JSON summary (requests/s, p99 latency, errors) at the end.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local prefix = os.getenv("BENCH_REQUESTS")
  paths, bodies = {}, {}
  for line in io.lines(prefix .. "_" .. id .. ".txt") do
    local tab = line:find("\t", 1, true)
    paths[#paths + 1] = line:sub(1, tab - 1)
    bodies[#bodies + 1] = line:sub(tab + 1)
  end
  i = 0
  wrapped = 0
end

function request()
  i = i + 1
  if i > #paths then i = 1; wrapped = wrapped + 1 end
  return wrk.format("POST", paths[i], {["Content-Type"] = "text/xml"}, bodies[i])
end

function done(summary, latency, requests)
  local wraps = 0
  for _, t in ipairs(threads) do wraps = wraps + (t:get("wrapped") or 0) end
  io.write(string.format('BENCH {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p90_ms": %.3f, '
    .. '"p99_ms": %.3f, "max_ms": %.3f, "non_2xx": %d, "socket_errors": %d, "wrapped": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, wraps))
end
