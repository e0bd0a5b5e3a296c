"""``options.sign`` (or an entry's ``sign``): the requests a run sends signed per Standard Webhooks,
so each subscriber of a webhook fan-out can verify that a delivery came from this service
(docs/contract.md#signed-deliveries).

The secret is a reference (``${secretsmanager:...}``, read at send time) or a literal ``whsec_``
secret (several, space-separated or a list, while rotating). A literal is accepted for a direct
invoke but never written down: every dump of the option (answers, reports, records, shard
messages, logs) says ``[redacted]``, so a shard continuation cannot sign with it (its entries fail
``secret_unavailable``: write a reference for a run that may shard).

Each delivery's ``webhook-id`` is derived from the run, the entry's index and its URL: the same on
every attempt, in a carried-over run and in a shard continuation (the run's id and the entry's
input index travel with them), distinct across the run's deliveries.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_serializer

from fanout.core.secret_refs import REFERENCE, reference_problem
from fanout.core.signing import secret_problem

REDACTED = "[redacted]"


def _secret(value: str) -> str:
    if value == REDACTED:
        return value
    problem = reference_problem(value)
    if problem is not None:
        raise ValueError(problem)
    if REFERENCE.fullmatch(value) is None:
        for secret in value.split():
            if (why := secret_problem(secret)) is not None:
                raise ValueError(f"{why}, or write a secret reference")
    return value


SignSecret = Annotated[str, Field(min_length=1, max_length=1_024), AfterValidator(_secret)]


def is_literal(text: str) -> bool:
    return REFERENCE.fullmatch(text) is None and text != REDACTED


class SignOption(BaseModel):
    """How a run's requests are signed: the scheme and the secret(s)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    scheme: Literal["standard-webhooks"] = Field(description="Standard Webhooks v1 (HMAC-SHA256).")
    secret: SignSecret | Annotated[list[SignSecret], Field(min_length=1, max_length=4)] = Field(
        description="whsec_... (several while rotating), or a secret reference holding them."
    )

    @property
    def secrets(self) -> list[str]:
        """The secret texts as written (references, or literals)."""
        return [self.secret] if isinstance(self.secret, str) else list(self.secret)

    @field_serializer("secret")
    def _redacted(self, secret: str | list[str]) -> Any:
        """Literal secrets are never written anywhere: references are kept as written."""
        if isinstance(secret, str):
            return REDACTED if is_literal(secret) else secret
        return [REDACTED if is_literal(s) else s for s in secret]


def webhook_id(run_id: str, index: int, url: str) -> str:
    """One delivery's ``webhook-id``: stable across its attempts and continuations."""
    return "msg_" + hashlib.sha256(f"{run_id}\n{index}\n{url}".encode()).hexdigest()[:32]
