"""OpenInference and GenAI traces, produced by the real instrumentation and exported through
the OTLP/HTTP exporter to a local receiver that writes the collector's file format."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import StoreConfig
from monitor.history import HistoryStore
from monitor.history.response_reads import trace_response
from monitor.logs.lineage import Lineage
from monitor.provenance import MetadataMapping
from monitor.records import RetrievedChunk
from monitor.stores.chroma import ChromaStore
from tests.logfiles import ingest, settings
from tests.otlp_receiver import otlp_receiver

QUESTIONS = ["How long is the warranty?", "Who installs firmware?", "Where are spare pads?"]
ANSWERS = ["Two years.", "The line lead.", "Cabinet B."]
TEXTS = [
    ("The warranty covers the R2 arm for two years from delivery.", "warranty.txt"),
    ("Firmware updates are installed by the line lead only.", "firmware.md"),
    ("Spare gripper pads are kept in cabinet B.", "handbook.md"),
    ("Visitors must be escorted on the shop floor.", "handbook.md"),
    ("The warranty covers the R2 arm for two years from delivery.", "warranty-copy.txt"),
]


@contextmanager
def _langchain_chain(tmp_path: Path, *, ids: bool = True):
    """A LangChain RAG chain over a real Chroma collection, instrumented by OpenInference,
    exporting through OTLP/HTTP into ``tmp_path/spans.jsonl``; yields (run, vectorstore,
    receiver). With ``ids=False`` the retriever returns Documents without ids, as LangChain
    did before Documents had one: the trace then names chunks only by text and metadata."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnablePassthrough
    from openinference.instrumentation.langchain import LangChainInstrumentor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    class IdlessRetriever(BaseRetriever):
        store: Any

        def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
            found = self.store.similarity_search(query, k=2)
            return [Document(page_content=d.page_content, metadata=d.metadata) for d in found]

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    store = Chroma(
        client=client,
        collection_name="docs",
        embedding_function=DeterministicFakeEmbedding(size=32),
    )
    store.add_texts([t for t, _ in TEXTS], metadatas=[{"source": s} for _, s in TEXTS])
    retriever = store.as_retriever(search_kwargs={"k": 2}) if ids else IdlessRetriever(store=store)
    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    model = FakeListChatModel(responses=ANSWERS)
    chain = (
        {
            "context": retriever | (lambda docs: "\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | model
        | StrOutputParser()
    )
    with otlp_receiver(tmp_path / "spans.jsonl") as (receiver, url):
        provider = TracerProvider(resource=Resource.create({"service.name": "rag-app"}))
        # One export per ended span: children first, the root last, a trace over many lines.
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url)))
        instrumentor = LangChainInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:

            def run() -> list[str]:
                answers = [chain.invoke(q) for q in QUESTIONS]
                provider.force_flush()
                return answers

            yield run, store, receiver
        finally:
            instrumentor.uninstrument()
            provider.shutdown()


