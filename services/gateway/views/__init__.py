"""HTTP handlers, one module per feature; each parses, calls one domain function, shapes the reply."""
