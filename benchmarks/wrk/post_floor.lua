package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
request = function()
  local body = string.format('{"id": "%s", "level": %d}', c.uuid(), math.random(1, 9))
  return wrk.format("POST", "/api/v1/bench/post-floor", c.headers(c.pick()), body)
end
done = c.done
