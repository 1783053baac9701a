"""The versioned schema of an agent's definition, stored as JSON on agents and versions.

Why pydantic with `extra="forbid"`: saving must say exactly which field is wrong, and a typo
in a key must not silently turn into a default.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent_platform.models.user_schema import UserSchemaError, check_user_schema

MODEL_REF = re.compile(r"^[A-Za-z0-9_.-]{1,60}/[A-Za-z0-9_.:/@-]{1,160}$")
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class ToolRef(BaseModel):
    """A tool the agent may call: a built-in, an integration action, or another agent."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["builtin", "integration", "agent"] = "builtin"
    name: str = Field(min_length=1, max_length=120)
    settings: dict[str, Any] = Field(default_factory=dict)


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collections: list[str] = Field(default_factory=list, max_length=20)
    conversation: bool = True
    window: int = Field(default=10, ge=0, le=100, description="past messages kept in a thread")


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["text", "json"] = "text"
    json_schema: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _schema_for_json(self) -> OutputConfig:
        if self.format == "json" and not self.json_schema:
            raise ValueError("a JSON schema is required when the output format is json")
        if self.json_schema is not None:
            try:
                check_user_schema(self.json_schema)
            except UserSchemaError as exc:
                raise ValueError(exc.message) from None
        return self


class AgentConfig(BaseModel):
    """Schema version 1. Model references are `<provider name>/<model>`, e.g. `openai/gpt-4o`."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = 1
    model: str = Field(default="openai/gpt-4o-mini")
    fallback_models: list[str] = Field(default_factory=list, max_length=5)
    instructions: str = Field(default="You are a helpful assistant.", max_length=50_000)
    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_output_tokens: int = Field(default=1024, ge=1, le=200_000)
    tools: list[ToolRef] = Field(default_factory=list, max_length=64)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    max_steps: int = Field(default=8, ge=1, le=100)
    timeout_seconds: int = Field(default=120, ge=1, le=3600)
    first_token_timeout_seconds: float = Field(default=30, gt=0, le=600)
    output: OutputConfig = Field(default_factory=OutputConfig)
    # The most one run may spend in USD (None: no budget); a run request may set its own.
    # The run stops cleanly once its cost reaches it (services.runtime.engine).
    max_spend_per_run_usd: float | None = Field(default=None, gt=0, le=1_000_000)
    # Where the builder's canvas shows each node ({node id: {"x": .., "y": ..}}); saved with
    # the version so restoring a version restores its picture too. Never affects a run.
    layout: dict[str, dict[str, float]] = Field(default_factory=dict, max_length=300)

    @field_validator("model")
    @classmethod
    def _model_ref(cls, value: str) -> str:
        if not MODEL_REF.match(value):
            raise ValueError("use <provider>/<model>, e.g. openai/gpt-4o-mini")
        return value

    @field_validator("fallback_models")
    @classmethod
    def _fallback_refs(cls, values: list[str]) -> list[str]:
        for value in values:
            if not MODEL_REF.match(value):
                raise ValueError(f"{value!r}: use <provider>/<model>")
        return values

    @property
    def model_chain(self) -> list[str]:
        seen: list[str] = []
        for ref in [self.model, *self.fallback_models]:
            if ref not in seen:
                seen.append(ref)
        return seen

    def variables(self) -> list[str]:
        return sorted(set(VARIABLE.findall(self.instructions)))

    def render_instructions(self, values: dict[str, Any]) -> str:
        """Fill `{{name}}` from the run's input; unknown names stay visible, never evaluated."""
        return VARIABLE.sub(lambda m: str(values.get(m.group(1), m.group(0))), self.instructions)
