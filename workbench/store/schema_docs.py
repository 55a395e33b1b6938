"""What every stored column means: the documented, stable SQL-facing contract.

`workbench schema` prints this as Markdown (the README's schema reference is that output);
tests/unit/test_migrations.py checks that every column in a freshly migrated store is described
here and that nothing described here is missing from the store, and tests/unit/test_docs.py that
the README shows this text. Add a table or column in a new migration and describe it here in the
same change. Detector names and severities come from the detector registry.
"""

from __future__ import annotations

from workbench.analysis import registry


def _detectors() -> str:
    return ", ".join(f"`{n}`" for n in registry.names())


def _severities() -> str:
    return "Detector-specific (see the detector registry): " + "; ".join(
        f"{s.name} " + "/".join(f"`{v}`" for v in s.severity_names) for s in registry.specs()) + "."


TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "schema_migrations": ("One row per applied migration.", {
        "version": "Migration number (NNNN of the file name).",
        "name": "Migration name.",
        "applied_at": "When it was applied to this store.",
        "checksum": "SHA-256 of the migration file as applied (recorded on first open for older stores); a store "
                    "whose checksum differs from the shipped file is refused.",
    }),
    "runs": ("One row per run: an imported result file set or a model run.", {
        "run_id": "Stable id of the run (slug of its name); the key every other table uses.",
        "name": "Human name given with --run (default: the source file's stem).",
        "model": "Model that produced the traces, when known (most common `samples.model`).",
        "source": "Where the run came from: importer format and file paths, or `run:<backend>`.",
        "created_at": "When the run was first created in this store.",
        "updated_at": "When the run's samples were last written.",
        "settings": "JSON: generation settings or import options (format, --map, image root, ...).",
        "n_samples": "Number of samples in the run.",
        "n_with_image": "Samples that had at least one image in the prompt.",
        "n_correct": "Samples with `correct = true`.",
        "n_graded": "Samples whose `correct` is known (true or false).",
        "n_failed": "Samples whose status is `failed` (a model run could not produce them).",
        "synthetic": "True for the project's generated demo data (never real model output).",
        "reported": "JSON: metrics the source reported for the run (lmms-eval results, VLMEvalKit `_acc`/`_score` "
                    "files, MathVista / MATH-V / Qwen-Math summaries), by file; NULL when none.",
        "config": "JSON: the source's own configuration of the run (lmms-eval config, model args, generation "
                  "kwargs, versions); NULL when unknown.",
    }),
    "import_files": ("One row per imported file (provenance): what it was read as and what it brought.", {
        "run_id": "Run the file went into.",
        "path": "The file's path as given to `workbench import`.",
        "source_key": "The source identity of its rows (`samples.source_key`).",
        "format": "Format module that read it (`generic`, `qvq-dev`, `lmms-eval`, `vlmevalkit`, `mmmu`, ...).",
        "task": "Task / dataset the file holds, when known.",
        "role": "`samples` (rows), `judged` (grades joined to predictions) or `summary` (reported metrics).",
        "n_bytes": "File size.",
        "n_records": "Records read from it.",
        "grade_field": "Source field the per-sample grade (`samples.correct`) came from, or NULL.",
        "counts": "JSON: new, changed, unchanged, duplicates kept apart / merged, ids from line numbers.",
        "notes": "JSON list of what the importer noticed (duplicates, truncated cells, sibling files read).",
        "imported_at": "When.",
    }),
    "import_jobs": ("Imports under way (staging tables: no page or report reads them). Empty unless an import is "
                    "running or was killed; the same import run again resumes it, another one discards it.", {
        "import_id": "Id of the import.",
        "fingerprint": "SHA-256 of its files (paths, sizes, modification times) and options: what a re-run must "
                       "match to resume.",
        "started_at": "When it started (UTC).",
        "description": "Which files it reads.",
    }),
    "import_batches": ("One row per batch an import under way has staged (committed): where a re-run resumes.", {
        "import_id": "The import (`import_jobs`).",
        "path": "The file the batch was read from.",
        "batch_no": "Batch number in that file (0, 1, ...).",
        "last_line": "Line (or row) of the batch's last record: a re-run skips records up to it.",
        "n_records": "Records read from the file so far.",
        "ids_from_lines": "Sample ids taken from line numbers so far.",
        "images_stored": "Images stored by the import so far.",
        "images_missing": "Image references that could not be read so far.",
        "state": "JSON: the file's runs, counts and notes so far (what the import prints at the end).",
    }),
    "import_staging": ("Rows an import under way has staged; published into `samples` in one transaction when "
                       "every file is read. Columns as in `samples`, plus:", {
        "import_id": "The import (`import_jobs`).",
        "run_id": "Run the row goes into.",
        "action": "`new`, `changed` (replaces the stored row) or `same` (identical: nothing to write; its text "
                  "columns are NULL).",
        "superseded": "True when a later file of the same import replaced this row.",
        "base_id": "The id as in the file (before a repeated id is kept apart as `id#2`).",
        "row_hash": "Content hash of the row under its file id (finds identical repeats).",
        **{c: f"As `samples.{c}`." for c in (
            "sample_id", "question", "response", "final_answer", "ground_truth", "correct", "benchmark", "subset",
            "model", "image_ids", "n_images", "finish_reason", "prompt_tokens", "completion_tokens", "status",
            "error", "metadata", "source_file", "source_line", "content_hash", "source_id", "source_key")},
    }),
    "samples": ("One row per trace: a question (with images) and the model's raw response.", {
        "run_id": "Run this sample belongs to (`runs.run_id`).",
        "sample_id": "Unique in the run: the source's id (`source_id`), prefixed with the task (`mme/123`) when the run "
                     "holds several tasks (`--run` over task files), `#2`, `#3` for rows that repeat an id with other "
                     "content, or the line/row number when the source has no id.",
        "question": "The prompt text as given to the model.",
        "response": "The raw trace, exactly as produced: never truncated or rewritten.",
        "final_answer": "The answer as the source gives it (e.g. a second-turn answer or filtered response).",
        "ground_truth": "The reference answer, when known.",
        "correct": "Whether the source graded the answer correct (NULL when ungraded).",
        "benchmark": "Benchmark name, when known.",
        "subset": "Benchmark subset / category, when known.",
        "model": "Model that wrote this response, when known.",
        "image_ids": "List of `images.image_id` given with the prompt, in order (missing ones included).",
        "n_images": "Number of images the model was given (may exceed stored images when files are absent).",
        "finish_reason": "`eos`, `length` (hit max_new_tokens), `error`, or NULL when unknown.",
        "prompt_tokens": "Prompt length in tokens, when known.",
        "completion_tokens": "Response length in tokens, when known.",
        "status": "`ok`, `partial` (generation still running or interrupted) or `failed`.",
        "error": "Why a sample failed (model runs), else NULL.",
        "metadata": "JSON object keeping every source field the importer did not map to a column.",
        "source_file": "File the sample was imported from (NULL for model runs).",
        "source_line": "Line (JSONL/CSV) or row number (arrays, Parquet, XLSX) in that file.",
        "content_hash": "Hash of the stored fields; analysis re-runs when it changes.",
        "updated_at": "When this row was last written.",
        "source_id": "The id exactly as the source gives it (`id`, `index`, `doc_id`, `pid`, `idx`, ...), or the "
                     "line/row number when it has none; NULL for model runs.",
        "source_key": "Which source the row belongs to: the file name (no folder) and, for VLMEvalKit judged files, "
                      "the predictions they grade. Importing a row from another source over it needs `--update`.",
        "n_chars": "Characters of `response` (NULL without one), written with the row (0012): length sorts and "
                   "filters read it instead of the text.",
    }),
    "images": ("Images, content-hashed and stored once; missing files are recorded, not dropped.", {
        "image_id": "`sha256:<hex>` of the bytes, or `missing:<hash of the reference>` when the file was absent.",
        "missing": "True when the referenced image could not be read.",
        "width": "Width in pixels (NULL when missing).",
        "height": "Height in pixels (NULL when missing).",
        "format": "Image format (PNG, JPEG, ...).",
        "n_bytes": "Size of the stored bytes.",
        "original_ref": "The reference as the source gave it (path, URL, dataset note or `data:` URI prefix).",
        "created_at": "When the image was first stored.",
    }),
    "image_blobs": ("The bytes of each present image (kept apart so `images` stays light to scan).", {
        "image_id": "`images.image_id`.",
        "data": "The original file bytes.",
    }),
    "steps": ("Steps of each trace: paragraphs, long ones split at discourse markers.", {
        "run_id": "Run.",
        "sample_id": "Sample.",
        "step_index": "0-based position of the step in the trace.",
        "char_start": "Offset of the step's first character in `samples.response` (Python str index).",
        "char_end": "Offset one past its last character: `response[char_start:char_end]` is the step.",
        "role": "`perception`, `computation`, `reflection`, `switch` or `conclusion` (`perception` only in samples "
                "with an image).",
        "n_chars": "Length of the step in characters.",
        "image_ref_count": "References to the image in the step (whole words: \"the image shows\", \"in the figure\", "
                           "...; 0 in samples without an image).",
        "token_start": "First token of the step, when tokens are stored (model runs), else NULL.",
        "token_end": "One past its last token, when tokens are stored, else NULL.",
        "analyzer_version": "Version of the step segmenter that wrote the row.",
    }),
    "trace_stats": ("Per-trace measures from the analysis.", {
        "run_id": "Run.",
        "sample_id": "Sample.",
        "n_steps": "Number of steps.",
        "n_switches": "Thought switches (\"Alternatively\", \"Another approach\", ...).",
        "n_reflections": "Reflection / verification steps (\"Wait\", \"Let me double-check\", ...).",
        "n_candidates": "Distinct candidate answers the trace proposes along the way.",
        "extracted_answer": "The answer the workbench graded, as read (an option letter, a number, normalised text): "
                            "the source's reported answer when it gives one, else the trace's own conclusion.",
        "answer_source": "Where it came from: `reported` (samples.final_answer), or the trace pattern: "
                         "`final_answer_block`, `boxed`, `answer_line`, `answer_is`, `short`, `option_letter`, "
                         "`last_paragraph`.",
        "extracted_correct": "The workbench's grade by the benchmark's rules: `reported_correct` where the source "
                             "reports an answer, else `conclusion_correct`; NULL without a ground truth. "
                             "The one accuracy uses `samples.correct` first (store/grades.py).",
        "truncated": "The trace ran out: finish_reason = length, a loop running into the end, or it stops "
                     "mid-thought without concluding (`truncation` says which). Short answers are never truncated.",
        "n_chars": "Length of the response in characters.",
        "question_type": "`multiple_choice`, `numeric` or `free_text`, from the ground truth and the options "
                         "(metadata or question text); NULL without a ground truth.",
        "conclusion": "The trace's own conclusion, as read (an option letter, a number, normalised text); NULL "
                      "when it concludes nothing (a trace that ran out never gets a fragment).",
        "conclusion_source": "The pattern the conclusion came from (see `answer_source`).",
        "conclusion_correct": "The trace's own conclusion graded by the benchmark's rules (no conclusion: false).",
        "reported_answer": "The source's reported answer (samples.final_answer: filtered_resps, prediction, "
                           "extraction, ...) as read; NULL when the source reports none.",
        "reported_correct": "The reported answer graded by the benchmark's rules; NULL when none is reported.",
        "grade_basis": "Which answer `extracted_correct` grades: `reported` or `conclusion`.",
        "truncation": "Why the trace ran out: `length` (finish_reason), `loop` (a verbatim loop runs into the "
                      "end), `cut` (stops mid-thought without concluding); NULL when complete.",
        "analyzer_version": "Version of the analysis that wrote the row.",
    }),
    "flags": ("Detector findings: one row per finding (a sample is flagged by a detector iff it has a row).", {
        "run_id": "Run.",
        "sample_id": "Sample.",
        "detector": "Detector name: " + _detectors() + ".",
        "detector_version": "Version of the detector that produced the finding.",
        "finding_index": "0-based number of the finding within (sample, detector, tier). The key is (run_id, sample_id, detector, tier, finding_index): each writer (`analyze` for the text tier, `probe` for the model tiers) replaces only its own rows (older stores' probe rows keep their numbers from 100).",
        "tier": "Evidence tier: `text` (from the trace text), `attention` or `visual_dependence` (probe).",
        "step_index": "Step where the finding starts (`steps.step_index`).",
        "char_start": "Start offset of the flagged span in `samples.response`.",
        "char_end": "End offset (exclusive) of the flagged span.",
        "severity": _severities(),
        "score": "Detector-specific strength in [0, 1]; higher is worse (see README, Detectors).",
        "evidence": "Short excerpt or description of what was found.",
        "details": "JSON with the detector's measurements (period, copies, chars wasted, language, share, ...).",
    }),
    "analysis_status": ("Which (sample, detector) pairs are analysed, for resumable, idempotent analysis.", {
        "run_id": "Run.",
        "sample_id": "Sample.",
        "detector": "Detector name (or `steps` for segmentation and trace stats).",
        "detector_version": "Version that analysed it; a new version re-analyses.",
        "content_hash": "`samples.content_hash` at analysis time; a changed sample is re-analysed.",
        "analyzed_at": "When.",
    }),
    "tags": ("Researchers' tags and free-text notes on a sample or one of its steps.", {
        "tag_id": "Id.",
        "run_id": "Run.",
        "sample_id": "Sample.",
        "step_index": "Step the note is about, or NULL for the whole sample.",
        "tag": "Short label (e.g. `hallucination`, `good-example`), or NULL for a plain note.",
        "note": "Free text, or NULL.",
        "created_at": "When it was written.",
    }),
    "tokens": ("Every generated token of a model run (`workbench run`), in order.", {
        "run_id": "Run.",
        "sample_id": "Sample.",
        "token_index": "Position among the generated tokens (0 = first).",
        "token_id": "Vocabulary id (NULL when an endpoint returns only text).",
        "text": "The token's text; concatenated in order (special tokens left out) they give `samples.response`. "
                "A token holding part of a UTF-8 character has '' and the completing token carries the character.",
        "logprob": "Log-probability of the token under the model's distribution (<= 0; very negative = surprising).",
        "entropy": "Entropy in nats of the next-token distribution (high = the model was unsure; NULL from endpoints).",
        "top_alternatives": "JSON list of [text, logprob] for the most likely tokens at that step, when recorded.",
        "char_start": "Start of the token's text in `samples.response` (characters).",
        "char_end": "End (exclusive) of the token's text in `samples.response`.",
    }),
    "run_jobs": ("Model-run jobs (one per `workbench run` / Run page start): status, progress, heartbeat, cancel.", {
        "job_id": "Id of the job.",
        "run_id": "Run it writes to.",
        "status": "`starting`, `running`, `done`, `failed` (the job itself stopped on an error), `cancelled`, or "
                  "`dead` (its worker process is gone without finishing: killed or crashed; marked when the Run page, "
                  "the job list or the next `workbench run` looks).",
        "pid": "Worker process id (the run's writer; replicas have their own in `run_job_replicas`).",
        "backend": "transformers, vllm or openai.",
        "model": "Model path, hub id or endpoint model name.",
        "options": "JSON: every option of the run (sampling, GPUs, data file, ...).",
        "n_total": "Samples in the input (after --limit).",
        "n_done": "Samples finished by this job (status ok).",
        "n_failed": "Samples this job recorded as failed.",
        "n_skipped": "Samples skipped because they were already finished (--resume).",
        "tokens_generated": "Tokens generated by this job.",
        "generation_seconds": "Wall-clock seconds since the job's first sample was handed to a model (model loading "
                              "excluded): tokens/s = tokens_generated / generation_seconds is the job's throughput "
                              "over all replicas and batch slots.",
        "current_sample": "Sample being generated now.",
        "message": "Last error or status message.",
        "cancel_requested": "Set by the app or `workbench run --cancel`; the worker stops after saving the partial trace.",
        "started_at": "When the job started.",
        "heartbeat_at": "Last sign of life of the worker (a stale heartbeat with status running = the worker died).",
        "finished_at": "When it ended.",
        "host": "Machine the worker runs on (a dead pid there means a dead job; other machines go by heartbeat).",
        "batch_size": "Sequences decoded at once per replica (`--batch-size`; vLLM's max_num_seqs).",
        "replicas": "Data-parallel copies of the model (`--replicas`), each a worker process.",
    }),
    "run_job_replicas": ("One row per replica (worker process holding a copy of the model) of a run job.", {
        "job_id": "`run_jobs.job_id`.",
        "replica": "Replica number (0 when the job runs in one process).",
        "pid": "Process id of the replica.",
        "gpus": "GPU ids of the replica, comma-separated (NULL on CPU).",
        "status": "`running`, `done`, `failed`, `cancelled` or `dead` (the process died; its samples in flight "
                  "were recorded failed).",
        "n_done": "Samples this replica finished.",
        "n_failed": "Samples this replica could not generate.",
        "in_flight": "Samples handed to the replica and not finished yet (batch slots plus its queue).",
        "tokens_generated": "Tokens this replica generated.",
        "busy_seconds": "Seconds the replica had at least one sample in flight: tokens/s of the replica = "
                        "tokens_generated / busy_seconds.",
        "message": "Why the replica stopped, when it did.",
        "heartbeat_at": "When the writer last recorded the replica's progress.",
    }),
    "probe_traces": ("One row per probed trace (`workbench probe` or `workbench run --probe`): one teacher-forced "
                     "pass with attention hooks, and one without the image.", {
        "run_id": "Run of the probed sample.",
        "sample_id": "Probed sample.",
        "probe_version": "Version of the probe code and its summaries.",
        "model": "Checkpoint used for the teacher-forced passes (folder or hub id).",
        "status": "`ok`, `skipped` (no usable image, empty trace) or `failed` (the reason is in `error`).",
        "error": "Why the probe skipped or failed this sample.",
        "layers": "Decoder layers whose attention was captured (0-based).",
        "head_max": "Whether per-step maps with the max over heads were kept (besides the head mean).",
        "dependence": "How visual dependence was computed: `drop_image` (second pass without the image) or `none`.",
        "n_tokens": "Tokens of the trace that were teacher-forced.",
        "token_source": "`stored` (the run's own token ids from `tokens`) or `retokenized` (imported text tokenized by the model's tokenizer).",
        "prompt_tokens": "Tokens of the prompt (system, image tokens, question) before the trace.",
        "n_image_tokens": "Image tokens in the prompt (t*h*w/4 of each image's `image_grid_thw`).",
        "grids": "JSON list, one per image: patch grid t/h/w (14-px patches), original width/height, first image token.",
        "maps_path": "Per-token file (.npz) relative to the `probe_dir` setting: token maps, shares, log-probabilities.",
        "maps_bytes": "Size of that file.",
        "early_image_share": "Token-weighted attention share on the image over the first 20% of the trace's tokens.",
        "late_image_share": "The same over the last 20%.",
        "early_visual_dependence": "Mean log p(token | image) - log p(token | no image) over the first 20% of tokens.",
        "late_visual_dependence": "The same over the last 20%.",
        "content_hash": "Hash of the sample's response when probed (a changed trace is probed again).",
        "seconds": "Wall time of the probe for this sample.",
        "probed_at": "When it was probed.",
    }),
    "probe_steps": ("Per-step probe summaries: where along the trace the model looks at and relies on the image.", {
        "run_id": "Run of the sample.",
        "sample_id": "Sample.",
        "step_index": "Step (`steps.step_index`).",
        "token_start": "First token of the step in the teacher-forced trace.",
        "token_end": "One past its last token.",
        "relative_position": "Middle of the step as a share of the trace's tokens (0 = start, 1 = end).",
        "image_attention_share": "Mean over the step's tokens and the probed layers of the share of attention on image tokens (head mean); low = not looking at the image.",
        "image_attention_share_max": "The same with the largest share among the heads instead of the head mean (probes run with --head-max), else NULL.",
        "image_attention_lift": "`image_attention_share` divided by what uniform attention would give (image tokens / keys each token sees): 1 = no preference for the image; corrects for the dilution of the share as the trace grows. The `attention` tier of grounding_loss uses it.",
        "layer_shares": "The same per probed layer, in `probe_traces.layers` order (head mean).",
        "visual_dependence": "Mean over the step's tokens of log p(token | image) - log p(token | no image), nats; near 0 = the step no longer depends on the image.",
        "peak_row": "Row of the image cell (28x28 px of the resized image) the step attends to most.",
        "peak_col": "Column of that cell.",
    }),
    "cluster_runs": ("One row per clustering (`workbench cluster`); re-running the same unit and runs replaces it.", {
        "cluster_run_id": "`<unit>:<method>:<runs>`: the key a re-run replaces.",
        "unit": "`step` (each flagged step) or `sample` (each flagged sample).",
        "method": "`hdbscan` or `kmeans`.",
        "runs": "Runs whose findings were clustered.",
        "params": "JSON: seed, k, min_cluster_size, feature sizes.",
        "n_units": "Units clustered.",
        "n_clusters": "Clusters found (noise not counted).",
        "created_at": "When.",
    }),
    "clusters": ("One row per cluster, with a readable label.", {
        "cluster_run_id": "`cluster_runs.cluster_run_id`.",
        "cluster_id": "Cluster number; -1 = units HDBSCAN left unclustered (noise).",
        "label": "Most distinctive terms plus the dominant failure kinds.",
        "terms": "The distinctive terms (class-based TF-IDF), best first.",
        "size": "Units in the cluster.",
        "accuracy": "Share of the cluster's units whose sample was answered correctly (NULL when ungraded).",
        "failure_mix": "JSON: share of units per `detector:severity`.",
    }),
    "cluster_members": ("Each clustered unit: its cluster, 2-D map position and distance to the centre.", {
        "cluster_run_id": "`cluster_runs.cluster_run_id`.",
        "cluster_id": "`clusters.cluster_id`.",
        "run_id": "Run.",
        "sample_id": "Sample.",
        "step_index": "The flagged step (NULL for unit = sample).",
        "x": "Map coordinate 1 (PCA of the feature space).",
        "y": "Map coordinate 2.",
        "distance": "Distance to the cluster centre in feature space (smaller = more typical).",
        "representative": "One of the 5 units closest to the centre.",
        "excerpt": "The unit's flagged span with up to 120 characters of context on each side (the text it was "
                   "clustered by; at most 600 characters).",
        "span_start": "Start of the flagged span inside `excerpt` (characters; 0011).",
        "span_end": "End of the flagged span inside `excerpt` (exclusive; 0011).",
    }),
    "summary_state": ("Per run: whether its summary tables (summary_*) are fresh (0012). Writes that change a run's "
                      "samples or findings mark it stale; readers recompute stale runs before showing them.", {
        "run_id": "Run.",
        "fresh": "False when the run changed after its summaries were computed.",
        "detectors": "The detector registry the summaries were computed under (another registry: stale).",
        "n_samples": "Samples of the run when summarised (a different count now: stale).",
        "n_flags": "Findings of the run when summarised (a different count now: stale).",
        "refreshed_at": "When the summaries were computed.",
    }),
    "summary_groups": ("Per run and (benchmark, subset): sample counts and grades (0012; the runs table and "
                       "the Overview read these).", {
        "run_id": "Run.",
        "benchmark": "Benchmark of the group's samples (`(none)` when absent).",
        "subset": "Subset of the group's samples (`(none)` when absent).",
        "label": "The group's display label (`benchmark · subset`, or the one that exists).",
        "samples": "Samples.",
        "with_image": "Samples with at least one image.",
        "graded": "Samples with a grade (the source's, else the workbench's).",
        "correct": "Graded samples whose grade is correct.",
        "graded_by_source": "Samples graded by the result file.",
        "graded_by_workbench": "Samples graded by the workbench's answer rules.",
        "failed": "Samples whose generation failed.",
    }),
    "summary_detectors": ("Per run, group and registered detector: flag and accuracy counts (0012). Eligible: "
                          "every sample, or for a detector that needs an image the samples with one.", {
        "run_id": "Run.",
        "benchmark": "Benchmark of the group's samples (`(none)` when absent).",
        "subset": "Subset of the group's samples (`(none)` when absent).",
        "detector": "Detector (" + _detectors() + ").",
        "flagged": "Samples with at least one finding of the detector (any tier).",
        "eligible": "Eligible samples.",
        "flagged_eligible": "Eligible samples flagged (flag rate = flagged_eligible / eligible).",
        "eligible_graded": "Eligible samples with a grade.",
        "eligible_correct": "Eligible samples graded correct.",
        "flagged_graded": "Flagged eligible samples with a grade.",
        "flagged_correct": "Flagged eligible samples graded correct.",
    }),
    "summary_findings": ("Per run, group, detector and severity: the number of findings (0012; the Failures "
                         "page's counts).", {
        "run_id": "Run.",
        "benchmark": "Benchmark of the group's samples (`(none)` when absent).",
        "subset": "Subset of the group's samples (`(none)` when absent).",
        "detector": "Detector.",
        "severity": "Severity.",
        "findings": "Findings (rows of `flags`).",
    }),
    "summary_lengths": ("Per run and group: how many traces have each length (0012; the Overview bins them).", {
        "run_id": "Run.",
        "benchmark": "Benchmark of the group's samples (`(none)` when absent).",
        "subset": "Subset of the group's samples (`(none)` when absent).",
        "unit": "`chars` (length of the response) or `tokens` (`completion_tokens`, when known).",
        "length": "A length in that unit.",
        "traces": "Traces of that length.",
    }),
    "summary_onsets": ("Per run, group and severity: where loops start (findings of the registry's loop "
                       "detectors), in 5% bins of the trace (0012).", {
        "run_id": "Run.",
        "benchmark": "Benchmark of the group's samples (`(none)` when absent).",
        "subset": "Subset of the group's samples (`(none)` when absent).",
        "severity": "Severity of the loop finding.",
        "bin": "Onset bin: char_start / trace length, in twentieths (0-19).",
        "loops": "Loop findings starting in that bin.",
    }),
}


def markdown() -> str:
    """The schema reference as Markdown (README section 'Schema reference')."""
    out = []
    for table, (about, cols) in TABLES.items():
        out.append(f"#### `{table}`\n\n{about}\n\n| column | meaning |\n|---|---|")
        out += [f"| `{c}` | {d} |" for c, d in cols.items()]
        out.append("")
    return "\n".join(out)
