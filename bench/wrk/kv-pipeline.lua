-- kvedge /pipeline: POST <url> (.../kv/pipeline) with BENCH_PIPELINE (default 100) GET commands.
-- Commands/s = requests/s x BENCH_PIPELINE.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
bench.kv_headers()
local n = tonumber(bench.env("BENCH_PIPELINE", "100"))
local cmd = string.format('["GET","%s"]', bench.env("BENCH_KEY"))
local cmds = {}
for i = 1, n do cmds[i] = cmd end
bench.post_json("[" .. table.concat(cmds, ",") .. "]")
