"""Adding articles to a live store: the pipeline, fed documents instead of input paths.

``DocumentPipeline.add_documents(docs)`` runs exactly the stages ``Pipeline.run`` runs (whatever
they become), with its ingest stage reading the given :class:`RawDocument` list: clean, store, embed,
cluster, dedup, synthesize. Each stage only does what is missing, so a batch costs its own articles
plus the re-synthesis of the events they join.
"""

from __future__ import annotations

from typing import Sequence

from storyline.clean import clean_document
from storyline.pipeline import Pipeline, RunSummary
from storyline.records import Problem, RawDocument


class DocumentPipeline(Pipeline):
    _docs: list[RawDocument] | None = None

    def add_documents(self, docs: list[RawDocument]) -> RunSummary:
        self.summary = RunSummary()
        self._docs = list(docs)
        try:
            return self.run([])
        finally:
            self._docs = None

    def ingest(self, inputs: Sequence[str]) -> None:
        if self._docs is None:
            return super().ingest(inputs)
        batch = []
        seen: set[str] = set()
        for doc in self._docs:
            self.summary.read += 1
            article = clean_document(doc, self.config.clean)
            if isinstance(article, Problem):
                self.summary.problems.append(article)
            elif article.id in seen:
                self.summary.problems.append(Problem(doc.origin, f"duplicate id {article.id!r} in this batch"))
            else:
                seen.add(article.id)
                batch.append(article)
        for result in self.store.add_articles(batch):
            setattr(self.summary, result, getattr(self.summary, result) + 1)
        self.store.log_problems(self.summary.problems)
