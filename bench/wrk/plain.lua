-- GET of the URL given on the command line, no extra headers (nginx, webdis, kvedge /healthz).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
