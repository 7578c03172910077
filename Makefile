# Kawan Sehat. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV_RASA := .venv/rasa
VENV_APP := .venv/app
RASA := $(VENV_RASA)/bin/rasa
RASA_PY := $(VENV_RASA)/bin/python
APP_PY := $(VENV_APP)/bin/python
MODEL := models/kawan-sehat.tar.gz
SPACY_MODEL := build/spacy-id
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 3
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

TRAINING_FILES := config.yml domain.yml $(wildcard data/nlu/*.yml data/rules/*.yml data/stories/*.yml) \
	$(filter-out nlu/retrain.py,$(wildcard nlu/*.py)) $(wildcard nlu/data/*.yml)

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: run
run: venvs $(MODEL) ## Create the environments, train if needed, start everything, print the web chat URL
	@[ -n "$${REDIS_URL:-}" ] || scripts/ensure-redis-server.sh
	$(APP_PY) -m scripts.stack

.PHONY: test
test: venvs lint typecheck test-unit test-nlu validate $(MODEL) test-stories test-e2e test-browser ## Every check CI runs
	@echo "make test: all checks passed"

venvs: $(VENV_RASA)/.installed $(VENV_APP)/.installed ## Create both environments

$(VENV_RASA)/.installed: requirements/rasa.txt
	rm -rf $(VENV_RASA)
	"$$(scripts/find-python.sh 3.10)" -m venv $(VENV_RASA)
	$(RASA_PY) -m pip install -q 'pip<25' wheel
	$(RASA_PY) -m pip install -q -r requirements/rasa.txt
	touch $@

$(VENV_APP)/.installed: requirements/app.txt
	rm -rf $(VENV_APP)
	"$$(scripts/find-python.sh 3.11)" -m venv $(VENV_APP)
	$(APP_PY) -m pip install -q -U pip
	$(APP_PY) -m pip install -q -r requirements/app.txt
	touch $@

$(SPACY_MODEL)/meta.json: $(VENV_RASA)/.installed scripts/build_spacy_model.py
	$(RASA_PY) scripts/build_spacy_model.py $(SPACY_MODEL)

$(MODEL): $(VENV_RASA)/.installed $(TRAINING_FILES)
	$(RASA) train --fixed-model-name kawan-sehat --out models --quiet

.PHONY: console-admin
console-admin: $(VENV_APP)/.installed ## Create a console admin: make console-admin NAME=<name> (asks for the password)
	@[ -n "$(NAME)" ] || { echo "Usage: make console-admin NAME=<name>" >&2; exit 2; }
	@set -a; if [ -z "$${REDIS_URL:-}" ]; then \
		[ -f build/run.env ] || { echo "Start the assistant first (make run), or set REDIS_URL." >&2; exit 2; }; \
		. build/run.env; fi; set +a; \
	$(APP_PY) -m bot.console create-admin "$(NAME)"

.PHONY: train
train: $(MODEL) ## Train the Rasa model if the training data changed

.PHONY: lint
lint: $(VENV_APP)/.installed ## ruff lint and format check
	$(VENV_APP)/bin/ruff check .
	$(VENV_APP)/bin/ruff format --check .

.PHONY: format
format: $(VENV_APP)/.installed ## Format the code
	$(VENV_APP)/bin/ruff format .
	$(VENV_APP)/bin/ruff check --fix .

.PHONY: typecheck
typecheck: $(VENV_APP)/.installed ## mypy on bot/ and actions/
	$(VENV_APP)/bin/mypy bot actions

.PHONY: test-unit
test-unit: $(VENV_APP)/.installed ## Unit, action and gateway tests (real Redis, fake Rasa)
	TEST_REDIS_URL=$$(scripts/test-redis.sh $(APP_PY)) $(APP_PY) -m pytest tests/unit tests/actions tests/gateway tests/posyandu tests/channels tests/reminders_store tests/datarights tests/reminders tests/cadre tests/console

.PHONY: test-nlu
test-nlu: $(VENV_RASA)/.installed $(VENV_APP)/.installed ## NLU components and the tracker store (in the Rasa environment, real Redis)
	TEST_REDIS_URL=$$(scripts/test-redis.sh $(APP_PY)) $(RASA_PY) -m pytest -p no:cacheprovider -W ignore::pytest.PytestConfigWarning tests/nlu

.PHONY: validate
validate: $(VENV_RASA)/.installed $(VENV_APP)/.installed ## rasa data validate, FAQ content check
	$(RASA) data validate --fail-on-warnings --quiet
	$(APP_PY) -m actions.content check data/faq

.PHONY: test-stories
test-stories: $(MODEL) ## Rasa test stories (real Indonesian text) against the trained model
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml \
		--fail-on-prediction-errors --e2e --out build/results --quiet

.PHONY: test-e2e
test-e2e: $(MODEL) $(VENV_APP)/.installed ## The whole stack: Rasa 3.6 + rasa-sdk action server + gateway
	TEST_REDIS_URL=$$(scripts/test-redis.sh $(APP_PY)) $(APP_PY) -m pytest tests/e2e

.PHONY: test-browser
test-browser: $(MODEL) $(VENV_APP)/.installed ## The console in Debian's chromium (Playwright) against the whole stack
	CHROMIUM=$$(scripts/ensure-chromium.sh) TEST_REDIS_URL=$$(scripts/test-redis.sh $(APP_PY)) $(APP_PY) -m pytest tests/browser

.PHONY: bench-nlu
bench-nlu: venvs $(MODEL) ## Held-out NLU accuracy and chat API latency (bench/heldout.yml)
	$(APP_PY) -m bench.nlu

.PHONY: bench-conversation
bench-conversation: venvs $(MODEL) ## One user, 500 turns: latency at the start and at the end, beside plain Rasa
	$(APP_PY) -m bench.conversation

.PHONY: bench-posyandu
bench-posyandu: $(VENV_APP)/.installed ## National-scale Posyandu import, name and location lookup, Redis memory
	$(APP_PY) -m bench.posyandu

.PHONY: bench-reminders
bench-reminders: $(VENV_APP)/.installed ## 1,000,000 planned sends: enqueue time, send rate vs limit, kill -9, memory
	$(APP_PY) -m bench.reminders

.PHONY: bench-channels
bench-channels: venvs $(MODEL) ## Telegram/WhatsApp webhook-in to reply-out: gateway alone and the full stack
	$(APP_PY) -m bench.channels

.PHONY: bench-emergency
bench-emergency: $(VENV_APP)/.installed ## Danger-sign rules alone: recall and precision on the held-out and sealed sets
	$(APP_PY) -m bench.emergency

.PHONY: bench-focus
bench-focus: venvs ## Long questions: NLU scored per focus mode (off/strip/question) on both held-out sets
	bench/focus.sh

.PHONY: bench-tokenizers
bench-tokenizers: venvs $(SPACY_MODEL)/meta.json ## spaCy tokenizer+lemmas vs whitespace tokenizer on the held-out set
	bench/tokenizers.sh

.PHONY: lock
lock: ## Re-pin both environments from requirements/*.in
	rm -rf build/lock && mkdir -p build/lock
	"$$(scripts/find-python.sh 3.10)" -m venv build/lock/rasa && build/lock/rasa/bin/pip install -q 'pip<25' && build/lock/rasa/bin/pip install -q -r requirements/rasa.in
	"$$(scripts/find-python.sh 3.11)" -m venv build/lock/app && build/lock/app/bin/pip install -q -r requirements/app.in
	(echo "# Full pinned set for the Rasa environment (python3.10). Regenerate: make lock"; build/lock/rasa/bin/pip freeze) > requirements/rasa.txt
	(echo "# Full pinned set for the gateway/action environment (python3.11). Regenerate: make lock"; build/lock/app/bin/pip freeze) > requirements/app.txt

.PHONY: clean
clean: ## Remove environments, models and build output
	rm -rf .venv models build .rasa results
