-- OpenTelemetry: the W3C traceparent of the span that made a row, while tracing is on (NULL
-- otherwise). An event keeps its ingest request's; an execution its fan-out's. Each attempt
-- of an execution, on whichever worker and however late, joins the trace through its row.
-- Nullable without a default: adding the columns rewrites nothing.
ALTER TABLE events ADD COLUMN trace_context text;
ALTER TABLE executions ADD COLUMN trace_context text;
