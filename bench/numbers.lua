-- wrk's numbers as data: a done() hook that writes one TSV line, no header, to the file named
-- by WRK_NUMBERS (nothing when it is unset), so that no one parses wrk's text. Every wrk run of
-- the repository uses it: `wrk -s bench/numbers.lua ...`, or a script that loads this file
-- (bench/pipeline.lua). Read by wrk_numbers in tests/common.sh and by tests/common/mod.rs. The
-- fields, in this order (times in microseconds):
--   requests  connect_errors  read_errors  write_errors  timeout_errors  non_2xx_or_3xx
--   duration  bytes  requests_per_second  p50  p90  p99  max
-- The latencies are wrk's own (as --latency prints them), whether or not it ran with --latency.

done = function(summary, latency, requests)
  local path = os.getenv("WRK_NUMBERS")
  if path == nil or path == "" then
    return
  end
  local errors = summary.errors
  local fields = {
    summary.requests, errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    summary.duration, summary.bytes,
    string.format("%.2f", summary.duration > 0 and summary.requests * 1e6 / summary.duration or 0),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
  }
  for i, value in ipairs(fields) do
    fields[i] = type(value) == "number" and string.format("%d", value) or value
  end
  local file = assert(io.open(path, "w"))
  file:write(table.concat(fields, "\t"), "\n")
  file:close()
end
