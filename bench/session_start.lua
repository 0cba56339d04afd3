-- wrk script: POST /sessions for a random one of the seeded users.  The
-- benchmark's license sets maxParallelSessions high, so the parallel-session
-- limit never interferes and every request is a full grant.
-- Environment: ALLOT_BENCH_KEY (an admin or proxy key), ALLOT_BENCH_USERS (count).
local key = os.getenv("ALLOT_BENCH_KEY")
local users = tonumber(os.getenv("ALLOT_BENCH_USERS") or "1000")
math.randomseed(os.time())

request = function()
  local body = string.format('{"userDirectory":"BENCH","userId":"u%d"}', math.random(1, users))
  return wrk.format("POST", "/sessions", {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("errors: %d non-2xx/3xx: %d\n", summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
