"""The retrain worker (nlu/retrain.py): gate, examples file, progress, job life cycle.

Real Redis and a real HTTP server in Rasa's place for PUT /model. Training and
evaluation themselves are slow (minutes); tests/browser/test_retrain.py runs them
for real. Here they are replaced where noted, to check what the worker does with
their outcome.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Dict, Iterator, List, Tuple

import pytest
import redis
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from nlu.retrain import (
    Figures,
    Keys,
    Trainer,
    active_model,
    epoch_progress,
    examples_yaml,
    gate,
    heldout,
    score,
)

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def figures(f1: float, recall: float = 1.0, total: int = 40) -> Figures:
    return Figures("m.tar.gz", f1, recall, total, 1000)


def test_gate_accepts_a_model_at_most_001_worse_with_every_danger_sign() -> None:
    assert gate(figures(0.920), figures(0.911)) is None
    assert gate(figures(0.920), figures(0.910)) is None
    assert gate(figures(0.920), figures(0.950)) is None


def test_gate_refuses_a_worse_model_and_says_by_how_much() -> None:
    reason = gate(figures(0.920), figures(0.905))
    assert reason is not None
    assert "turun dari 0,920 ke 0,905" in reason


def test_gate_refuses_a_model_that_misses_a_danger_sign_even_if_better() -> None:
    reason = gate(figures(0.920), figures(0.990, recall=39 / 40))
    assert reason is not None
    assert "1 dari 40 kalimat tanda bahaya" in reason


def test_score_counts_emergency_recall_and_macro_f1() -> None:
    pairs = [("emergency", "emergency"), ("emergency", "nlu_fallback"), ("a", "a"), ("b", "a")]
    result = score("x", pairs)
    assert result.emergency_recall == 0.5
    assert result.emergency_total == 2
    assert result.n == 4
    assert 0 < result.macro_f1 < 1


def test_the_heldout_sets_are_read_and_hold_emergencies() -> None:
    examples = heldout()
    assert len(examples) >= 600
    assert sum(1 for _, intent in examples if intent == "emergency") >= 40


def test_examples_file_is_valid_rasa_data_and_keeps_brackets_from_becoming_entities() -> None:
    text = examples_yaml(
        [
            ("balita.stunting", "anak saya [2 thn](umur) susah makan"),
            ("balita.stunting", "menu  mpasi\tbayi 6 bulan"),
            ("greet", "halo kak"),
        ]
    )
    data = RasaYAMLReader().reads(text)
    by_text = {m.get("text"): m.get("intent") for m in data.intent_examples}
    assert by_text == {
        "anak saya (2 thn)(umur) susah makan": "balita.stunting",
        "menu mpasi bayi 6 bulan": "balita.stunting",
        "halo kak": "greet",
    }
    assert not data.entity_examples


def test_epoch_progress_reads_dieTs_progress_bar() -> None:
    bar = (
        "\rEpochs:   0%|          | 0/20 [00:00<?, ?it/s]"
        "\rEpochs:  45%|####5     | 9/20 [00:31<00:38, 3.5s/it, t_loss=1.2, i_acc=0.9]"
    )
    assert epoch_progress(bar) == (9, 20)
    assert epoch_progress("Training NLU model...") is None


# -- the job life cycle (real Redis) ----------------------------------------------


class FakeRasa(http.server.BaseHTTPRequestHandler):
    """Rasa's model route (connectors/chat_channel.py): 204 with the token, 401 otherwise."""

    calls: ClassVar[List[Tuple[str, Dict[str, Any]]]] = []
    status = 204

    def do_PUT(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeRasa.calls.append((self.path, body))
        authorized = self.headers.get("Authorization") == "Bearer secret"
        self.send_response(FakeRasa.status if authorized else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def rasa() -> Iterator[str]:
    FakeRasa.calls = []
    FakeRasa.status = 204
    server = http.server.HTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def client() -> Iterator[redis.Redis[bytes]]:
    connection = redis.Redis.from_url(TEST_REDIS_URL)
    prefix = f"kstest{uuid.uuid4().hex[:10]}:"
    connection.test_prefix = prefix  # type: ignore[attr-defined]
    yield connection
    keys = list(connection.scan_iter(match=f"{prefix}*"))
    if keys:
        connection.delete(*keys)


class StubbedTrainer(Trainer):
    """Training and evaluation replaced by files and figures chosen by the test."""

    def __init__(self, *args: Any, scores: Dict[str, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scores = scores
        self.trained: List[Path] = []
        self.examples_seen: List[str] = []

    def train(self, job_id: str, current: Path, extra: Path, name: str) -> Path:
        self.examples_seen.append(extra.read_text(encoding="utf-8"))
        model = self.models_dir / f"{name}.tar.gz"
        model.write_bytes(b"candidate")
        self.trained.append(model)
        return model

    def evaluate(self, model: Path) -> Figures:
        kind = "candidate" if model.name.startswith("console-") else "base"
        return Figures(
            model.name, self.scores[kind], self.scores.get(kind + "_recall", 1.0), 40, 1000
        )


def make_trainer(client: Any, rasa: str, tmp_path: Path, **scores: float) -> StubbedTrainer:
    base = tmp_path / "kawan-sehat.tar.gz"
    base.write_bytes(b"base")
    os.utime(base, (1, 1))  # older than anything the console trains
    return StubbedTrainer(
        client,
        client.test_prefix,
        rasa_url=rasa,
        rasa_token="secret",
        base_model=base,
        models_dir=tmp_path / "console",
        scores=scores,
    )


def queue_job(client: Any, examples: List[List[str]], actor: str = "promotor") -> str:
    keys = Keys(client.test_prefix)
    job_id = uuid.uuid4().hex
    client.hset(
        keys.job(job_id),
        mapping={
            "id": job_id,
            "actor": actor,
            "status": "antri",
            "progress": "0",
            "stage": "Menunggu giliran",
            "examples": json.dumps(examples),
            "dropped": "[]",
        },
    )
    client.set(keys.current, job_id)
    client.lpush(keys.queue, job_id)
    return job_id


def job(client: Any, job_id: str) -> Dict[str, str]:
    raw = client.hgetall(Keys(client.test_prefix).job(job_id))
    return {k.decode(): v.decode() for k, v in raw.items()}


def test_an_accepted_model_is_loaded_into_rasa_and_the_old_one_kept_for_rollback(
    client: Any, rasa: str, tmp_path: Path
) -> None:
    trainer = make_trainer(client, rasa, tmp_path, base=0.920, candidate=0.915)
    keys = Keys(client.test_prefix)
    job_id = queue_job(client, [["balita.stunting", "anak susah makan sayur gimana ya"]])
    trainer.run(client.brpop([keys.queue], timeout=1)[1].decode())

    state = job(client, job_id)
    assert state["status"] == "diterima"
    assert json.loads(state["candidate"])["macro_f1"] == 0.915
    assert json.loads(state["current"])["macro_f1"] == 0.920
    model = trainer.trained[0]
    assert FakeRasa.calls == [("/webhooks/gateway/model", {"model_file": str(model.resolve())})]
    assert client.hget(keys.active, "path").decode() == str(model.resolve())
    history = [json.loads(x) for x in client.lrange(keys.history, 0, -1)]
    assert history[0]["path"] == str(trainer.base_model.resolve())
    assert "bawaan" in history[0]["name"]
    assert client.get(keys.current) is None  # the next retrain may start
    assert active_model(client, keys, trainer.base_model) == model.resolve()
    assert "anak susah makan sayur gimana ya" in trainer.examples_seen[0]


def test_a_worse_model_is_refused_deleted_and_rasa_untouched(
    client: Any, rasa: str, tmp_path: Path
) -> None:
    trainer = make_trainer(client, rasa, tmp_path, base=0.920, candidate=0.850)
    keys = Keys(client.test_prefix)
    job_id = queue_job(client, [["greet", "selamat pagi semuanya"]])
    trainer.run(client.brpop([keys.queue], timeout=1)[1].decode())

    state = job(client, job_id)
    assert state["status"] == "ditolak"
    assert "turun dari 0,920 ke 0,850" in state["reason"]
    assert "Model lama tetap dipakai" in state["reason"]
    assert FakeRasa.calls == []
    assert not trainer.trained[0].exists()
    assert client.hget(keys.active, "path") is None
    assert active_model(client, keys, trainer.base_model) == trainer.base_model
    assert client.get(keys.current) is None


def test_unknown_intents_are_left_out_and_said_so(client: Any, rasa: str, tmp_path: Path) -> None:
    trainer = make_trainer(client, rasa, tmp_path, base=0.9, candidate=0.9)
    keys = Keys(client.test_prefix)
    job_id = queue_job(client, [["no_such_intent", "apa saja"], ["greet", "pagi kak"]])
    trainer.run(client.brpop([keys.queue], timeout=1)[1].decode())
    state = job(client, job_id)
    assert json.loads(state["dropped"]) == [
        {"intent": "no_such_intent", "text": "apa saja", "reason": "maksud tidak ada"}
    ]
    assert state["used"] == "1"
    assert "no_such_intent" not in trainer.examples_seen[0]


def test_rasa_refusing_the_model_fails_the_job_and_keeps_the_old_model(
    client: Any, rasa: str, tmp_path: Path
) -> None:
    FakeRasa.status = 500
    trainer = make_trainer(client, rasa, tmp_path, base=0.9, candidate=0.95)
    keys = Keys(client.test_prefix)
    job_id = queue_job(client, [["greet", "pagi kak"]])
    trainer.run(client.brpop([keys.queue], timeout=1)[1].decode())
    state = job(client, job_id)
    assert state["status"] == "gagal"
    assert "Model lama tetap dipakai" in state["reason"]
    assert client.hget(keys.active, "path") is None
    assert client.get(keys.current) is None


def test_a_job_cut_off_by_a_restart_is_queued_again(client: Any, rasa: str, tmp_path: Path) -> None:
    trainer = make_trainer(client, rasa, tmp_path, base=0.9, candidate=0.9)
    keys = Keys(client.test_prefix)
    job_id = queue_job(client, [["greet", "pagi kak"]])
    client.brpop([keys.queue], timeout=1)  # taken by a worker that then died
    client.hset(keys.job(job_id), "status", "melatih")
    trainer.recover()
    assert client.lrange(keys.queue, 0, -1) == [job_id.encode()]
    assert job(client, job_id)["status"] == "antri"
    trainer.recover()  # already queued: not twice
    assert client.llen(keys.queue) == 1


def test_the_figures_of_a_model_are_remembered(client: Any, rasa: str, tmp_path: Path) -> None:
    trainer = make_trainer(client, rasa, tmp_path, base=0.9, candidate=0.9)
    first = trainer.figures(trainer.base_model)
    trainer.scores["base"] = 0.1  # a second evaluation would say so
    assert trainer.figures(trainer.base_model) == first
    assert asdict(first)["macro_f1"] == 0.9
