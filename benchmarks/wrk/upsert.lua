package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
request = function()
  local body = string.format('{"occurred_at": "%s", "level": %d}', c.iso_minutes_ago(math.random(1, 600)),
    math.random(1, 9))
  return wrk.format("PUT", "/api/v1/journal/energy/" .. c.uuid(), c.headers(c.pick()), body)
end
done = c.done
