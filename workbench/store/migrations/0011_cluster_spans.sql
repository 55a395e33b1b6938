-- 0011 (issue 16): a clustered unit's flagged span inside its excerpt, so representatives can
-- highlight it (the excerpt is now the flagged span with its context, not the start of the step).
ALTER TABLE cluster_members ADD COLUMN IF NOT EXISTS span_start INTEGER;
ALTER TABLE cluster_members ADD COLUMN IF NOT EXISTS span_end INTEGER;
