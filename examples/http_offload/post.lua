-- wrk script for the HTTP offload load test (BENCHMARKS.md, "HTTP offload"):
-- POST a 2 KiB body to the URL given on the command line, e.g. /submit?rounds=160.
wrk.method = "POST"
wrk.body = string.rep("corepool ingest ", 128)
wrk.headers["Content-Type"] = "application/octet-stream"
