"""Retrain from the console (issue 10): the trainer worker, in the Rasa environment.

A promoter presses "latih ulang" in the console (bot/console/retrain.py), which
queues a job in Redis with the training examples promoters added from the
unanswered inbox. This worker takes one job at a time:

1. writes the examples as an extra NLU file beside `data/` (intents the domain
   does not know are left out, and said so);
2. trains a candidate with `rasa train --finetune <model in use>` for a fraction
   of the configured epochs (KS_RETRAIN_EPOCH_FRACTION), so the candidate is the
   model in use plus the new examples, in a fraction of a full training; if Rasa
   refuses to finetune (the configuration changed since), it trains from scratch;
3. evaluates the model in use and the candidate on the held-out sets
   (bench/heldout*.yml, never trained on) through the whole NLU pipeline,
   emergency rules included;
4. the gate: the candidate replaces the model in use only if its macro-F1 is at
   most 0.01 below, and it still recognises every danger sign of the held-out
   sets (emergency recall 1.0). Otherwise the job is "ditolak" with the reason;
5. loads an accepted candidate into the running Rasa (`PUT
   /webhooks/gateway/model`, behind RASA_API_TOKEN, connectors/chat_channel.py):
   the new agent loads in a thread beside the old one, which keeps answering, and
   takes over when ready. The model it replaced goes to the history, from which
   the console rolls back.

Progress, figures and the outcome are written to the job's Redis hash, which the
console shows. The Redis keys are the console's contract (bot/console/retrain.py).

    python -m nlu.retrain worker        # the worker (scripts/stack.py starts it)
    python -m nlu.retrain active-model  # path of the model Rasa should start with
    python -m nlu.retrain evaluate PATH # a model's held-out figures, as JSON
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import redis
import yaml

from bench.overlap import HELDOUT_FILES, read_examples
from bench.scores import macro_f1

logger = logging.getLogger("kawan_sehat.retrain")

ROOT = Path(__file__).resolve().parents[1]
BASE_MODEL = ROOT / "models" / "kawan-sehat.tar.gz"
MODELS_DIR = ROOT / "models" / "console"
MAX_F1_DROP = 0.01
EMERGENCY = "emergency"
DEFAULT_EPOCH_FRACTION = 0.25
KEEP_MODELS = 5  # console-trained model files kept on disk (the active one always)
RUNNING = ("antri", "melatih", "menilai")
# DIET's progress bar: "Epochs:  45%|████▌     | 9/20 [00:31<00:38, ...]"
_EPOCHS = re.compile(r"Epochs:\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)")


@dataclass(frozen=True)
class Figures:
    """A model's scores on the held-out sets."""

    model: str
    macro_f1: float
    emergency_recall: float
    emergency_total: int
    n: int

    @property
    def emergency_missed(self) -> int:
        return round(self.emergency_total * (1 - self.emergency_recall))


def score(model: str, pairs: Sequence[Tuple[str, str]]) -> Figures:
    """Figures from (gold intent, predicted intent) pairs."""
    emergencies = [predicted for gold, predicted in pairs if gold == EMERGENCY]
    found = sum(1 for predicted in emergencies if predicted == EMERGENCY)
    return Figures(
        model=model,
        macro_f1=round(macro_f1(list(pairs)), 4),
        emergency_recall=round(found / len(emergencies), 4) if emergencies else 1.0,
        emergency_total=len(emergencies),
        n=len(pairs),
    )


def _decimal(value: float) -> str:
    return f"{value:.3f}".replace(".", ",")


def gate(current: Figures, candidate: Figures) -> Optional[str]:
    """None if `candidate` may replace `current`; otherwise why not, in Indonesian."""
    reasons = []
    if candidate.macro_f1 < current.macro_f1 - MAX_F1_DROP - 1e-9:
        reasons.append(
            f"Macro-F1 pada data uji turun dari {_decimal(current.macro_f1)} ke"
            f" {_decimal(candidate.macro_f1)} (paling banyak boleh turun 0,01)."
        )
    if candidate.emergency_recall < 1.0:
        reasons.append(
            f"{candidate.emergency_missed} dari {candidate.emergency_total} kalimat tanda"
            " bahaya di data uji tidak lagi dikenali sebagai darurat."
        )
    return " ".join(reasons) or None


def heldout() -> List[Tuple[str, str]]:
    """(text, intent) of every held-out utterance."""
    return [
        (e.text, e.intent) for path in HELDOUT_FILES if path.exists() for e in read_examples(path)
    ]


def domain_intents(domain: Path = ROOT / "domain.yml") -> set:
    data = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    return {next(iter(i)) if isinstance(i, dict) else str(i) for i in data.get("intents") or []}


