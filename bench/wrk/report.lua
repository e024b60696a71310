-- Loaded by every bench/wrk/*.lua script. done() prints one machine-readable line that
-- bench/summarize.py reads: request count, duration, every error class and latency percentiles (us).
-- wrk counts a response with status >= 400 as a "status" error (its "Non-2xx or 3xx responses").
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bytes=%d err_connect=%d err_read=%d err_write=%d " ..
      "err_status=%d err_timeout=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean))
end

-- helpers for the request scripts
bench = {}
function bench.env(name, default)
   local v = os.getenv(name)
   if v == nil or v == "" then
      if default == nil then error("bench: environment variable " .. name .. " is not set") end
      return default
   end
   return v
end
function bench.kv_headers()
   wrk.headers["Authorization"] = "Bearer " .. bench.env("BENCH_TOKEN")
end
function bench.post_json(body)
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
end
