"""What every part of the binder shares: strict models, ids, severities, the secret guard.

Each section of the binder is one small module beside this one; `ClientBinder` (binder.py)
gathers them. Import the models from `opsbinder.config.models`, never from these modules.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Slug = Annotated[str, Field(pattern=SLUG)]
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
EnvName = Annotated[str, Field(pattern=ENV_NAME, description="name of an environment variable")]

Severity = Literal["sev1", "sev2", "sev3", "sev4"]
SupportLevel = Literal["L1", "L2", "L3"]

_SECRET_KEYS = re.compile(r"(password|passwd|secret|token|api[_-]?key|private[_-]?key)$", re.I)
_URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:\s]*:[^/@\s]+@", re.I)


def located(field: str, message: str, kind: str = "value_error") -> PydanticCustomError:
    """An error about one key of a model, raised from a model validator.

    Pydantic places model-validator errors on the whole object; `ctx["field"]` lets the loader
    point at the key itself (file line, field path, value) instead of dumping the object.
    """
    return PydanticCustomError(
        kind, message.replace("{", "{{").replace("}", "}}"), {"field": field}
    )


class Strict(BaseModel):
    """Unknown keys are an error: a typo in a binder must not silently drop a setting.

    Numbers are finite: `.inf` or `.nan` would pass every bound check and break arithmetic later.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_plaintext_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if not isinstance(value, str) or not value:
                    continue
                if _names_a_secret(str(key)):
                    raise located(
                        str(key),
                        "a secret in plain text; put it in an environment variable and name "
                        "that variable in the matching *_env field (url_env, secret_env)",
                        "plaintext_secret",
                    )
                if "@" in value and _URL_WITH_PASSWORD.match(value):
                    raise located(
                        str(key),
                        "a URL with a password in it; put the URL in an environment variable "
                        "and name that variable instead (e.g. url_env: TMS_DB_URL)",
                        "plaintext_secret",
                    )
        return data


@functools.lru_cache(maxsize=1024)
def _names_a_secret(key: str) -> bool:
    """Remembered per key: every model of every stored definition asks it again on each read,
    about the same few field names."""
    return bool(_SECRET_KEYS.search(key)) and not key.endswith("_env")
