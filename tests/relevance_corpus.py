"""Real text for relevance tests: the demo corpus cut into paragraphs, plus filler.

The filler is the standard library's own docstrings (real English prose, identical on
every machine with the same Python), so a test collection passes chromadb's ~1,000-write
threshold, above which its HNSW index is persisted and ranks stay the same across opens.
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
from collections.abc import Sequence
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "jobs" / "demo_corpus"

STDLIB_MODULES = [
    "argparse",
    "collections",
    "csv",
    "datetime",
    "decimal",
    "difflib",
    "email.message",
    "fractions",
    "ftplib",
    "functools",
    "gettext",
    "gzip",
    "heapq",
    "hmac",
    "html.parser",
    "http.client",
    "imaplib",
    "inspect",
    "ipaddress",
    "itertools",
    "json",
    "logging",
    "mailbox",
    "mimetypes",
    "operator",
    "optparse",
    "pathlib",
    "pickle",
    "platform",
    "poplib",
    "pprint",
    "queue",
    "random",
    "shlex",
    "shutil",
    "smtplib",
    "socket",
    "sqlite3",
    "ssl",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "tokenize",
    "trace",
    "turtle",
    "typing",
    "unittest",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "wave",
    "zipfile",
    "zoneinfo",
    "calendar",
    "cmd",
    "codecs",
    "configparser",
    "contextlib",
    "copy",
    "dataclasses",
    "dis",
    "enum",
    "fileinput",
    "fnmatch",
    "glob",
]

PROBES = [
    (
        "vacation",
        "How many days of paid vacation do full-time employees get per year?",
        "handbook/vacation-policy.md",
    ),
    (
        "expenses",
        "How do I submit an expense claim to get my travel costs reimbursed?",
        "handbook/expenses.md",
    ),
    (
        "warranty",
        "How long is the warranty on the robot arm and what does it cover?",
        "products/warranty.txt",
    ),
    (
        "firmware",
        "How do I install a firmware update on the arm controller?",
        "products/firmware-updates.rst",
    ),
    (
        "payload",
        "What is the maximum payload and reach of the R2 arm?",
        "products/r2-arm-datasheet.md",
    ),
    (
        "remote",
        "Am I allowed to work remotely from home or from abroad?",
        "handbook/remote-work.md",
    ),
    ("onboarding", "What happens during a new employee's first week?", "handbook/onboarding.md"),
    ("phishing", "How do I report a suspicious phishing email?", "handbook/security-basics.md"),
]
"""(probe id, query, expected source): each expected source is the only document on its topic."""


def demo_chunks() -> list[tuple[str, str, str]]:
    """(chunk id, source id, text): the demo corpus cut at blank lines, headings kept."""
    out = []
    for path in sorted(DEMO.rglob("*")):
        if path.suffix not in (".md", ".txt", ".rst") or path.name == "README.md":
            continue
        source = path.relative_to(DEMO).as_posix()
        paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n")]
        merged: list[str] = []
        for p in paragraphs:
            if not p:
                continue
            if merged and len(merged[-1].split()) < 12:
                merged[-1] = f"{merged[-1]}\n{p}"
            else:
                merged.append(p)
        out += [(f"{source}#{i}", source, text) for i, text in enumerate(merged)]
    return out


def filler_paragraphs(limit: int, modules: Sequence[str] = STDLIB_MODULES) -> list[str]:
    """Docstring paragraphs of at least 12 words from standard library ``modules``."""
    seen: set[str] = set()
    out: list[str] = []
    for name in modules:
        module = importlib.import_module(name)
        docs = [module.__doc__ or ""]
        for _, member in sorted(vars(module).items()):
            if inspect.isfunction(member) or inspect.isclass(member):
                docs.append(inspect.getdoc(member) or "")
        for doc in docs:
            for para in doc.split("\n\n"):
                text = re.sub(r"\s+", " ", para).strip()
                if len(text.split()) >= 12 and text not in seen and ">>>" not in text:
                    seen.add(text)
                    out.append(text)
                    if len(out) >= limit:
                        return out
    return out


def long_chunks(count: int, paragraphs_per_chunk: int, seed: int = 0) -> list[str]:
    """Chunks of unrelated filler paragraphs, far past the model's 256-token window."""
    pool = filler_paragraphs(count * paragraphs_per_chunk)
    random.Random(seed).shuffle(pool)
    return [
        " ".join(pool[i : i + paragraphs_per_chunk])
        for i in range(0, len(pool) - paragraphs_per_chunk + 1, paragraphs_per_chunk)
    ][:count]


def write_probes(path: Path, probes: list[tuple[str, str, str]] = PROBES) -> Path:
    import json

    path.write_text(
        "".join(
            json.dumps({"id": pid, "query": q, "expected_sources": [src]}) + "\n"
            for pid, q, src in probes
        ),
        encoding="utf-8",
    )
    return path
