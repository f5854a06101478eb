-- wrk script for bench/initials.sh: every request asks for a picture never asked before
-- (a distinct background colour), so each one is a cold render. SIZE picks the edge.
local counter = tonumber(os.getenv("OFFSET") or "0")
local size = os.getenv("SIZE") or "512"
request = function()
  counter = counter + 1
  return wrk.format("GET", "/initials/Jane%20Doe.png?size=" .. size .. "&bg=" .. string.format("%06x", counter % 16777216))
end
