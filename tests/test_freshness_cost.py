"""The hourly `freshness` job needs no model: it never imports torch and stays small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from jobs import registry
from tests.freshness_scenarios import langchain_index, long_doc, write

REPO = Path(__file__).resolve().parent.parent


def test_freshness_run_never_imports_torch(tmp_path, embedder):
    docs = tmp_path / "docs"
    write(docs, "a.md", long_doc("A", "Orders ship within 5 working days."))
    write(docs, "b.md", long_doc("B"))
    config = tmp_path / "ragmon.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [store]
            path = "{tmp_path / "chroma"}"
            collection = "costs"
            [sources]
            root = "{docs}"
            [history]
            url = "sqlite:///{tmp_path / "history.db"}"
            """
        )
    )
    from monitor.config import load_config

    langchain_index(load_config(config).store, docs, embedder, recorded_prefix="docs/")
    (docs / "a.md").write_text(long_doc("A", "Orders ship within 9 working days."))

    script = textwrap.dedent(
        f"""
        import json, sys
        from jobs.cli import cli
        try:
            cli(["-c", {str(config)!r}, "run", "freshness", "--json"], standalone_mode=False)
        except SystemExit:
            pass
        print(json.dumps({{
            "torch": "torch" in sys.modules,
            "sentence_transformers": "sentence_transformers" in sys.modules,
            # VmHWM, not ru_maxrss: that one keeps the parent's peak across fork and exec.
            "rss_mb": next(
                int(line.split()[1]) / 1024
                for line in open("/proc/self/status")
                if line.startswith("VmHWM:")
            ),
        }}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    result = json.loads("\n".join(lines[:-1]))
    measured = json.loads(lines[-1])
    assert result["result"]["by_document"]["a.md"]["rules"]["edited"] == 1
    assert measured["torch"] is False
    assert measured["sentence_transformers"] is False
    assert measured["rss_mb"] < 300


def test_the_embedding_check_is_its_own_daily_job():
    jobs = registry.all_jobs()
    assert jobs["embeddings"].schedule == "45 2 * * *"
    assert jobs["freshness"].schedule == "0 * * * *"
    assert jobs["embeddings"].signal and jobs["freshness"].signal
    assert [r.name for r in jobs["embeddings"].rules] == ["model-mismatch"]
    assert "model-mismatch" not in {r.name for r in jobs["freshness"].rules}
