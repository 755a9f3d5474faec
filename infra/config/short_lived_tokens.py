"""``llm-vault:shortLivedTokens``: the token role applications mint short-lived tokens from."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import field_validator

from infra.config.schema import Duration, Schema, Text, record

# The token role that mints read-only children; the operator policy names it as ${token_role}.
READONLY_TOKEN_ROLE = "openai-llm-readonly"


@dataclass(frozen=True)
class ShortLivedTokenSettings:
    role: str
    allowed_policies: tuple[str, ...]
    ttl_seconds: int
    renewable: bool


class ShortLivedTokensSchema(Schema):
    role: Text = READONLY_TOKEN_ROLE
    allowed_policies: list[Text] = ["openai-llm-readonly"]  # each must be a policy of policies/
    ttl: Duration = 3600
    renewable: bool = True

    @field_validator("ttl")
    @classmethod
    def _a_day_at_most(cls, ttl: int) -> int:
        if ttl <= 0 or ttl > 24 * 3600:
            raise ValueError(f"must be between 1s and 24h, got {ttl}s")
        return ttl

    def to_record(self) -> ShortLivedTokenSettings:
        return record(ShortLivedTokenSettings, self, ttl_seconds=self.ttl)
