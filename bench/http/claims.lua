-- wrk script: POST /v1/campaigns/<campaign>/claims, each request for a user never seen before
-- (wrk thread number + a counter), so every request is a real claim decision, not a duplicate.
-- The campaign id comes from HOTDEAL_CAMPAIGN (default "bench"). It never reads responses in
-- Lua (a response() hook would slow wrk down more than the servers under test); wrk's own
-- "Non-2xx or 3xx responses" line shows whether anything but 201/200 came back.
local campaign = os.getenv("HOTDEAL_CAMPAIGN") or "bench"
local path = "/v1/campaigns/" .. campaign .. "/claims"
local headers = { ["Content-Type"] = "application/json" }
local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_number", threads_started)
end

function init(args)
  user_prefix = "w" .. tostring(thread_number) .. "-"
  counter = 0
end

function request()
  counter = counter + 1
  local body = '{"user_id":"' .. user_prefix .. counter .. '"}'
  return wrk.format("POST", path, headers, body)
end
