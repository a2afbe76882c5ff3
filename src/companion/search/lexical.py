"""BM25 lexical search (bm25s) with English stemming and stopwords, saved to and loaded from a directory."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

# bm25s sets its logger to DEBUG when imported, so its progress notes reached every server's log.
logging.getLogger("bm25s").setLevel(logging.WARNING)

IDS_FILE = "ids.json"
# bm25s.tokenize's defaults (scikit-learn's CountVectorizer pattern, NLTK's English stopwords), applied
# here directly: bm25s.tokenize builds a stopword set and progress bars per call, which costs more than
# the tokenizing itself for the short texts of queries and snippets.
WORDS = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)
# Words stemmed so far (a word's stem never changes); emptied when full rather than evicted one by one.
STEM_CACHE_SIZE = 50_000
_STEMS: dict[str, str] = {}
# A PyStemmer object is not safe to share between threads (searches run in worker threads).
_STEMMERS = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    stemmer: Stemmer.Stemmer | None = getattr(_STEMMERS, "stemmer", None)
    if stemmer is None:
        stemmer = _STEMMERS.stemmer = Stemmer.Stemmer("english")
    return stemmer


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-case, split, drop English stopwords and stem; the same for passages and queries."""
    split = [[word for word in WORDS.findall(text.lower()) if word not in _STOPWORDS] for text in texts]
    stems = stem_words({word for words in split for word in words})
    return [[stems[word] for word in words] for words in split]


def split_words(text: str) -> list[str]:
    """The words `tokenize` finds in an already lower-cased text, stopwords included, in order."""
    return WORDS.findall(text)


def stem_words(words: Collection[str]) -> dict[str, str]:
    """The stem of each of these lower-case words that is not a stopword."""
    # Each distinct word is stemmed once (as bm25s does), and stems are remembered: snippets stem every
    # word of each hit, and a course's vocabulary is small.
    stems: dict[str, str] = {}
    missing: list[str] = []
    for word in set(words) - _STOPWORDS:
        stem = _STEMS.get(word)
        if stem is None:
            missing.append(word)
        else:
            stems[word] = stem
    if missing:
        found = dict(zip(missing, _stemmer().stemWords(missing), strict=True))
        stems.update(found)
        if len(_STEMS) + len(found) > STEM_CACHE_SIZE:
            _STEMS.clear()
        _STEMS.update(found)
    return stems


class LexicalIndex:
    """A BM25 index over passages identified by string ids."""

    def __init__(self, ids: Sequence[str], retriever: bm25s.BM25 | None) -> None:
        self.ids = list(ids)
        self._positions = {passage_id: position for position, passage_id in enumerate(self.ids)}
        # bm25s cannot index an empty corpus, so an empty index has no retriever.
        self._retriever = retriever

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        """Index `texts`, each known by the id at the same position."""
        if len(ids) != len(texts):
            raise ValueError("ids and texts must have the same length")
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        if not ids:
            return cls([], None)
        retriever = bm25s.BM25()
        retriever.index(tokenize(texts), show_progress=False)
        return cls(ids, retriever)

    def save(self, directory: Path) -> None:
        """Write the index to `directory`, replacing its contents (not atomic: see HybridIndex)."""
        directory = Path(directory)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        if self._retriever is not None:
            self._retriever.save(str(directory), show_progress=False)
        (directory / IDS_FILE).write_text(json.dumps(self.ids))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read an index written by `save`."""
        directory = Path(directory)
        ids: list[str] = json.loads((directory / IDS_FILE).read_text())
        if not ids:
            return cls([], None)
        retriever = bm25s.BM25.load(str(directory), show_progress=False)
        return cls(ids, retriever)

    def __len__(self) -> int:
        return len(self.ids)

    def document_frequency(self) -> dict[str, int]:
        """In how many passages each indexed (stemmed) term occurs."""
        if self._retriever is None:
            return {}
        # bm25s keeps one sparse column of scores per term: its length is the term's document count.
        counts = np.diff(self._retriever.scores["indptr"])
        return {
            token: int(counts[token_id])
            for token, token_id in self._retriever.vocab_dict.items()
            if token and token_id < len(counts)
        }

    def mask(self, allowed: Collection[str]) -> np.ndarray:
        """A boolean mask over the indexed passages, true for the ids in `allowed`."""
        mask = np.zeros(len(self.ids), dtype=bool)
        positions = [self._positions[passage_id] for passage_id in allowed if passage_id in self._positions]
        mask[positions] = True
        return mask

    def search(
        self, query: str, k: int, *, allowed: np.ndarray | Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The best `k` passages for `query` as (id, score), best first; only `allowed` ones when given.

        `allowed` is a boolean mask aligned with `ids` or a collection of ids. Passages sharing no term
        with the query are never returned.
        """
        if self._retriever is None or k <= 0:
            return []
        vocabulary = self._retriever.vocab_dict
        query_tokens = [token for token in tokenize([query])[0] if token in vocabulary]
        if not query_tokens:
            return []
        weight_mask = None
        if allowed is not None:
            mask = allowed if isinstance(allowed, np.ndarray) else self.mask(allowed)
            if not mask.any():
                return []
            weight_mask = mask.astype(np.float32)
        # `BM25.retrieve` costs 0.5 ms a query on a book, mostly a partition of all scores around the
        # k-th largest, slow when most are zero; only the passages sharing a term with the query (the
        # others score zero, as do masked-out ones) are ranked here, in 0.1 ms.
        scores = self._retriever.get_scores(query_tokens, weight_mask=weight_mask)
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:
            matching = matching[np.argpartition(-scores[matching], k - 1)[:k]]
        # Best first; equal scores in passage order.
        best = matching[np.lexsort((matching, -scores[matching]))]
        return list(
            zip([self.ids[position] for position in best.tolist()], scores[best].tolist(), strict=True)
        )
