"""Each source format on files the tests write in the real shape (never copies of other projects' files):
names come out whole, the source's grade becomes `correct`, summaries attach to their run, and all
files imported into one store keep every sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.errors import InputError
from workbench.ingest import import_paths
from workbench.ingest.formats.vlmevalkit import parse_stem
from workbench.store import connect


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> Path:
    import openpyxl
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def q(db, sql, params=()):
    with connect(db) as con:
        return con.execute(sql, list(params)).fetchall()


def accuracy(db, run_id):
    return q(db, "SELECT n_samples, n_graded, n_correct FROM runs WHERE run_id = ?", [run_id])[0]


# --- lmms-eval ---------------------------------------------------------------------------------------

def lmms_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "logs" / "Qwen__Qwen2.5-VL-7B-Instruct"
    write_jsonl(folder / "20250301_101010_samples_mme.jsonl", [
        {"doc_id": i, "doc_hash": "h", "target": "Yes" if i % 2 == 0 else "No", "input": f"Is it {i}?",
         "resps": f"<think>hmm {i}</think>Yes", "filtered_resps": "Yes", "token_counts": [{"input_tokens": 100 + i,
         "output_tokens": 20}], "input_media": [f"/data/mme/{i}.png"],
         "mme_cognition_score": {"question_id": f"q{i}", "category": "code_reasoning",
                                 "score": 1.0 if i % 2 == 0 else 0.0}}
        for i in range(4)])
    write_json(folder / "20250301_101010_results.json", {
        "results": {"mme": {"alias": "mme", "mme_cognition_score,none": 125.0}},
        "configs": {"mme": {"task": "mme", "generation_kwargs": {"max_new_tokens": 1024}}},
        "config": {"model": "qwen2_5_vl", "model_args": "pretrained=Qwen/Qwen2.5-VL-7B-Instruct,max_pixels=12845056"},
        "model_name": "Qwen/Qwen2.5-VL-7B-Instruct", "lmms_eval_version": "0.4", "date": "20250301_101010",
        "higher_is_better": {"mme": {"mme_cognition_score": True}}})
    return folder


def test_lmms_eval_new_schema_with_results_beside(tmp_path, tmp_db):
    folder = lmms_folder(tmp_path)
    s = import_paths([folder / "20250301_101010_samples_mme.jsonl"], tmp_db, progress=False)
    assert s.run_ids == ["qwen-qwen2.5-vl-7b-instruct-mme"]
    f = s.files[0]
    assert f.flavour == "lmms-eval" and any("_results.json" in n for n in f.notes)
    row = q(tmp_db, "SELECT sample_id, question, response, final_answer, ground_truth, correct, subset, model, "
                    "benchmark, prompt_tokens, completion_tokens, n_images FROM samples ORDER BY sample_id")[0]
    assert row == ("0", "Is it 0?", "<think>hmm 0</think>Yes", "Yes", "Yes", True, "code_reasoning",
                   "Qwen/Qwen2.5-VL-7B-Instruct", "mme", 100, 20, 1)
    assert accuracy(tmp_db, "qwen-qwen2.5-vl-7b-instruct-mme") == (4, 4, 2)
    cfg, rep, name = q(tmp_db, "SELECT config, reported, name FROM runs")[0]
    assert json.loads(cfg)["task_config"]["generation_kwargs"] == {"max_new_tokens": 1024}
    assert json.loads(rep)["20250301_101010_results.json"]["mme"]["mme_cognition_score,none"] == 125.0
    assert name == "Qwen/Qwen2.5-VL-7B-Instruct/mme"
    assert q(tmp_db, "SELECT grade_field, format FROM import_files") == [("mme_cognition_score.score", "lmms-eval")]


def test_lmms_eval_results_file_alone_says_what_it_is(tmp_path, tmp_db):
    folder = lmms_folder(tmp_path)
    with pytest.raises(InputError, match=r"an lmms-eval aggregated results file .*import the samples files"):
        import_paths([folder / "20250301_101010_results.json"], tmp_db, progress=False)
    # named together with its samples: read once, attached
    s = import_paths(sorted(folder.iterdir()), tmp_db, progress=False)
    assert s.run_ids == ["qwen-qwen2.5-vl-7b-instruct-mme"]
    assert q(tmp_db, "SELECT count(*) FROM samples") == [(4,)]


def test_lmms_eval_old_schema_without_results(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "llava-v1.5-7b" / "samples_textvqa_val_2024-05-01T10-00-00.123.jsonl", [
        {"doc_id": 0, "target": "['coke', 'coca cola']", "resps": [["Coca-Cola"]], "filtered_resps": ["coca-cola"],
         "exact_match": 1.0, "doc": {"question": "what brand?"}, "arguments": [["what brand?"]]},
        {"doc_id": 1, "target": "7", "filtered_resps": ["8"], "exact_match": 0.0}])
    import_paths([path], tmp_db, progress=False)
    assert q(tmp_db, "SELECT run_id, s.model, benchmark FROM samples s JOIN runs USING (run_id) LIMIT 1") == \
        [("llava-v1.5-7b-textvqa_val", "llava-v1.5-7b", "textvqa_val")]
    assert q(tmp_db, "SELECT sample_id, response, final_answer, correct FROM samples ORDER BY 1") == \
        [("0", "Coca-Cola", "coca-cola", True), ("1", "8", None, False)]


# --- VLMEvalKit --------------------------------------------------------------------------------------

@pytest.mark.parametrize("stem, expected", [
    ("gpt-4.1-2025-04-14_CharXiv_reasoning_val", ("gpt-4.1-2025-04-14", "CharXiv_reasoning_val", "")),
    ("Qwen2.5-VL-7B-Instruct_MMBench_DEV_EN_openai_result",
     ("Qwen2.5-VL-7B-Instruct", "MMBench_DEV_EN", "openai_result")),
    ("qwen_chat_MMStar_acc", ("qwen_chat", "MMStar", "acc")),
    ("InternVL-Chat-V1-5_MathVista_MINI_gpt-4o-mini_score",
     ("InternVL-Chat-V1-5", "MathVista_MINI", "gpt-4o-mini_score")),
    ("InternVL2.5-8B_MME_auxmatch", ("InternVL2.5-8B", "MME", "auxmatch")),
])
def test_vlmevalkit_stems_split_on_dataset_names(stem, expected):
    p = parse_stem(stem)
    assert (p.model, p.dataset, p.suffix) == expected


def test_vlmevalkit_models_with_dots_never_merge(tmp_path, tmp_db):
    folder = tmp_path / "outputs" / "gpt-4.1-2025-04-14"
    header = ["index", "question", "answer", "category", "prediction"]
    a = write_xlsx(folder / "gpt-4.1-2025-04-14_CharXiv_reasoning_val.xlsx", header,
                   [[i, f"reasoning q{i}", "3", "chart", f"r{i}"] for i in range(5)])
    b = write_xlsx(folder / "gpt-4.1-2025-04-14_CharXiv_descriptive_val.xlsx", header,
                   [[i, f"descriptive q{i}", "x", "chart", f"d{i}"] for i in range(5)])
    s = import_paths([a, b], tmp_db, progress=False)
    assert s.run_ids == ["gpt-4.1-2025-04-14-charxiv_descriptive_val", "gpt-4.1-2025-04-14-charxiv_reasoning_val"]
    assert q(tmp_db, "SELECT count(*), count(DISTINCT run_id) FROM samples") == [(10, 2)]
    assert q(tmp_db, "SELECT DISTINCT model, benchmark FROM samples ORDER BY 2") == \
        [("gpt-4.1-2025-04-14", "CharXiv_descriptive_val"), ("gpt-4.1-2025-04-14", "CharXiv_reasoning_val")]


def vlm_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "outputs" / "Qwen2.5-VL-7B-Instruct"
    header = ["index", "question", "A", "B", "answer", "category", "l2-category", "split", "image_path", "prediction"]
    rows = [[str(1000 + i), f"q{i}", "cat", "dog", "A", "coarse perception", "image scene", "dev", "['1_1.jpg']",
             "A" if i < 3 else "B"] for i in range(5)]
    write_xlsx(folder / "Qwen2.5-VL-7B-Instruct_MMStar.xlsx", header, rows)
    write_xlsx(folder / "Qwen2.5-VL-7B-Instruct_MMStar_openai_result.xlsx", [*header, "hit", "log"],
               [[*r, 1 if i < 3 else 0, "matched"] for i, r in enumerate(rows)])
    (folder / "Qwen2.5-VL-7B-Instruct_MMStar_acc.csv").write_text(
        '"split","Overall","coarse perception"\n"dev","0.6","0.6"\n', encoding="utf-8")
    return folder


def test_vlmevalkit_predictions_join_judged_and_summary(tmp_path, tmp_db):
    folder = vlm_folder(tmp_path)
    s = import_paths([folder / "Qwen2.5-VL-7B-Instruct_MMStar.xlsx"], tmp_db, progress=False)
    run_id = "qwen2.5-vl-7b-instruct-mmstar"
    assert s.run_ids == [run_id]
    assert accuracy(tmp_db, run_id) == (5, 5, 3)
    row = q(tmp_db, "SELECT sample_id, subset, n_images, metadata FROM samples ORDER BY 1")[0]
    assert row[:3] == ("1000", "coarse perception", 1)
    assert json.loads(row[3])["log"] == "matched"
    reported = json.loads(q(tmp_db, "SELECT reported FROM runs")[0][0])
    assert reported["Qwen2.5-VL-7B-Instruct_MMStar_acc.csv"][0]["Overall"] == "0.6"
    # the judged file alone is the same source with the same content: nothing changes
    s = import_paths([folder / "Qwen2.5-VL-7B-Instruct_MMStar_openai_result.xlsx"], tmp_db, progress=False)
    assert s.files[0].counts["unchanged"] == 5
    # all three named at once: one run, every sample once
    s = import_paths(sorted(folder.iterdir()), tmp_db, progress=False)
    assert q(tmp_db, "SELECT count(*) FROM samples") == [(5,)]


def test_vlmevalkit_summary_alone_says_what_to_import(tmp_path, tmp_db):
    folder = vlm_folder(tmp_path)
    with pytest.raises(InputError, match=r"VLMEvalKit score summary of Qwen2.5-VL-7B-Instruct on MMStar; import the "
                                         "predictions file"):
        import_paths([folder / "Qwen2.5-VL-7B-Instruct_MMStar_acc.csv"], tmp_db, progress=False)


def test_vlmevalkit_tsv_with_thinking_and_base64_image(tmp_path, tmp_db):
    import base64
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (12, 12), (9, 9, 9)).save(buf, format="PNG")
    img64 = base64.b64encode(buf.getvalue()).decode()
    folder = tmp_path / "QVQ-72B-Preview"
    folder.mkdir()
    tsv = folder / "QVQ-72B-Preview_MMMU_DEV_VAL.tsv"
    tsv.write_text("index\tquestion\tanswer\tcategory\timage\tthinking\tprediction\n"
                   f"17\tWhich?\tB\tBiology\t{img64}\tLet me think...\tB\n", encoding="utf-8")
    import_paths([tsv], tmp_db, progress=False)
    assert q(tmp_db, "SELECT sample_id, response, final_answer, subset, model, benchmark FROM samples") == \
        [("17", "Let me think...", "B", "Biology", "QVQ-72B-Preview", "MMMU_DEV_VAL")]
    assert q(tmp_db, "SELECT width FROM images WHERE NOT missing") == [(12,)]


# --- MMMU / MMMU-Pro ---------------------------------------------------------------------------------

def test_mmmu_pro_grades_as_bool_or_string(tmp_path, tmp_db):
    base = {"question": "Which?", "options": "['a', 'b', 'c']", "answer": "B", "subject": "History"}
    a = write_jsonl(tmp_path / "gpt-4o_standard(10 options)_cot.jsonl",
                    [{**base, "id": f"test_History_{i}", "response": "... Answer: B", "pred_indexs": "B",
                      "if_right": i < 2} for i in range(3)])
    b = write_jsonl(tmp_path / "gpt-4o_vision_direct.jsonl",
                    [{**base, "id": f"test_History_{i}", "response": "B", "pred_indexs": "B",
                      "if_right": "True" if i == 0 else "False"} for i in range(3)])
    s = import_paths([a, b], tmp_db, progress=False)
    assert s.run_ids == ["gpt-4o-mmmu-pro-standard-10-options-cot", "gpt-4o-mmmu-pro-vision-direct"]
    assert accuracy(tmp_db, "gpt-4o-mmmu-pro-standard-10-options-cot") == (3, 3, 2)
    assert accuracy(tmp_db, "gpt-4o-mmmu-pro-vision-direct") == (3, 3, 1)
    assert q(tmp_db, "SELECT DISTINCT model, benchmark, subset, final_answer FROM samples") == \
        [("gpt-4o", "MMMU-Pro", "History", "B")]


def test_mmmu_pro_inference_output_is_not_graded_by_is_correct(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "InternVL2-8B_direct_Vision.jsonl", [
        {"id": "test_Art_1", "question": "Q", "options": "['x']", "image_1": "images/test_Art_1_1.png",
         "image_2": "images/test_Art_1_2.png", "answer": "A", "is_correct": True, "subfield": "Painting",
         "augmented_options": [], "response": "Answer: (C)"}])
    import_paths([path], tmp_db, progress=False)
    assert q(tmp_db, "SELECT correct, subset, n_images, model FROM samples") == [(None, "Art", 2, "InternVL2-8B")]


def test_mmmu_array_and_parsed_answer_object(tmp_path, tmp_db):
    folder = tmp_path / "example_outputs" / "qwen_vl"
    write_json(folder / "Accounting" / "output.json", [
        {"id": "validation_Accounting_1", "question_type": "multiple-choice", "answer": "B",
         "all_choices": ["A", "B"], "index2ans": {"A": "$6", "B": "$7"}, "response": "The cost is $7."}])
    write_json(folder / "total_val_output.json", {"validation_Accounting_1": "B", "validation_Art_2": "C"})
    s = import_paths([folder / "Accounting" / "output.json", folder / "total_val_output.json"], tmp_db,
                     progress=False)
    assert s.run_ids == ["qwen_vl-mmmu", "qwen_vl-mmmu-accounting"]
    assert q(tmp_db, "SELECT run_id, sample_id, response, final_answer, subset FROM samples ORDER BY 1, 2") == [
        ("qwen_vl-mmmu", "validation_Accounting_1", "B", "B", "Accounting"),
        ("qwen_vl-mmmu", "validation_Art_2", "C", "C", "Art"),
        ("qwen_vl-mmmu-accounting", "validation_Accounting_1", "The cost is $7.", None, "Accounting")]


# --- MathVista, MATH-V, Qwen-Math --------------------------------------------------------------------

def test_mathvista_object_keyed_by_pid_with_scores(tmp_path, tmp_db):
    folder = tmp_path / "results" / "bard"
    write_json(folder / "output_bard.json", {str(i): {
        "question": f"q{i}", "image": f"images/{i}.jpg", "choices": None, "answer": "1.2", "question_type": "free_form",
        "answer_type": "float", "pid": str(i), "metadata": {"category": "math-targeted-vqa", "split": "testmini"},
        "query": f"Hint: ... q{i}", "response": "The answer is 1.2", "extraction": "1.2", "prediction": "1.2",
        "true_false": i != 2} for i in range(1, 4)})
    write_json(folder / "scores_bard.json", {"average": {"accuracy": "66.67", "correct": 2, "total": 3}})
    s = import_paths([folder / "output_bard.json"], tmp_db, progress=False)
    assert s.run_ids == ["bard-mathvista"]
    assert accuracy(tmp_db, "bard-mathvista") == (3, 3, 2)
    assert q(tmp_db, "SELECT sample_id, question, final_answer, subset, model, n_images FROM samples ORDER BY 1")[0] \
        == ("1", "q1", "1.2", "math-targeted-vqa", "bard", 1)
    assert "scores_bard.json" in json.loads(q(tmp_db, "SELECT reported FROM runs")[0][0])


def test_math_v_string_grades_and_result_file(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "Gemini-Pro-CoT.jsonl", [
        {"id": str(i), "model": "gemini-pro-vision", "response": "\\boxed{A}", "model_answer": "a",
         "correct": "True" if i == 1 else "False"} for i in range(1, 5)])
    write_json(tmp_path / "Gemini-Pro-CoT_result.json", {"-all": "1/4=25.0%"})
    s = import_paths([path], tmp_db, progress=False)
    assert s.run_ids == ["gemini-pro-cot-math-v"]
    assert accuracy(tmp_db, "gemini-pro-cot-math-v") == (4, 4, 1)
    assert q(tmp_db, "SELECT DISTINCT model, benchmark, final_answer FROM samples") == \
        [("gemini-pro-vision", "MATH-V", "a")]


def test_qwen_math_dump_lists_and_several_samplings(tmp_path, tmp_db):
    folder = tmp_path / "DeepSeek-R1-Distill-Qwen-7B" / "math500"
    one = write_jsonl(folder / "test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl", [
        {"idx": i, "question": f"q{i}", "gt_cot": "None", "gt": "70", "answer": "70", "level": 3,
         "code": ["<think>long</think> \\boxed{70}"], "pred": ["70" if i else "16"], "report": [None],
         "score": [bool(i)]} for i in range(3)])
    write_json(folder / "test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1_qwen25-math-cot_metrics.json",
               {"num_samples": 3, "acc": 66.7, "prompts": ["x"]})
    many = write_jsonl(folder / "test_qwen25-math-cot_-1_seed0_t0.6_s0_e-1.jsonl", [
        {"idx": 0, "question": "q", "gt": "1", "answer": "1", "code": ["a", "b"], "pred": ["1", "2"],
         "score": [True, False]}])
    s = import_paths([one, many], tmp_db, progress=False)
    r1 = "deepseek-r1-distill-qwen-7b-math500-test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1"
    assert r1 in s.run_ids and accuracy(tmp_db, r1) == (3, 3, 2)
    assert q(tmp_db, "SELECT model, benchmark, response, final_answer, ground_truth FROM samples WHERE run_id = ? "
                     "AND sample_id = '1'", [r1]) == \
        [("DeepSeek-R1-Distill-Qwen-7B", "math500", "<think>long</think> \\boxed{70}", "70", "70")]
    assert json.loads(q(tmp_db, "SELECT reported FROM runs WHERE run_id = ?", [r1])[0][0])
    assert q(tmp_db, "SELECT sample_id, source_id, final_answer, correct FROM samples WHERE run_id <> ? ORDER BY 1",
             [r1]) == [("0/0", "0", "1", True), ("0/1", "0", "2", False)]


def test_qvq_dev_shape_recovers_mmlu_subject_from_id(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "traces.jsonl", [
        {"id": "x/mmlu/all/high_school_physics0123456789ab", "model": "m", "benchmark": "MMLU", "subset": "all",
         "question": "Q", "n_images_in_prompt": 0, "image_ref": None, "image_note": None, "response": "r",
         "final_answer_turn": "B", "ground_truth": "B", "correct": True},
        {"id": "x/mmmu/Art/validation_Art_1", "model": "m", "benchmark": "MMMU", "subset": "Art", "question": "Q",
         "n_images_in_prompt": 1, "image_ref": None, "image_note": "not in the repo", "response": "r",
         "final_answer_turn": "A", "ground_truth": "B", "correct": False}])
    import_paths([path], tmp_db, progress=False)
    assert q(tmp_db, "SELECT subset, final_answer, n_images FROM samples ORDER BY 1") == \
        [("Art", "A", 1), ("high_school_physics", "B", 0)]


def test_every_format_into_one_store_keeps_every_sample(tmp_path, tmp_db):
    lmms = lmms_folder(tmp_path)
    vlm = vlm_folder(tmp_path)
    mv = write_json(tmp_path / "mv" / "output_x.json", {"1": {"pid": "1", "query": "q", "response": "r",
                                                             "true_false": True}})
    files = sorted(lmms.iterdir()) + sorted(vlm.iterdir()) + [mv]
    s = import_paths(files, tmp_db, progress=False)
    assert q(tmp_db, "SELECT count(*) FROM samples") == [(4 + 5 + 1,)]
    assert len(s.run_ids) == 3


def test_lm_eval_one_record_per_filter_and_prompt_from_arguments(tmp_path, tmp_db):
    rows = [{"doc_id": d, "doc": {"question": "q"}, "target": "4",
             "arguments": {"gen_args_0": {"arg_0": f"Q{d}: 2+2?"}},
             "resps": [["The answer is 4."]], "filtered_resps": [f], "filter": flt, "metrics": ["exact_match"],
             "exact_match": 1.0 if f == "4" else 0.0}
            for d in range(2) for flt, f in (("strict-match", "[invalid]"), ("flexible-extract", "4"))]
    path = write_jsonl(tmp_path / "EleutherAI__pythia" / "samples_gsm8k_2025-01-01T00-00-00.000.jsonl", rows)
    s = import_paths([path], tmp_db, progress=False)
    assert s.files[0].counts["new"] == 4 and not s.files[0].counts["kept_apart"]
    assert q(tmp_db, "SELECT sample_id, source_id, question, final_answer, correct FROM samples ORDER BY 1")[:2] == \
        [("0/flexible-extract", "0/flexible-extract", "Q0: 2+2?", "4", True),
         ("0/strict-match", "0/strict-match", "Q0: 2+2?", "[invalid]", False)]
