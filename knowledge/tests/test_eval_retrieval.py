import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

DEV_SET = settings.BASE_DIR / "knowledge" / "eval" / "dev.jsonl"


def test_eval_retrieval_reports_sane_metrics_for_each_mode(demo_kb, tmp_path):
    # A small subset: a few answerable questions, follow-ups and unanswerable ones.
    lines = DEV_SET.read_text().splitlines()
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(lines[:6] + lines[30:33] + lines[-4:]) + "\n")
    out = StringIO()

    call_command("eval_retrieval", str(subset), "--json", stdout=out)

    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["mode"] for r in results] == ["dense", "hybrid", "hybrid+rerank"]
    for r in results[:2]:
        for key in ("recall@1", "recall@3", "mrr", "refused_unanswerable", "refused_answerable"):
            assert 0 <= r[key] <= 1
        assert r["recall@1"] <= r["recall@3"]
        assert 0 < r["p50_ms"] <= r["p95_ms"]
    assert "unavailable" in results[2]


def test_eval_retrieval_prints_a_side_by_side_table(demo_kb, tmp_path):
    subset = tmp_path / "q.jsonl"
    subset.write_text(json.dumps({"question": "refund?", "expected": ["x"], "extra": 1}) + "\n")
    out = StringIO()
    call_command("eval_retrieval", str(subset), stdout=out)
    assert "recall@1" in out.getvalue() and "hybrid" in out.getvalue()


def test_eval_retrieval_rejects_a_malformed_line(db, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"}\n')
    with pytest.raises(CommandError, match="bad.jsonl:1"):
        call_command("eval_retrieval", str(bad))
