"""Base for our Rasa components that apply rules from a data file."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any, ClassVar, Dict, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage


class DataFileComponent(GraphComponent):
    """Created from its config alone; retrained when its data file or code changes.

    Rasa's cache keys a component by its config; `fingerprint_addon` adds the
    data file and the rule code, so editing either retrains the model.
    """

    data_key: ClassVar[Text]
    rule_modules: ClassVar[Tuple[Text, ...]] = ()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "DataFileComponent":
        return cls(config)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        here = Path(__file__).parent
        files = [Path(config[cls.data_key]), Path(inspect.getfile(cls))]
        files += [here / f"{module}.py" for module in cls.rule_modules]
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = config
