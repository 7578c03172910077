"""NLU component tests run in the Rasa environment (make test-nlu)."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource


@pytest.fixture
def component_kwargs(tmp_path: Any) -> Dict[str, Any]:
    return {
        "model_storage": LocalModelStorage(tmp_path),
        "resource": Resource("component"),
        "execution_context": ExecutionContext(GraphSchema({}), "test"),
    }
