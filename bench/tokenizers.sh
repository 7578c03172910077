#!/usr/bin/env bash
# Does spaCy's Indonesian data help? Train the NLU pipeline twice, with the
# WhitespaceTokenizer of config.yml and with spaCy's tokenizer + lookup
# lemmatizer (build/spacy-id) in its place, and score both on the held-out set
# with `rasa test nlu`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench/tokenizers
mkdir -p "$out"
sed -e 's|- name: WhitespaceTokenizer|- name: SpacyNLP\n    model: build/spacy-id\n  - name: SpacyTokenizer|' \
  config.yml > "$out/config-spacy.yml"
for variant in spacy whitespace; do
  config=config.yml
  [ "$variant" = spacy ] && config="$out/config-spacy.yml"
  .venv/rasa/bin/rasa train nlu -c "$config" --out "$out" --fixed-model-name "nlu-$variant" --quiet
  .venv/rasa/bin/rasa test nlu --nlu bench/heldout.yml --model "$out/nlu-$variant.tar.gz" \
    --out "$out/$variant" --quiet
done
for variant in spacy whitespace; do
  .venv/app/bin/python -c "
import json, sys
r = json.load(open('$out/$variant/intent_report.json'))
print(f\"$variant: accuracy {r['accuracy']:.3f}, macro-F1 {r['macro avg']['f1-score']:.3f}\")"
done
