package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
request = function()
  local body = string.format('{"id": "%s", "occurred_at": "%s", "level": %d}', c.uuid(),
    c.iso_minutes_ago(1), math.random(1, 9))
  return wrk.format("POST", "/api/v1/bench/reference-energy", c.headers(c.pick()), body)
end
done = c.done
