-- kvedge path form: GET <url> (.../kv/get/k100) with the bearer token.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
bench.kv_headers()
