-- kvedge JSON form (what the SDKs send): POST <url> (.../kv) with ["GET","k100"].
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
bench.kv_headers()
bench.post_json(string.format('["GET","%s"]', bench.env("BENCH_KEY")))
