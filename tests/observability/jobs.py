"""RQ jobs the observability tests enqueue (by import path) on a real forking worker."""

from __future__ import annotations

import os

from agent_platform.observability import metrics


def record_model_call(model: str, prompt_tokens: int) -> int:
    """What a grading job does when it calls a judge model: count its tokens (in the horse)."""
    metrics.record_model_call(model, ok=True, seconds=0.01, prompt_tokens=prompt_tokens)
    return os.getpid()
