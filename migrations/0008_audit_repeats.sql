-- Repeated audit events kept as one row (src/audit/audit_log.ts, recordRepeated): while a login
-- or an address is locked out, every refused attempt used to add a row, so anyone could grow the
-- table (and flood an account's recent events) at will. Such an event now has an
-- `aggregate_key`; a repeat within its window adds to `repeat_count` and moves
-- `last_occurred_at` instead of inserting. Rows written before keep working: one occurrence each.
ALTER TABLE audit_events
  ADD COLUMN repeat_count     integer     NOT NULL DEFAULT 1,
  ADD COLUMN last_occurred_at timestamptz,
  ADD COLUMN aggregate_key    text;
-- At most one open aggregate per key; a closed one (its window over) has its key cleared.
CREATE UNIQUE INDEX audit_events_aggregate_key ON audit_events (aggregate_key) WHERE aggregate_key IS NOT NULL;
