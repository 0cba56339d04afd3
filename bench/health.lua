-- wrk script: the baseline, GET /health (no database).
request = function()
  return wrk.format("GET", "/health")
end
