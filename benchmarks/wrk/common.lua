-- Shared wrk helpers: sessions from SESSIONS_FILE (one "sessionid csrftoken" per line), a
-- JSON summary line at the end, and random UUIDs for idempotent client ids.
local M = {}
M.sessions = {}
local f = io.open(os.getenv("SESSIONS_FILE"), "r")
for line in f:lines() do
  local sid, csrf = line:match("(%S+)%s+(%S+)")
  table.insert(M.sessions, {sid = sid, csrf = csrf})
end
f:close()

local counter = 0
function M.pick()
  counter = counter + 1
  return M.sessions[(counter % #M.sessions) + 1]
end

-- Each wrk thread has its own Lua state with the same default seed: mix in a table address
-- so threads do not generate the same UUIDs.
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
local random = math.random
function M.uuid()
  local template = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (string.gsub(template, "[xy]", function(c)
    local v = (c == "x") and random(0, 0xf) or random(8, 0xb)
    return string.format("%x", v)
  end))
end

function M.headers(s)
  return {
    ["Cookie"] = "sessionid=" .. s.sid .. "; csrftoken=" .. s.csrf,
    ["X-CSRFToken"] = s.csrf,
    ["Content-Type"] = "application/json",
    ["Referer"] = "http://127.0.0.1/",
    -- What every phone's browser sends: the larger JSON answers come gzipped.
    ["Accept-Encoding"] = "gzip",
  }
end

function M.iso_minutes_ago(minutes)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - minutes * 60)
end

M.non2xx = 0
function M.done(summary, latency, requests)
  local errs = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
    .. '"errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), errs, summary.errors.status))
end
return M
