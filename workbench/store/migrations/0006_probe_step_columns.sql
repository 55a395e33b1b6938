-- Two probe_steps columns that were edited into 0005 after it shipped (issue 11). Stores whose 0005
-- already created them keep them (IF NOT EXISTS); others get them here.
ALTER TABLE probe_steps ADD COLUMN IF NOT EXISTS image_attention_share_max DOUBLE;
ALTER TABLE probe_steps ADD COLUMN IF NOT EXISTS image_attention_lift DOUBLE;
