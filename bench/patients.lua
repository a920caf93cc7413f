-- wrk script: each connection is its own patient, answering a whole prescreen
-- and starting a new conversation (a new sender) when it ends. The script's state
-- is per thread: run wrk with as many threads as connections (-t N -c N).
local messages = {
  "hi", "/affirm", "54", "CREST", "yes", "lung fibrosis", "None of these", "no", "no", "no", "no", "no",
  "never", "never", "never", "in August", "no", "Doesn't apply to me",
}
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  conn_step = 0
  conv = 0
  math.randomseed(os.time() + tid * 7919)
  run = math.random(1, 1000000000)
end

function request()
  local i = conn_step % #messages
  if i == 0 then conv = conv + 1 end
  conn_step = conn_step + 1
  local sender = string.format("bench-%d-%d-%d", run, tid, conv)
  local body = string.format('{"sender": "%s", "message": "%s", "metadata": {"message_id": "%s-%d"}}',
                             sender, messages[i + 1], sender, conn_step)
  return wrk.format("POST", "/webhooks/rest/webhook", {["Content-Type"] = "application/json"}, body)
end
