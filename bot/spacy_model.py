"""Build the small English spaCy pipeline the NLU uses, from PyPI packages only.

No pretrained spaCy model can be downloaded here (and none for spaCy 3.4 is on PyPI), so the
project builds its own: spaCy's blank English tokenizer plus a lookup lemmatizer whose tables
come from the `spacy-lookups-data` package. Lemmas let "hurts", "hurting" and "hurt" share
features. It has no word vectors, so config.yml uses no SpacyFeaturizer.

    python -m bot.spacy_model [PATH]      # default: var/spacy/en_knee_lookup
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = REPO_ROOT / "var" / "spacy" / "en_knee_lookup"


def build(path: Path = DEFAULT_PATH) -> Path:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lemma tables from spacy-lookups-data
    nlp.meta["name"] = "en_knee_lookup"
    nlp.meta["description"] = "Blank English tokenizer with lookup lemmas, built by the project"
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)
    return path


def ensure(path: Path = DEFAULT_PATH) -> Path:
    """Build the pipeline once; later calls find it on disk."""
    if not (path / "meta.json").exists():
        build(path)
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    print(build(target))
