package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
local kinds = {
  function(t) return string.format('{"kind": "energy", "id": "%s", "occurred_at": "%s", "level": %d}', c.uuid(), t, math.random(1, 9)) end,
  function(t) return string.format('{"kind": "meal", "id": "%s", "occurred_at": "%s", "meal_type": "lunch", "heaviness": "normal", "tags": ["vegetables"]}', c.uuid(), t) end,
  function(t) return string.format('{"kind": "alcohol", "id": "%s", "occurred_at": "%s", "standard_drinks": "1.0"}', c.uuid(), t) end,
  function(t) return string.format('{"kind": "exercise", "id": "%s", "occurred_at": "%s", "duration_minutes": 30, "intensity": "moderate"}', c.uuid(), t) end,
}
request = function()
  local items = {}
  for i = 1, 100 do
    items[i] = kinds[(i % #kinds) + 1](c.iso_minutes_ago(math.random(60, 60 * 24 * 30)))
  end
  return wrk.format("POST", "/api/v1/journal/batch", c.headers(c.pick()),
    '{"items": [' .. table.concat(items, ",") .. ']}')
end
done = c.done
