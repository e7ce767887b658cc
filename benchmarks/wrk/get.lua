package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
local path = os.getenv("WRK_PATH")

request = function()
  return wrk.format("GET", path, c.headers(c.pick()))
end
done = c.done
