-- wrk script of bench/soak: the life of a hub session, over and over.
-- A session starts (POST /sessions for a random user), beats three times
-- (POST /sessions/{id}/heartbeat), and ends (DELETE /sessions/{id}); one
-- request in twenty is a GET /license.  A thread's connections share its
-- sessions: a reply that names a session puts it back in the queue, and the
-- next request a connection sends takes the next step of the session at the
-- head of the queue (or starts a new one).
-- Environment: ALLOT_BENCH_KEY (an admin key), ALLOT_BENCH_USERS (the file
-- of user ids, one per line).
local key = os.getenv("ALLOT_BENCH_KEY")
local users = {}
local queue, head, tail = {}, 1, 0
local beats = {}
local sent = 0

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(os.getenv("ALLOT_BENCH_USERS")) do
    users[#users + 1] = line
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

local auth = { ["Authorization"] = "Bearer " .. key }
local json = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }

function request()
  sent = sent + 1
  if sent % 20 == 0 then
    return wrk.format("GET", "/license", auth)
  end
  if head <= tail then
    local id = queue[head]
    queue[head] = nil
    head = head + 1
    if beats[id] < 3 then
      return wrk.format("POST", "/sessions/" .. id .. "/heartbeat", auth)
    end
    beats[id] = nil
    return wrk.format("DELETE", "/sessions/" .. id, auth)
  end
  return wrk.format("POST", "/sessions", json,
                    '{"user": "' .. users[math.random(1, #users)] .. '"}')
end

function response(status, headers, body)
  if status >= 300 and firstbad == nil then
    firstbad = status .. " " .. string.sub(body or "", 1, 300)
  end
  if status ~= 200 and status ~= 201 then
    return
  end
  if body == nil or not string.find(body, '"accessType"', 1, true) then
    return
  end
  local id = string.match(body, '^{"id":%s*"([0-9a-f-]+)"')
  if id == nil then
    id = string.match(body, '"id":%s*"([0-9a-f-]+)"')
  end
  if id == nil then
    return
  end
  if status == 201 then
    beats[id] = 0
  elseif beats[id] ~= nil then
    beats[id] = beats[id] + 1
  else
    return
  end
  tail = tail + 1
  queue[tail] = id
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.timeout
  io.write(string.format("SOAK requests=%d non2xx=%d errors=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, non2xx, errors, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  for _, t in ipairs(threads) do
    local bad = t:get("firstbad")
    if bad ~= nil then
      io.write("SOAK first non-2xx: " .. bad .. "\n")
    end
  end
end
