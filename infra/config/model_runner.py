"""``llm-vault:modelRunner``: the AppRole identity model runners log in with."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, field_validator, model_validator

from infra.config.schema import Duration, MountPath, Schema, Text, record, reject

# Model-runner secret IDs are rotated daily; the TTL leaves a day of grace but no more.
SECRET_ID_TTL_WINDOW = (24 * 3600, 48 * 3600)


@dataclass(frozen=True)
class ModelRunnerSettings:
    path: str
    role: str
    policies: tuple[str, ...]
    secret_id_ttl_seconds: int
    secret_id_num_uses: int
    token_ttl_seconds: int
    token_max_ttl_seconds: int


class ModelRunnerSchema(Schema):
    path: MountPath = "approle"
    role: Text = "model-runner"
    policies: list[Text] = ["model-runner"]  # each must be a policy of policies/
    secret_id_ttl: Duration = 36 * 3600
    secret_id_num_uses: int = Field(0, ge=0)
    token_ttl: Duration = 3600
    token_max_ttl: Duration = 4 * 3600

    @field_validator("secret_id_ttl")
    @classmethod
    def _rotation_window(cls, ttl: int) -> int:
        lo, hi = SECRET_ID_TTL_WINDOW
        if not lo <= ttl <= hi:
            raise ValueError(f"must be within the 24h-48h rotation window, got {ttl}s")
        return ttl

    @model_validator(mode="after")
    def _max_covers_ttl(self) -> ModelRunnerSchema:
        if self.token_ttl <= 0 or self.token_max_ttl < self.token_ttl:
            raise reject("must be at least tokenTtl, and tokenTtl positive", at="tokenMaxTtl")
        return self

    def to_record(self) -> ModelRunnerSettings:
        return record(
            ModelRunnerSettings,
            self,
            secret_id_ttl_seconds=self.secret_id_ttl,
            token_ttl_seconds=self.token_ttl,
            token_max_ttl_seconds=self.token_max_ttl,
        )
