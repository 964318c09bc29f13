"""Adding articles to a live store: the pipeline, fed documents instead of input paths.

``DocumentPipeline.add_documents(docs)`` runs exactly the stages ``Pipeline.run`` runs (whatever
they become), with its ingest stage reading the given :class:`RawDocument` list: clean, store, embed,
cluster, dedup, synthesize. Each stage only does what is missing, so a batch costs its own articles
plus the re-synthesis of the events they join.
"""

from __future__ import annotations

from typing import Sequence

from storyline.pipeline import Pipeline, RunSummary
from storyline.records import RawDocument


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
        self.ingest_documents(self._docs)
