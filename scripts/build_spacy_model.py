"""Build a blank Indonesian spaCy pipeline with the lookup lemmatizer (spacy-lookups-data).

Rasa's SpacyNLP loads it from the folder given in config.yml. Nothing is
downloaded: the lemma table ships inside the spacy-lookups-data package.
"""

import sys
from pathlib import Path

import spacy


def main(target: str) -> None:
    nlp = spacy.blank("id")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    Path(target).mkdir(parents=True, exist_ok=True)
    nlp.to_disk(target)
    print(f"spaCy Indonesian pipeline written to {target}")


if __name__ == "__main__":
    main(sys.argv[1])
