#!/usr/bin/env bash
# Long, polite questions: does cutting a message down to what it asks help?
# Trains the NLU pipeline once per focus mode of the SlangNormalizer (nlu/focus.py:
# off, strip, question) and scores each with `rasa test nlu` on the short held-out
# set (bench/heldout.yml) and the long one (bench/heldout_long.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench/focus
modes=${FOCUS_MODES:-off strip question}
mkdir -p "$out"
for mode in $modes; do
  sed -e "s|^    focus: .*|    focus: \"$mode\"|" config.yml > "$out/config-$mode.yml"
  grep -q "focus: \"$mode\"" "$out/config-$mode.yml"
  .venv/rasa/bin/rasa train nlu -c "$out/config-$mode.yml" --out "$out" \
    --fixed-model-name "nlu-$mode" --quiet
  for set in heldout heldout_long; do
    .venv/rasa/bin/rasa test nlu --nlu "bench/$set.yml" --model "$out/nlu-$mode.tar.gz" \
      --out "$out/$mode-$set" --quiet
  done
done
for mode in $modes; do
  .venv/app/bin/python -c "
import json
line = []
for s in ('heldout', 'heldout_long'):
    r = json.load(open('$out/$mode-' + s + '/intent_report.json'))
    line.append(f\"{s}: accuracy {r['accuracy']:.3f}, macro-F1 {r['macro avg']['f1-score']:.3f}\")
print('$mode'.ljust(9), ' | '.join(line))"
done
