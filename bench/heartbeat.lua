-- wrk script: POST /sessions/{id}/heartbeat for a random one of the sessions
-- whose ids are in the file ALLOT_BENCH_SESSIONS (one per line).
-- Environment: ALLOT_BENCH_KEY (an admin or proxy key), ALLOT_BENCH_SESSIONS.
local key = os.getenv("ALLOT_BENCH_KEY")
local ids = {}
for line in io.lines(os.getenv("ALLOT_BENCH_SESSIONS")) do
  ids[#ids + 1] = line
end
math.randomseed(os.time())

request = function()
  return wrk.format("POST", "/sessions/" .. ids[math.random(1, #ids)] .. "/heartbeat", {
    ["Authorization"] = "Bearer " .. key,
  })
end

done = function(summary, latency, requests)
  io.write(string.format("errors: %d non-2xx/3xx: %d\n", summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
