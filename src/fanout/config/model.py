"""The settings model: each variable declared once, with its environment name, type, default,
bounds and meaning (``docs/configuration.md``'s table is generated from it: ``make configdoc``).

One flat model (a model per group would collect every field twice, at every cold start): its
groups are plain classes, ``fetch_fields`` and ``service_fields``, whose fields pydantic collects
once, here; the first field of each group carries its ``Section``. Request options come in pairs,
a *default* (used when the caller omits the option) and a *maximum* (a caller asking for more gets
a validation error): the default's ``AtMost`` names its maximum, a rule checked across fields.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from fanout.config.fetch_fields import FetchFields
from fanout.config.fields import AtMost
from fanout.config.service_fields import ServiceFields


class Settings(ServiceFields, FetchFields, BaseModel):
    """Server-side defaults, caps and tuning (docs/configuration.md), in sections."""

    # Built on first use (the cold start's ``get_settings``), not when the module is imported;
    # fields are set by their variable's name (the environment) or their own (tests, tools).
    # The groups' fields come in the reverse order of their bases (pydantic reads the bases from
    # the last): the fetch's, then the service's, as the configuration chapter lists them.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_by_alias=True,
        validate_by_name=True,
        defer_build=True,
    )

    @property
    def is_home(self) -> bool:
        """This deployment is its regional monitors' home (no home named, or this region named)."""
        return not self.home_region or self.home_region == self.region

    @model_validator(mode="after")
    def _defaults_within_their_maxima(self) -> Self:
        for name, field in type(self).model_fields.items():
            for bound in field.metadata:
                if isinstance(bound, AtMost) and getattr(self, name) > getattr(self, bound.field):
                    maximum = type(self).model_fields[bound.field].validation_alias
                    raise PydanticCustomError(
                        "above_its_maximum",
                        "must be <= {maximum} ({limit})",
                        {"setting": name, "maximum": maximum, "limit": getattr(self, bound.field)},
                    )
        return self
