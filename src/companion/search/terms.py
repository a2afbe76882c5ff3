"""Query terms, shared with BM25: the stemmed terms of a query, and those that say what it is about.

Every term comes from `lexical.tokenize`, the tokenizer the BM25 index is built with, so a term that
is highlighted or counted as covered is exactly a term BM25 matches.
"""

from __future__ import annotations

from companion.search.lexical import tokenize

# Words that shape a question without saying what it is about ("how does X work?").
_QUESTION_WORDS = (
    "what how why when where which who whom whose does do did can could should would will i me my you"
    " your we our us explain explained mean means meaning tell about difference different between use"
    " using used work works example examples please is are was were get make give show describe"
    " define definition thing things good best way ways happen need want know much many affect"
    " effect impact important matter really exactly simple simply words course chapter section"
    " this that it these those here there part passage paragraph sentence text again more detail details"
    " elaborate clarify rephrase simplify simpler easier summarize summarise summary understand confused"
)


def query_terms(text: str) -> set[str]:
    """The stemmed terms of a text that can match a passage (stopwords dropped)."""
    return set(tokenize([text])[0])


QUESTION_TERMS = frozenset(query_terms(_QUESTION_WORDS))


def content_terms(text: str) -> set[str]:
    """The stemmed terms of a question that say what it is about (no "how", "explain", "what is")."""
    return query_terms(text) - QUESTION_TERMS


def highlight_terms(query: str) -> set[str]:
    """The terms to highlight: the query's content terms, or all its terms when it has none."""
    return content_terms(query) or query_terms(query)
