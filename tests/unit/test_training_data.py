"""The public contract (../shared/spec/topics.md) is covered by data, rules and content."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOPICS_MD = ROOT.parent / "shared" / "spec" / "topics.md"
MIN_EXAMPLES = 20


def contract() -> tuple[set[str], set[str]]:
    text = TOPICS_MD.read_text(encoding="utf-8")
    faq = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, re.MULTILINE))
    dialogue = set(re.findall(r"^\| `([a-z_]+)` \|", text, re.MULTILINE))
    return faq, dialogue


def examples_per_intent() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" in item:
                lines = [
                    line.strip()[2:]
                    for line in item["examples"].splitlines()
                    if line.strip().startswith("- ")
                ]
                found.setdefault(item["intent"], []).extend(lines)
    return found


def test_contract_is_read() -> None:
    faq, dialogue = contract()
    assert len(faq) >= 30 and "greet" in dialogue and "emergency" in dialogue


def test_every_topic_and_intent_has_enough_examples() -> None:
    faq, dialogue = contract()
    examples = examples_per_intent()
    text_intents = (faq | dialogue) - {"share_location", "nlu_fallback"}
    short = {
        i: len(examples.get(i, [])) for i in text_intents if len(examples.get(i, [])) < MIN_EXAMPLES
    }
    assert not short, f"intents with fewer than {MIN_EXAMPLES} examples: {short}"


def test_no_example_is_labelled_twice() -> None:
    seen: dict[str, str] = {}
    clashes = []
    for intent, lines in examples_per_intent().items():
        for line in lines:
            key = line.lower()
            if key in seen and seen[key] != intent:
                clashes.append((line, seen[key], intent))
            seen[key] = intent
    assert not clashes


def test_every_faq_topic_has_content_a_rule_and_a_domain_intent() -> None:
    faq, _ = contract()
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    rules = yaml.safe_load((ROOT / "data" / "rules" / "faq.yml").read_text(encoding="utf-8"))
    ruled = {
        step["intent"] for rule in rules["rules"] for step in rule["steps"] if "intent" in step
    }
    content = {path.stem for path in (ROOT / "data" / "faq").glob("*.yml")}
    assert faq <= set(domain["intents"])
    assert faq <= ruled
    assert faq <= content, f"missing content: {sorted(faq - content)}"


def test_responses_used_by_actions_exist_in_the_domain() -> None:
    from actions import constants

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    used = {value for name, value in vars(constants).items() if name.startswith("RESPONSE_")}
    assert used and used <= set(domain["responses"])


def test_region_lookup_tables_match_the_region_data() -> None:
    from actions.posyandu.regions import Regions
    from scripts.lookup_tables import TARGET, render

    assert TARGET.read_text(encoding="utf-8") == render(Regions()), (
        "run `python -m scripts.lookup_tables`"
    )
