-- 16 requests per write, as the TechEmpower plaintext test does: here the server's own cost
-- per request shows, not the kernel's cost per write.
local depth = 16

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
