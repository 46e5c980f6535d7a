"""Conflicting duplicates a person would call conflicts: on release notes, issue links,
versions and console output only the planted disagreements are found, grouped."""

from __future__ import annotations

import os
import time

from monitor.freshness.results import FreshnessResult
from tests.freshness_scenarios import audit_and_store, langchain_index, make_config, write

RELEASE = """# acme {version} released

acme-{version} is out and can be installed from the package index today.
This release fixes a crash in the configuration parser, see {link} for the report.
Thanks to everyone who tested release {version} before it went out (commit {commit}).
"""

HOWTO = """# Running the tests

Run the test suite from the project root before you open a pull request:

```
$ pytest
============ test session starts ============
collected {n} item{s}
```

The error is raised in parser.py:{line} when the file is empty (see line {line}).
"""

CLAIM = "acme is a mature library with more than {n} tests and a stable public interface."


def test_only_planted_conflicts_are_found_and_grouped(tmp_path, embedder):
    docs = tmp_path / "docs"
    for version, issue, commit in [
        ("6.1.0", 1234, "3f2a9c1"),
        ("6.2.5", 1301, "9be41d7"),
        ("7.0.0rc1", 1402, "a1b2c3d"),
    ]:
        link = f"https://github.com/acme/acme/issues/{issue}"
        write(
            docs,
            f"releases/{version}.md",
            RELEASE.format(version=version, link=link, commit=commit),
        )
    write(docs, "howto/tests.md", HOWTO.format(n=4, s="s", line=42))
    write(docs, "howto/tests-old.md", HOWTO.format(n=1, s="", line=17))
    # planted: three documents, three values of one claim
    for name, n in [("about.md", 1000), ("intro.md", 1500), ("index.md", 2000)]:
        write(docs, name, f"# {name}\n\n{CLAIM.format(n=n)}\n")
    now = time.time()
    for age_days, name in [(30, "about.md"), (20, "intro.md"), (10, "index.md")]:
        os.utime(docs / name, (now - age_days * 86400, now - age_days * 86400))
    config = make_config(
        tmp_path, tmp_path / "chroma", "noise", docs, freshness={"duplicates_sample": 1000}
    )
    langchain_index(config.store, docs, embedder, recorded_prefix="docs/")

    result = audit_and_store(config)
    (group,) = FreshnessResult.from_json(result.details).conflicts
    assert [v.source_id for v in group.voices] == ["about.md", "intro.md", "index.md"]
    assert group.values == ["1000", "1500", "2000"]
    assert (group.newest.source_id, group.newest.value) == ("index.md", "2000")
    assert group.template == CLAIM.format(n="N")
    (finding,) = [f for f in result.findings if f.kind == "conflicting_duplicate"]
    assert finding.message.startswith(
        f"3 documents say “{CLAIM.format(n='N')}” with 3 different values: 1000 (about.md, oldest)"
    )
    assert finding.message.endswith("2000 (index.md, newest)")
