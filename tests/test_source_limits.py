"""Source selection and size limits: `sources.include = []` and `sources.max_file_bytes`."""

from __future__ import annotations

from click.testing import CliRunner

from jobs.cli import cli
from monitor.config import SourcesConfig
from monitor.sources.directory import DirectoryCatalog
from tests.freshness_scenarios import write


def _config(tmp_path, sources: str):
    (tmp_path / "docs").mkdir(exist_ok=True)
    path = tmp_path / "ragmon.toml"
    path.write_text(f'[store]\npath = "c"\n[sources]\nroot = "docs"\n{sources}')
    return path


def test_empty_include_is_refused_naming_the_key(tmp_path):
    path = _config(tmp_path, "include = []\n")
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {path}, line 5: key 'sources.include': must name at least one glob: with "
        "none, no file is a source and every chunk would look orphaned\n"
    )


def test_max_file_bytes_must_be_positive(tmp_path):
    path = _config(tmp_path, "max_file_bytes = 0\n")
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert result.exit_code == 2
    assert "key 'sources.max_file_bytes'" in result.output


def test_a_50_mb_source_is_skipped_unread_by_default(tmp_path):
    root = tmp_path / "docs"
    write(root, "small.md", "small")
    with (root / "huge.md").open("w") as f:
        line = "All work and no play makes a very long document. " * 20 + "\n"
        for _ in range(50 * 2**20 // len(line) + 1):
            f.write(line)
    catalog = DirectoryCatalog.from_config(SourcesConfig(root=root))
    assert {d.id for d in catalog.documents()} == {"small.md"}
    [problem] = catalog.problems
    size = (root / "huge.md").stat().st_size
    assert (problem.path, problem.reason) == (
        "huge.md",
        f"larger than sources.max_file_bytes ({size} > 10000000 bytes); raise the limit or "
        "exclude the file",
    )
    assert catalog.reads == 1
