"""The one-word stop: the whole message is the phrase, whatever the case or punctuation."""

from __future__ import annotations

import pytest

from bot.channels.message import Inbound
from bot.stopwords import STOP_PAYLOAD, command_in, intent_of, stop_command


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop.",
        "STOP!!!",
        "  stop  ",
        "BERHENTI",
        "Berhenti 🙏",
        "unreg",
        "UNREG",
        "stop kirim",
        "Stop Kirim!",
        "berhenti langganan",
        "Berhenti   langganan.",
        "berhenti-langganan",
        "stop langganan",
        "unsubscribe",
        "Unsubscribe",
        "/stop",
        "/unsubscribe",  # typed on the web: words, still the phrase
        "ＳＴＯＰ",  # full-width letters
        "*STOP*",
        "stop\n",
    ],
)
def test_stop_phrases(text: str) -> None:
    assert command_in(text) == "stop"


@pytest.mark.parametrize(
    "text",
    [
        "stop dulu ya aku mau tanya",
        "berhenti merokok gimana",
        "cara berhenti merokok",
        "stop diare pada balita",
        "stopp",
        "stop2",
        "jangan stop",
        "berhentikan",
        "kapan berhenti menyusui?",
        "stop kirim pesan",
        "mulai kapan imunisasi",
        "unreg posyandu",
        "",
        "   ",
        "?!",
        "stop " * 100,
    ],
)
def test_near_misses_go_to_the_assistant(text: str) -> None:
    assert command_in(text) is None


@pytest.mark.parametrize("text", ["MULAI", "mulai", "Mulai!", "mulai lagi", "MULAI LAGI."])
def test_mulai_starts_again(text: str) -> None:
    assert command_in(text) == "start"


def _message(kind: str, text: str = "", payload: str = "") -> Inbound:
    return Inbound("telegram", "7", "7", "1", kind, text=text, payload=payload)  # type: ignore[arg-type]


def test_the_stop_button_and_other_buttons() -> None:
    assert stop_command(_message("button", payload=STOP_PAYLOAD)) == "stop"
    assert stop_command(_message("button", payload='/unsubscribe{"posyandu": "P1"}')) is None
    assert stop_command(_message("button", payload="/greet")) is None
    # A button's payload is never read as words: a title "STOP" with another payload is not.
    assert stop_command(_message("button", text="STOP", payload="/greet")) is None
    assert stop_command(_message("text", text="STOP")) == "stop"
    assert stop_command(_message("location", text="STOP")) is None
    assert stop_command(_message("unsupported")) is None


def test_the_chat_api_reports_unsubscribe_for_a_stop() -> None:
    assert intent_of("stop") == "unsubscribe"
    assert intent_of("start") is None
