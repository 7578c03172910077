"""The held-out sets measure what the README says they measure."""

import yaml

from bench.emergency import SETS as EMERGENCY_SETS
from bench.overlap import (
    HELDOUT_FILES,
    NEAR_DUPLICATE,
    ROOT,
    Example,
    canonical,
    collisions,
    heldout_examples,
    read_examples,
    sentence_count,
    training_examples,
)

SHORT, LONG, BORDER, SEALED, SEALED2 = HELDOUT_FILES


def test_no_heldout_utterance_was_trained_on() -> None:
    found = collisions(heldout_examples(), training_examples())
    shown = [f"{c.score:.0f}: {c.heldout.text!r} ~ {c.training.text!r}" for c in found[:20]]
    assert not found, f"{len(found)} held-out utterances are in data/nlu:\n" + "\n".join(shown)


def test_no_sealed_emergency_line_was_trained_on() -> None:
    paths = [path for name, files in EMERGENCY_SETS.items() if name != "held-out" for path in files]
    sealed = [e for path in paths for e in read_examples(path)]
    assert len(sealed) >= 240
    found = collisions(sealed, training_examples())
    assert not found, [f"{c.heldout.text!r} ~ {c.training.text!r}" for c in found[:20]]


def test_the_overlap_check_catches_exact_and_near_copies() -> None:
    training = [Example("Jadwal imunisasi BCG kapan ya?", "imunisasi.jadwal", "t")]
    heldout = [
        Example("jadwal  imunisasi bcg kapan ya", "imunisasi.jadwal", "h"),
        Example("jadwal imunisasi bcg kapan ya min", "imunisasi.jadwal", "h"),
        Example("anak sy demam abis disuntik", "imunisasi.kipi", "h"),
    ]
    found = collisions(heldout, training)
    assert [c.heldout.text for c in found] == [heldout[0].text, heldout[1].text]
    assert found[1].score >= NEAR_DUPLICATE
    assert canonical("[lambale](desa) Kapan?") == "lambale kapan"


def test_no_line_appears_twice_in_the_heldout_sets() -> None:
    keys = [canonical(e.text) for e in heldout_examples()]
    repeated = {k for k in keys if keys.count(k) > 1}
    assert not repeated


def test_heldout_sets_are_large_and_varied_enough() -> None:
    everything = heldout_examples()
    long = read_examples(LONG)
    by_intent: dict[str, int] = {}
    for example in everything:
        by_intent[example.intent] = by_intent.get(example.intent, 0) + 1
    assert len(everything) >= 600
    assert len(long) >= 100
    assert all(sentence_count(e.text) >= 3 for e in long), [
        e.text for e in long if sentence_count(e.text) < 3
    ]
    assert by_intent.get("out_of_scope_health", 0) >= 100
    assert by_intent.get("out_of_scope", 0) >= 60
    assert by_intent.get("emergency", 0) >= 40


def test_every_heldout_label_is_an_intent_of_the_domain() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    labels = {e.intent for e in heldout_examples()}
    assert labels <= set(domain["intents"]), labels - set(domain["intents"])
    for path in (SHORT, LONG, BORDER, SEALED, SEALED2):
        assert path.exists(), path