def examples_yaml(examples: Sequence[Tuple[str, str]]) -> str:
    """An NLU training file of (intent, text) pairs. Square brackets become round ones:
    Rasa would read "[..](..)" in a promoter's text as an entity annotation."""
    by_intent: Dict[str, List[str]] = {}
    for intent, text in examples:
        clean = " ".join(text.replace("[", "(").replace("]", ")").split())
        if clean:
            by_intent.setdefault(intent, []).append(clean)
    nlu = [
        {"intent": intent, "examples": "".join(f"- {t}\n" for t in texts)}
        for intent, texts in sorted(by_intent.items())
    ]
    return yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False)


def epoch_progress(chunk: str) -> Optional[Tuple[int, int]]:
    """(epochs done, epochs planned) from the last DIET progress bar in `chunk`."""
    found = _EPOCHS.findall(chunk)
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


class Keys:
    """The Redis keys shared with the console (bot/console/retrain.py)."""

    def __init__(self, prefix: str) -> None:
        self.current = f"{prefix}console:retrain:current"
        self.queue = f"{prefix}console:retrain:queue"
        self.active = f"{prefix}console:model:active"
        self.history = f"{prefix}console:model:history"
        self.figures = f"{prefix}console:model:figures"
        self.lock = f"{prefix}console:model:lock"
        self._prefix = prefix

    def job(self, job_id: str) -> str:
        return f"{self._prefix}console:retrain:job:{job_id}"


def active_model(client: "redis.Redis[bytes]", keys: Keys, base: Path) -> Path:
    """The model in use: the console's last accepted (or rolled back to) model if its
    file is there and not older than the shipped one, else the shipped model."""
    path = _text(client.hget(keys.active, "path"))
    if (
        path
        and Path(path).is_file()
        and (not base.is_file() or Path(path).stat().st_mtime >= base.stat().st_mtime)
    ):
        return Path(path)
    return base


