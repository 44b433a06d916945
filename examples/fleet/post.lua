-- wrk script for the fleet load run (load-run.sh): POST a 64-byte body to the URL given
-- on the command line, e.g. /submit?rounds=1.
wrk.method = "POST"
wrk.body = string.rep("corepool", 8)
wrk.headers["Content-Type"] = "application/octet-stream"
