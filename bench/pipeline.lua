-- 16 requests per write, as the TechEmpower plaintext test does: here the server's own cost
-- per request shows, not the kernel's cost per write. wrk takes one script, so this one loads
-- bench/numbers.lua (from its own directory) for the done() hook that writes wrk's numbers.
local depth = 16

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "numbers.lua")

init = function(args)
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format()
  end
  batch = table.concat(requests)
end

request = function()
  return batch
end
