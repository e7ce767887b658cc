-- One wrk stream of the energytrack day mix: every request picks its type at random by weight.
--
-- Environment (set by benchmarks/load/run.py):
--   SESSIONS_FILE  one "sessionid csrftoken" per line (a rep's PWA session)
--   MIX            weights, e.g. "days=30,trends=25,checkin=20,webhook=20,batch=5"; "ping=1"
--                  gives the bare DRF baseline through the same script (same client cost)
--   WEBHOOK_FILE   pre-signed deliveries, "connection\ttimestamp\tsignature\tbody" per line;
--                  thread t of n sends lines t, t+n, t+2n, ... so no event id is sent twice
--   WRK_THREADS    the -t given to wrk (to split the webhook lines)
--
-- wrk records one latency histogram for all requests; this script adds, per request type,
-- how many were sent and how many 2xx answers came back (recognised by the body), the
-- non-2xx answers by status and problem type, and batch items the server rejected. The JSON
-- summary is the last line of stdout.

local TYPES = { "ping", "checkin", "batch", "days", "trends", "webhook" }

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

-- ---------------------------------------------------------------- per-thread state and init

local sessions = {}
local weights = {}
local total_weight = 0
local hooks = {}
local hook_idx = 0
sent = {}
ok = {}
bad = {}
samples = {}
rejected_items = 0
hooks_exhausted = 0
unrecognised_2xx = 0

local SERIES = { "energy-daily", "energy-by-hour", "sleep-vs-energy", "qualified-vs-energy" }
-- The PWA's trends screen defaults to a month; the rep can pick another range.
local RANGES = { { "week", 20 }, { "month", 60 }, { "quarter", 15 }, { "year", 5 } }

function init(args)
  for line in io.lines(os.getenv("SESSIONS_FILE")) do
    local sid, csrf = line:match("(%S+)%s+(%S+)")
    if sid then
      sessions[#sessions + 1] = { sid = sid, csrf = csrf }
    end
  end
  for name, weight in string.gmatch(os.getenv("MIX") or "ping=1", "(%w+)=([%d.]+)") do
    weight = tonumber(weight)
    if weight > 0 then
      total_weight = total_weight + weight
      weights[#weights + 1] = { name = name, upto = total_weight }
    end
  end
  for _, name in ipairs(TYPES) do
    sent[name] = 0
    ok[name] = 0
  end
  local hook_file = os.getenv("WEBHOOK_FILE")
  if hook_file and hook_file ~= "" then
    local n = tonumber(os.getenv("WRK_THREADS") or "1")
    local i = 0
    for line in io.lines(hook_file) do
      if i % n == tid then
        local conn, ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
        hooks[#hooks + 1] = wrk.format("POST", "/api/v1/performance/webhooks/" .. conn, {
          ["Content-Type"] = "application/json",
          ["X-Energytrack-Timestamp"] = ts,
          ["X-Energytrack-Signature"] = sig,
        }, body)
      end
      i = i + 1
    end
  end
  -- Each thread has its own Lua state with the same default seed.
  math.randomseed(os.time() * 1000 + tid * 7919 + #sessions)
end

-- ---------------------------------------------------------------- request builders

local random = math.random

local function uuid4()
  return (string.gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function(c)
    local v = (c == "x") and random(0, 0xf) or random(8, 0xb)
    return string.format("%x", v)
  end))
end

local function iso_minutes_ago(minutes)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - minutes * 60)
end

local function headers(json)
  local s = sessions[random(#sessions)]
  local h = {
    ["Cookie"] = "sessionid=" .. s.sid .. "; csrftoken=" .. s.csrf,
    ["X-CSRFToken"] = s.csrf,
    ["Referer"] = "http://127.0.0.1/",
    -- As every phone's browser: day views and chart reads come gzipped.
    ["Accept-Encoding"] = "gzip",
  }
  if json then
    h["Content-Type"] = "application/json"
  end
  return h
end

local function checkin()
  -- The quick check-in: energy now; in the morning with last night's sleep, sometimes with
  -- last evening's drinks (each a sub-entry in the same request).
  local parts = { string.format('"id": "%s", "level": %d', uuid4(), random(1, 9)) }
  if random() < 0.5 then
    parts[#parts + 1] = string.format('"focus": %d, "mood": %d', random(1, 5), random(1, 5))
  end
  if random() < 0.3 then
    parts[#parts + 1] = string.format('"sleep": {"duration_minutes": %d, "quality": %d}',
      random(300, 540), random(1, 5))
  end
  if random() < 0.15 then
    parts[#parts + 1] = string.format('"drinks": {"standard_drinks": "%d.0", "context": "dinner"}',
      random(1, 4))
  end
  return wrk.format("POST", "/api/v1/journal/checkin", headers(true),
    "{" .. table.concat(parts, ", ") .. "}")
end

local ITEM = {
  function(t)
    return string.format('{"kind": "energy", "id": "%s", "occurred_at": "%s", "level": %d, '
      .. '"focus": %d}', uuid4(), t, random(1, 9), random(1, 5))
  end,
  function(t)
    local meal = ({ "breakfast", "lunch", "dinner", "snack" })[random(4)]
    local heaviness = ({ "light", "normal", "heavy" })[random(3)]
    return string.format('{"kind": "meal", "id": "%s", "occurred_at": "%s", "meal_type": "%s", '
      .. '"heaviness": "%s", "tags": ["vegetables", "protein"]}', uuid4(), t, meal, heaviness)
  end,
  function(t)
    return string.format('{"kind": "alcohol", "id": "%s", "occurred_at": "%s", '
      .. '"standard_drinks": "%d.0", "context": "social"}', uuid4(), t, random(1, 3))
  end,
  function(t)
    return string.format('{"kind": "exercise", "id": "%s", "occurred_at": "%s", '
      .. '"duration_minutes": %d, "intensity": "moderate"}', uuid4(), t, random(15, 75))
  end,
  function(t)
    return string.format('{"kind": "activity", "id": "%s", "occurred_at": "%s", '
      .. '"what": "walk", "duration_minutes": %d, "effect": "gave"}', uuid4(), t, random(10, 90))
  end,
  function(t)
    return string.format('{"kind": "sleep", "id": "%s", "occurred_at": "%s", '
      .. '"duration_minutes": %d, "quality": %d}', uuid4(), t, random(300, 540), random(1, 5))
  end,
}
-- What a phone queues while offline for a day or two: mostly check-ins and meals.
local ITEM_WEIGHTS = { 40, 30, 8, 8, 7, 7 }

local function batch()
  local n = random(10, 20)
  local items = {}
  for i = 1, n do
    local r = random(100)
    local k = 1
    while r > ITEM_WEIGHTS[k] do
      r = r - ITEM_WEIGHTS[k]
      k = k + 1
    end
    items[i] = ITEM[k](iso_minutes_ago(random(30, 60 * 36)))
  end
  return wrk.format("POST", "/api/v1/journal/batch", headers(true),
    '{"items": [' .. table.concat(items, ", ") .. "]}")
end

local function days()
  -- The PWA's today screen asks for yesterday and today; rarely, a client without a window
  -- (a first start, an API client) gets the default 90 days.
  local path
  if random() < 0.95 then
    local now = os.time()
    path = string.format("/api/v1/journal/days?date_from=%s&date_to=%s",
      os.date("!%Y-%m-%d", now - 86400), os.date("!%Y-%m-%d", now))
  else
    path = "/api/v1/journal/days"
  end
  return wrk.format("GET", path, headers(false))
end

local function trends()
  local r = random(100)
  local range = RANGES[1][1]
  for _, pair in ipairs(RANGES) do
    if r <= pair[2] then
      range = pair[1]
      break
    end
    r = r - pair[2]
  end
  return wrk.format("GET", string.format("/api/v1/insights/trends/%s?range=%s",
    SERIES[random(#SERIES)], range), headers(false))
end

local function ping()
  return wrk.format("GET", "/api/v1/ping", headers(false))
end

local function webhook()
  hook_idx = hook_idx + 1
  return hooks[hook_idx]
end

local BUILD = { ping = ping, checkin = checkin, batch = batch, days = days, trends = trends,
  webhook = webhook }

function request()
  local r = random() * total_weight
  local name = weights[#weights].name
  for _, w in ipairs(weights) do
    if r < w.upto then
      name = w.name
      break
    end
  end
  if name == "webhook" and hook_idx >= #hooks then
    -- Out of pre-signed deliveries: a resend would be a replay (409). Counted, and reported
    -- as a failed run by run.py; the file is sized so that this does not happen.
    hooks_exhausted = hooks_exhausted + 1
    name = "ping"
  end
  sent[name] = sent[name] + 1
  return BUILD[name]()
end

-- ---------------------------------------------------------------- responses

local function classify(body)
  local head = body:sub(1, 24)
  if head:find('^{"ok"') then
    return "ping"
  elseif head:find('^{"energy"') then
    return "checkin"
  elseif head:find('^{"results"') then
    return "batch"
  elseif head:find('^{"series"') then
    return "trends"
  elseif body:find('"event_id"', 1, true) then
    return "webhook"
  elseif body:find('"days"', 1, true) then
    return "days"
  end
  return nil
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    local name = classify(body)
    if name then
      ok[name] = ok[name] + 1
      if name == "batch" then
        local n = body:match('"rejected"%s*:%s*(%d+)')
        if n then
          rejected_items = rejected_items + tonumber(n)
          if #samples < 5 then
            samples[#samples + 1] = "batch 200 with rejected items: " .. body:sub(1, 400)
          end
        end
      end
    else
      unrecognised_2xx = unrecognised_2xx + 1
    end
  else
    local problem = body:match('"type"%s*:%s*"([^"]+)"') or "-"
    local key = tostring(status) .. " " .. problem
    bad[key] = (bad[key] or 0) + 1
    if #samples < 5 then
      samples[#samples + 1] = tostring(status) .. ": " .. body:sub(1, 300)
    end
  end
end

-- ---------------------------------------------------------------- summary (main state)

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function json_counts(t)
  local parts = {}
  for k, v in pairs(t) do
    parts[#parts + 1] = json_string(k) .. ": " .. tostring(v)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local all_sent, all_ok, all_bad, all_samples = {}, {}, {}, {}
  local rejected, exhausted, unrecognised = 0, 0, 0
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("sent") or {}) do all_sent[k] = (all_sent[k] or 0) + v end
    for k, v in pairs(thread:get("ok") or {}) do all_ok[k] = (all_ok[k] or 0) + v end
    for k, v in pairs(thread:get("bad") or {}) do all_bad[k] = (all_bad[k] or 0) + v end
    for _, s in ipairs(thread:get("samples") or {}) do
      if #all_samples < 5 then all_samples[#all_samples + 1] = json_string(s) end
    end
    rejected = rejected + (thread:get("rejected_items") or 0)
    exhausted = exhausted + (thread:get("hooks_exhausted") or 0)
    unrecognised = unrecognised + (thread:get("unrecognised_2xx") or 0)
  end
  local non2xx = 0
  for _, v in pairs(all_bad) do non2xx = non2xx + v end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "mean_us": %.0f, "connect": %d, "read": %d, "write": %d, "timeout": %d, '
    .. '"wrk_status_errors": %d, "non_2xx": %d, "by_status": %s, "sent": %s, "ok": %s, '
    .. '"rejected_items": %d, "webhooks_exhausted": %d, "unrecognised_2xx": %d, '
    .. '"samples": [%s]}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout,
    e.status, non2xx, json_counts(all_bad), json_counts(all_sent), json_counts(all_ok),
    rejected, exhausted, unrecognised, table.concat(all_samples, ", ")))
end