class Trainer:
    """Runs retrain jobs one at a time (see the module docstring)."""

    def __init__(
        self,
        client: "redis.Redis[bytes]",
        prefix: str,
        *,
        rasa_url: str,
        rasa_token: str,
        base_model: Path = BASE_MODEL,
        models_dir: Path = MODELS_DIR,
        epoch_fraction: float = DEFAULT_EPOCH_FRACTION,
        python: str = sys.executable,
    ) -> None:
        self.redis = client
        self.keys = Keys(prefix)
        self.rasa_url = rasa_url.rstrip("/")
        self.rasa_token = rasa_token
        self.base_model = base_model
        self.models_dir = models_dir
        self.epoch_fraction = epoch_fraction
        self.python = python
        self.child: Optional["subprocess.Popen[str]"] = None
        self.stopping = False

    # -- the job's hash -------------------------------------------------------
    def update(self, job_id: str, **fields: Any) -> None:
        values = {
            k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)
            for k, v in fields.items()
        }
        self.redis.hset(self.keys.job(job_id), mapping=values)

    def progress(self, job_id: str, percent: int, stage: str) -> None:
        self.update(job_id, progress=max(0, min(100, percent)), stage=stage)

    def finish(self, job_id: str, status: str, **fields: Any) -> None:
        self.update(job_id, status=status, progress=100, finished_at=_now(), **fields)
        current = self.redis.get(self.keys.current)
        if current is not None and _text(current) == job_id:
            self.redis.delete(self.keys.current)

    # -- the worker loop ------------------------------------------------------
    def recover(self) -> None:
        """A job left queued or running by a worker that stopped is queued again."""
        current = self.redis.get(self.keys.current)
        if current is None:
            return
        job_id = _text(current)
        status = _text(self.redis.hget(self.keys.job(job_id), "status"))
        if status not in RUNNING:
            self.redis.delete(self.keys.current)
            return
        queued = {_text(x) for x in self.redis.lrange(self.keys.queue, 0, -1)}
        if job_id not in queued:
            logger.info("Job %s was cut off by a restart: queued again.", job_id)
            self.update(
                job_id, status="antri", progress=0, stage="Diulang setelah trainer berhenti"
            )
            self.redis.rpush(self.keys.queue, job_id)

    def run_forever(self, stopping: Callable[[], bool]) -> None:
        self.recover()
        while not stopping():
            item = self.redis.brpop([self.keys.queue], timeout=2)
            if item is not None:
                self.run(_text(item[1]))

    def run(self, job_id: str) -> None:
        fields = {_text(k): _text(v) for k, v in self.redis.hgetall(self.keys.job(job_id)).items()}
        if fields.get("status") not in RUNNING:
            return
        try:
            self._run(job_id, fields)
        except Exception as error:
            if self.stopping:  # cut off by a stop: recover() queues it again on start
                logger.info(
                    "Retrain job %s stopped; it runs again when the trainer restarts.", job_id
                )
                return
            logger.exception("Retrain job %s failed", job_id)
            self.finish(
                job_id,
                "gagal",
                reason=f"Pelatihan gagal: {type(error).__name__}. Model lama tetap dipakai.",
            )

    def _run(self, job_id: str, fields: Dict[str, str]) -> None:
        self.update(job_id, status="melatih", started_at=_now())
        self.progress(job_id, 2, "Menyiapkan data latihan")
        known = domain_intents()
        dropped = json.loads(fields.get("dropped") or "[]")
        examples = []
        for intent, text in json.loads(fields.get("examples") or "[]"):
            if intent in known:
                examples.append((intent, text))
            else:
                dropped.append({"intent": intent, "text": text, "reason": "maksud tidak ada"})
        self.update(job_id, dropped=dropped, used=len(examples))
        current = active_model(self.redis, self.keys, self.base_model)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        name = f"console-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{job_id[:6]}"
        with tempfile.TemporaryDirectory(prefix="ks-retrain-") as tmp:
            extra = Path(tmp) / "console_examples.yml"
            extra.write_text(examples_yaml(examples), encoding="utf-8")
            candidate = self.train(job_id, current, extra, name)
        self.update(job_id, status="menilai")
        self.progress(job_id, 82, "Menilai model yang sedang dipakai pada data uji")
        before = self.figures(current)
        self.update(job_id, current=asdict(before))
        self.progress(job_id, 90, "Menilai model baru pada data uji")
        after = self.evaluate(candidate)
        self.update(job_id, candidate=asdict(after))
        reason = gate(before, after)
        if reason is not None:
            candidate.unlink(missing_ok=True)
            self.finish(job_id, "ditolak", reason=reason + " Model lama tetap dipakai.")
            return
        self.progress(job_id, 96, "Memuat model baru ke asisten")
        self.load(candidate)
        self.activate(candidate, job_id, after, _text(fields.get("actor")))
        self.finish(job_id, "diterima", model=str(candidate))
        self.prune()

    # -- steps ------------------------------------------------------------------
    def train(self, job_id: str, current: Path, extra: Path, name: str) -> Path:
        common = [
            self.python, "-m", "rasa", "train",
            "--config", str(ROOT / "config.yml"),
            "--domain", str(ROOT / "domain.yml"),
            "--data", str(ROOT / "data"), str(extra),
            "--out", str(self.models_dir),
            "--fixed-model-name", name,
        ]  # fmt: skip
        finetune = ["--finetune", str(current), "--epoch-fraction", str(self.epoch_fraction)]
        code, tail = self._train_process(job_id, common + finetune)
        if code != 0 and not self.stopping and "cannot finetune" in tail.lower():
            logger.warning("Rasa cannot finetune %s; training from scratch.", current.name)
            self.progress(job_id, 5, "Model lama tidak bisa dilanjutkan; melatih dari awal")
            code, tail = self._train_process(job_id, common)
        model = self.models_dir / f"{name}.tar.gz"
        if code != 0 or not model.is_file():
            logger.error("rasa train ended with %s:\n%s", code, tail)
            raise RuntimeError("rasa train failed")
        return model

    def _train_process(self, job_id: str, command: List[str]) -> Tuple[int, str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
        )  # fmt: skip
        self.progress(job_id, 4, "Melatih model: menyiapkan fitur kalimat")
        tail = ""
        assert self.child.stdout is not None
        last = (-1, -1)
        # tqdm redraws with "\r": read in chunks, not lines.
        while True:
            chunk = self.child.stdout.read(512)
            if not chunk:
                break
            tail = (tail + chunk)[-8000:]
            done = epoch_progress(tail[-1200:])
            if done and done != last:
                last = done
                percent = 5 + int(75 * done[0] / max(1, done[1]))
                self.progress(job_id, percent, f"Melatih model: putaran {done[0]} dari {done[1]}")
        code = self.child.wait()
        self.child = None
        return code, tail

    def figures(self, model: Path) -> Figures:
        """The held-out figures of `model`, remembered per model file."""
        stat = model.stat()
        field = f"{model.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
        cached = self.redis.hget(self.keys.figures, field)
        if cached is not None:
            return Figures(**json.loads(cached))
        figures = self.evaluate(model)
        self.redis.hset(self.keys.figures, field, json.dumps(asdict(figures)))
        return figures

    def evaluate(self, model: Path) -> Figures:
        """Held-out figures of `model`, in a child process (each model loads its own
        TensorFlow graph; the memory goes back when the child ends)."""
        result = subprocess.run(
            [self.python, "-m", "nlu.retrain", "evaluate", str(model)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            logger.error("Evaluating %s failed:\n%s", model, result.stderr[-4000:])
            raise RuntimeError("evaluation failed")
        return Figures(**json.loads(result.stdout.strip().splitlines()[-1]))

    def load(self, model: Path) -> None:
        """Rasa builds the new agent beside the old one and swaps when it is ready
        (connectors/chat_channel.py): conversations go on meanwhile."""
        request = urllib.request.Request(
            f"{self.rasa_url}/webhooks/gateway/model",
            data=json.dumps({"model_file": str(model.resolve())}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.rasa_token}",
            },
            method="PUT",
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:
                if answer.status != 204:
                    raise RuntimeError(f"Rasa answered {answer.status}")
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"Rasa answered {error.code} to the model load") from None

    def activate(self, model: Path, job_id: str, figures: Figures, actor: str) -> None:
        """`model` is in use now; the one it replaced goes to the history."""
        previous = {_text(k): _text(v) for k, v in self.redis.hgetall(self.keys.active).items()}
        if not previous.get("path"):
            base = self.figures(self.base_model) if self.base_model.is_file() else None
            previous = {
                "path": str(self.base_model.resolve()),
                "name": f"{self.base_model.name} (bawaan)",
                "job": "",
                "loaded_at": "",
                "macro_f1": str(base.macro_f1) if base else "",
                "emergency_recall": str(base.emergency_recall) if base else "",
                "by": "",
            }
        pipe = self.redis.pipeline()
        pipe.lpush(self.keys.history, json.dumps(previous, ensure_ascii=False))
        pipe.ltrim(self.keys.history, 0, KEEP_MODELS - 1)
        pipe.delete(self.keys.active)
        pipe.hset(
            self.keys.active,
            mapping={
                "path": str(model.resolve()),
                "name": model.name,
                "job": job_id,
                "loaded_at": _now(),
                "macro_f1": str(figures.macro_f1),
                "emergency_recall": str(figures.emergency_recall),
                "by": actor,
            },
        )
        pipe.execute()

    def prune(self) -> None:
        """Console models neither in use nor in the history are deleted, oldest first,
        beyond KEEP_MODELS files."""
        keep = {_text(self.redis.hget(self.keys.active, "path"))}
        for raw in self.redis.lrange(self.keys.history, 0, -1):
            keep.add(str(json.loads(raw).get("path") or ""))
        files = sorted(self.models_dir.glob("console-*.tar.gz"), key=lambda p: p.stat().st_mtime)
        for path in files[:-KEEP_MODELS]:
            if str(path.resolve()) not in keep:
                path.unlink(missing_ok=True)

    def stop(self) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()


def evaluate_model(model: Path) -> Figures:
    """Parse every held-out utterance with `model` (the whole NLU pipeline)."""
    import asyncio

    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    examples = heldout()

    async def predict() -> List[Tuple[str, str]]:
        pairs = []
        for text, gold in examples:
            parsed = await agent.parse_message(text)
            pairs.append((gold, str((parsed.get("intent") or {}).get("name") or "")))
        return pairs

    return score(model.name, asyncio.run(predict()))


def _client(url: str) -> "redis.Redis[bytes]":
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nlu.retrain", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["worker", "active-model", "evaluate"])
    parser.add_argument("model", nargs="?", help="evaluate: the model file")
    parser.add_argument(
        "--base-model", type=Path, default=Path(os.environ.get("KS_BASE_MODEL", BASE_MODEL))
    )
    parser.add_argument(
        "--models-dir", type=Path, default=Path(os.environ.get("KS_MODELS_DIR", MODELS_DIR))
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "evaluate":
        if not args.model:
            parser.error("evaluate needs a model file")
        print(json.dumps(asdict(evaluate_model(Path(args.model)))))
        return 0
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = os.environ.get("KS_REDIS_PREFIX", "ks:")
    client = _client(url)
    if args.command == "active-model":
        print(active_model(client, Keys(prefix), args.base_model))
        return 0
    token = os.environ.get("RASA_API_TOKEN", "")
    if not token:
        print(
            "RASA_API_TOKEN is not set: the trainer cannot load models into Rasa.", file=sys.stderr
        )
        return 2
    trainer = Trainer(
        client,
        prefix,
        rasa_url=os.environ.get("RASA_API_URL", "http://127.0.0.1:5005"),
        rasa_token=token,
        base_model=args.base_model,
        models_dir=args.models_dir,
        epoch_fraction=float(os.environ.get("KS_RETRAIN_EPOCH_FRACTION", DEFAULT_EPOCH_FRACTION)),
    )
    stopped = []

    def _stop(*_: Any) -> None:
        stopped.append(True)
        trainer.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logger.info("Trainer ready (epoch fraction %s).", trainer.epoch_fraction)
    while not stopped:
        try:
            trainer.run_forever(lambda: bool(stopped))
        except redis.ConnectionError:
            logger.warning("Redis unreachable; trying again in 5 s.")
            time.sleep(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
