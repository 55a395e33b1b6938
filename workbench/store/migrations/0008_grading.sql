-- 0008_grading: grading by the benchmark's rules (issue 13). The trace's own conclusion and the
-- source's reported answer are read and graded apart; `extracted_correct` stays the workbench's grade
-- (the reported answer's where the source gives one, else the conclusion's); `truncation` says why a
-- trace ran out. Rows written by an older analysis keep NULLs here until `workbench analyze` re-runs
-- (the analysis version changed, so it does).

ALTER TABLE trace_stats ADD COLUMN question_type VARCHAR;
ALTER TABLE trace_stats ADD COLUMN conclusion VARCHAR;
ALTER TABLE trace_stats ADD COLUMN conclusion_source VARCHAR;
ALTER TABLE trace_stats ADD COLUMN conclusion_correct BOOLEAN;
ALTER TABLE trace_stats ADD COLUMN reported_answer VARCHAR;
ALTER TABLE trace_stats ADD COLUMN reported_correct BOOLEAN;
ALTER TABLE trace_stats ADD COLUMN grade_basis VARCHAR;
ALTER TABLE trace_stats ADD COLUMN truncation VARCHAR;
