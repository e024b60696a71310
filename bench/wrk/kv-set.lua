-- kvedge JSON form: POST <url> (.../kv) with ["SET","k100","<value>"] (the value already stored,
-- so the GET tests keep reading the same bytes).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
bench.kv_headers()
bench.post_json(string.format('["SET","%s","%s"]', bench.env("BENCH_KEY"), bench.env("BENCH_VALUE")))