@pytest.fixture()
def langchain_world(tmp_path):
    with _langchain_chain(tmp_path) as world:
        yield world


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _spans(line: dict) -> list[dict]:
    return [s for rs in line["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def _roots(path: Path) -> list[str]:
    """Trace ids in the order their root spans were written."""
    return [
        s["traceId"] for line in _lines(path) for s in _spans(line) if not s.get("parentSpanId")
    ]


def _store_lineage(tmp_path: Path) -> Lineage:
    config = StoreConfig(path=tmp_path / "chroma", collection="docs")
    return Lineage.for_store(
        run_id=None,
        audit=None,
        stamps={},
        store=ChromaStore.from_config(config),
        mapping=MetadataMapping(),
        root=tmp_path,
    )


def test_openinference_traces_from_the_langchain_instrumentor(tmp_path, langchain_world):
    run, store, receiver = langchain_world
    assert run() == ANSWERS
    spans_file = tmp_path / "spans.jsonl"
    assert receiver.requests > len(QUESTIONS)  # every span its own line
    expected = [[d.id for d in store.similarity_search(q, k=2)] for q in QUESTIONS]
    texts = {d.id: d.page_content for q in QUESTIONS for d in store.similarity_search(q, k=2)}
    # One retrieved chunk vanishes from the store: kept, and counted as unknown.
    gone = expected[2][1]
    store.delete([gone])

    report = ingest(
        tmp_path,
        settings(paths=["spans.jsonl"], format="openinference"),
        lineage=_store_lineage(tmp_path),
    )
    assert (report.responses, sum(report.rejects.values()), report.waiting) == (3, 0, 0)
    assert report.unknown_chunks == sum(ids.count(gone) for ids in expected) >= 1

    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    for trace_id, question, answer, ids in zip(
        _roots(spans_file), QUESTIONS, ANSWERS, expected, strict=True
    ):
        assert len(trace_id) == 32 and int(trace_id, 16)
        found = trace_response(history, trace_id)
        assert found is not None, trace_id
        assert (found.query, found.answer) == (question, answer)
        assert [c.chunk_id for c in found.chunks] == ids
        assert [c.text for c in found.chunks] == [texts[i] for i in ids]
        assert found.labels["service.name"] == "rag-app"
        classes = ["unknown_chunk" if i == gone else "unknown" for i in ids]
        assert [c.chunk_class for c in found.chunks] == classes


def test_chunks_traced_without_ids_are_found_in_the_store_by_their_text(tmp_path):
    with _langchain_chain(tmp_path, ids=False) as (run, store, _):
        assert run() == ANSWERS
    spans = [s for line in _lines(tmp_path / "spans.jsonl") for s in _spans(line)]
    keys = {a["key"] for s in spans for a in s["attributes"]}
    assert any(k.endswith(".document.content") for k in keys)
    assert not any(k.endswith(".document.id") for k in keys)  # the trace names no id
    expected = [[d.id for d in store.similarity_search(q, k=2)] for q in QUESTIONS]
    by_id = {d.id: d for q in QUESTIONS for d in store.similarity_search(q, k=2)}
    # The warranty text is stored twice under two sources (TEXTS): the logged metadata's
    # source tells them apart. Then plant: one retrieved chunk leaves the store (its text is
    # nowhere), and another's text is added again under the same source (ambiguous).
    gone, shared = expected[1][0], expected[2][0]
    assert gone != shared and gone not in expected[2]
    store.delete([gone])
    store.add_texts([by_id[shared].page_content], metadatas=[dict(by_id[shared].metadata)])
    refs = [i for ids in expected for i in ids]

    report = ingest(
        tmp_path,
        settings(paths=["spans.jsonl"], format="openinference"),
        lineage=_store_lineage(tmp_path),
    )
    matches = report.text_matches
    assert matches is not None
    assert (matches.not_found, matches.ambiguous) == (refs.count(gone), refs.count(shared))
    assert matches.matched == len(refs) - refs.count(gone) - refs.count(shared) >= 2
    assert report.unknown_chunks == refs.count(gone) + refs.count(shared)

    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    for trace_id, ids in zip(_roots(tmp_path / "spans.jsonl"), expected, strict=True):
        found = trace_response(history, trace_id)
        assert found is not None
        want = [None if i in (gone, shared) else i for i in ids]
        assert [c.chunk_id for c in found.chunks] == want
        assert [c.text for c in found.chunks] == [by_id[i].page_content for i in ids]

    # The same text under two sources: the logged source picks the chunk; without one the
    # text is ambiguous and no id is guessed.
    warranty = TEXTS[0][0]
    copies = {
        d.metadata["source"]: d.id
        for d in store.similarity_search(warranty, k=len(TEXTS) + 1)
        if d.page_content == warranty
    }
    assert set(copies) == {"warranty.txt", "warranty-copy.txt"}
    lineage = _store_lineage(tmp_path)
    for source, cid in copies.items():
        named = lineage.identify((RetrievedChunk(None, text=warranty, source=source),))
        assert named[0].id == cid
    assert lineage.identify((RetrievedChunk(None, text=warranty),))[0].id is None
    assert lineage.texts is not None and lineage.texts.counts.ambiguous == 1


def test_a_trace_split_over_two_files_is_joined_when_its_root_arrives(tmp_path, langchain_world):
    run, _, _ = langchain_world
    run()
    lines = (tmp_path / "spans.jsonl").read_text().splitlines(keepends=True)
    roots = _roots(tmp_path / "spans.jsonl")
    cut = len(lines) // 2  # inside the second trace
    (tmp_path / "part-1.jsonl").write_text("".join(lines[:cut]))
    logs = settings(paths=["part-*.jsonl"], format="openinference", trace_wait_seconds=3600)
    first = ingest(tmp_path, logs)
    assert (first.responses, first.waiting) == (1, 1)
    (tmp_path / "part-2.jsonl").write_text("".join(lines[cut:]))
    second = ingest(tmp_path, logs)
    assert (second.responses, second.waiting) == (2, 0)
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    joined = trace_response(history, roots[1])
    assert joined is not None and joined.answer == ANSWERS[1] and len(joined.chunks) == 2


def test_a_trace_whose_root_never_comes_is_taken_as_it_is_after_the_wait(tmp_path, langchain_world):
    run, _, _ = langchain_world
    run()
    lines = (tmp_path / "spans.jsonl").read_text().splitlines(keepends=True)
    roots = set(_roots(tmp_path / "spans.jsonl"))
    keep = [x for x in lines if not any(not s.get("parentSpanId") for s in _spans(json.loads(x)))]
    (tmp_path / "norooots.jsonl").write_text("".join(keep))
    logs = settings(paths=["norooots.jsonl"], format="openinference", trace_wait_seconds=600)
    clock = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    first = ingest(tmp_path, logs, now=lambda: clock)
    assert (first.responses, first.waiting) == (0, 3)
    later = ingest(tmp_path, logs, now=lambda: clock + timedelta(seconds=601))
    assert (later.responses, later.expired, later.waiting) == (3, 3, 0)
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    for trace_id in roots:
        found = trace_response(history, trace_id)
        assert found is not None and found.labels.get("trace") == "incomplete"
        assert found.query in QUESTIONS and len(found.chunks) == 2


def test_genai_retrieval_spans_from_the_opentelemetry_sdk(tmp_path):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    with otlp_receiver(tmp_path / "genai.jsonl") as (_, url):
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
        tracer = provider.get_tracer("rag-app")
        trace_ids = []
        for n, question in enumerate(QUESTIONS):
            with tracer.start_as_current_span("handle question") as root:
                trace_ids.append(f"{root.get_span_context().trace_id:032x}")
                with tracer.start_as_current_span("retrieval docs") as span:
                    span.set_attribute("gen_ai.operation.name", "retrieval")
                    span.set_attribute("gen_ai.data_source.id", "docs")
                    span.set_attribute("gen_ai.retrieval.query.text", question)
                    span.set_attribute(
                        "gen_ai.retrieval.documents",
                        json.dumps(
                            [{"id": f"doc-{n}", "score": 0.9}, {"id": "doc-x", "score": 0.7}]
                        ),
                    )
                with tracer.start_as_current_span("chat gpt-x") as span:
                    span.set_attribute("gen_ai.operation.name", "chat")
                    span.set_attribute("gen_ai.request.model", "gpt-x")
                    span.set_attribute(
                        "gen_ai.output.messages",
                        json.dumps(
                            [
                                {
                                    "role": "assistant",
                                    "parts": [{"type": "text", "content": ANSWERS[n]}],
                                }
                            ]
                        ),
                    )
        provider.force_flush()
        provider.shutdown()
    report = ingest(tmp_path, settings(paths=["genai.jsonl"], format="genai"))
    assert (report.responses, sum(report.rejects.values())) == (3, 0)
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    for n, trace_id in enumerate(trace_ids):
        found = trace_response(history, trace_id)
        assert found is not None
        assert (found.query, found.answer) == (QUESTIONS[n], ANSWERS[n])
        assert [(c.chunk_id, c.score, c.score_kind) for c in found.chunks] == [
            (f"doc-{n}", 0.9, "similarity"),
            ("doc-x", 0.7, "similarity"),
        ]
        assert found.labels["gen_ai.request.model"] == "gpt-x"
