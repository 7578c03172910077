# syntax=docker/dockerfile:1
# Multi-stage build: `--target rasa`, `--target actions`, `--target bot`.
# Not built here (no Docker engine on the development machines); kept correct by reading.

# ---- Rasa 3.6 (Python 3.10 only) --------------------------------------------
FROM python:3.10-slim-bookworm AS rasa-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/rasa.txt /tmp/rasa.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install 'pip<25' wheel \
 && /opt/venv/bin/pip install -r /tmp/rasa.txt

FROM rasa-deps AS rasa-train
WORKDIR /app
COPY config.yml domain.yml credentials.yml endpoints.yml ./
COPY nlu/ nlu/
COPY connectors/ connectors/
COPY data/nlu/ data/nlu/
COPY data/rules/ data/rules/
COPY data/stories/ data/stories/
# The console's retrain worker (nlu/retrain.py) scores models on the held-out sets.
COPY bench/__init__.py bench/overlap.py bench/scores.py bench/heldout*.yml bench/
ENV PYTHONPATH=/app TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false
RUN /opt/venv/bin/rasa train --fixed-model-name kawan-sehat --out models --quiet \
 && mkdir -p models/console

FROM python:3.10-slim-bookworm AS rasa
RUN useradd --create-home --uid 10001 kawan
COPY --from=rasa-deps /opt/venv /opt/venv
WORKDIR /app
COPY --from=rasa-train --chown=kawan /app /app
USER kawan
ENV PYTHONPATH=/app TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 HOME=/home/kawan
EXPOSE 5005
# Rasa's HTTP API (histories, tracker writes, PUT /model) is not enabled: it stays off.
# Our channel (connectors/chat_channel.py) needs RASA_TOKEN, its model route (the
# retrain worker and the console's rollback) RASA_API_TOKEN; the action server needs
# KS_ACTION_TOKEN (endpoints.yml). Listens on the internal network only (compose).
# It starts with the model the console last put in use (models/console, a volume),
# or the shipped one.
CMD ["sh", "-c", "exec /opt/venv/bin/rasa run -i 0.0.0.0 -p 5005 --model \"$(/opt/venv/bin/python -m nlu.retrain active-model)\" --credentials credentials.yml --endpoints endpoints.yml"]

# ---- Gateway and action server (Python 3.11) --------------------------------
FROM python:3.11-slim-bookworm AS app-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/app.txt /tmp/app.txt
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r /tmp/app.txt

FROM python:3.11-slim-bookworm AS app-base
RUN useradd --create-home --uid 10001 kawan
COPY --from=app-deps /opt/venv /opt/venv
WORKDIR /app
COPY --chown=kawan domain.yml ./
COPY --chown=kawan nlu/__init__.py nlu/normalize.py nlu/emergency.py nlu/
COPY --chown=kawan nlu/data/ nlu/data/
COPY --chown=kawan actions/ actions/
COPY --chown=kawan data/faq/ data/faq/
COPY --chown=kawan data/wilayah/ data/wilayah/
COPY --chown=kawan data/posyandu/ data/posyandu/
COPY --chown=kawan data/immunization/ data/immunization/
USER kawan
ENV PYTHONPATH=/app PATH=/opt/venv/bin:$PATH

FROM app-base AS actions
ENV SANIC_HOST=0.0.0.0
EXPOSE 5055
# Publishes the reviewed FAQ content and the shipped Posyandu directory to Redis
# (both idempotent), then serves the actions.
# actions.server refuses calls without KS_ACTION_TOKEN (Authorization: Bearer).
CMD ["sh", "-c", "python -m actions.content publish data/faq && python -m actions.posyandu.importer --quiet data/posyandu/buton_utara.csv && exec python -m actions.server --host 0.0.0.0 -p 5055"]

FROM app-base AS bot
COPY --chown=kawan bot/ bot/
# The console keeps promoters' training examples apart from the held-out sets.
COPY --chown=kawan bench/__init__.py bench/overlap.py bench/heldout*.yml bench/
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"
CMD ["python", "-m", "bot"]
