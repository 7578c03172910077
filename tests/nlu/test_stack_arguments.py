"""The arguments scripts/stack.py gives `rasa run`, parsed by Rasa's own command line."""

from __future__ import annotations

from pathlib import Path

from rasa.__main__ import create_argument_parser

from scripts.stack import Stack


def test_a_token_starting_with_a_dash_reaches_rasa_as_the_token() -> None:
    stack = Stack(rasa_api=True, rasa_api_token="-Un-lURfIZq63odeGFhp524Ta8S66Bmh")
    arguments = create_argument_parser().parse_args(stack.rasa_arguments(Path("e.yml")))
    assert arguments.auth_token == "-Un-lURfIZq63odeGFhp524Ta8S66Bmh"
    assert arguments.enable_api is True
    assert arguments.interface == "127.0.0.1"


def test_without_the_api_rasa_gets_no_token() -> None:
    stack = Stack(rasa_api=False)
    arguments = create_argument_parser().parse_args(stack.rasa_arguments(Path("e.yml")))
    assert arguments.enable_api is False
    assert arguments.auth_token is None
