"""The LLM judge: one call grades every criterion of a case; the threshold decides, not the judge.

Why one call per case and judge model: a case with three rubric lines costs one model call,
not three, and the judge sees the criteria together as a person would. The judge returns a
score and a reason per criterion as JSON; whether that passes is our threshold's decision, so
a judge that writes "PASS" next to a 0.4 does not pass it. Verdicts are cached on (org, input,
output, criteria, judge model), so running a suite again costs nothing for unchanged answers.
A person's overrulings in the same suite are shown to the judge as examples.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.testing.assertions import Assertion

DEFAULT_THRESHOLD = 0.5
MAX_TEXT_CHARS = 12_000
MAX_EXAMPLES = 5

JUDGE_SYSTEM = """You are a strict, fair evaluator of an AI agent's answer.
Score the answer against each numbered criterion independently, from 0.0 (not met at all) to
1.0 (fully met). Judge only what is written in the answer; do not reward confident tone.
Reply with only a JSON object, no prose, in exactly this shape:
{"criteria": [{"id": 1, "score": 0.0, "reason": "one short sentence"}, ...]}
Include every criterion id once."""

JudgeCall = Callable[[str, list[dict[str, Any]]], Awaitable[str]]


@dataclass(frozen=True)
class Criterion:
    id: int
    text: str
    threshold: float
    assertion_index: int  # which assertion of the case it belongs to


@dataclass(frozen=True)
class Example:
    """A verdict a person overruled: the judge sees what they decided, and why."""

    output: str
    passed: bool
    note: str


@dataclass
class CriterionScore:
    id: int
    score: float
    reason: str


@dataclass
class JudgeOutcome:
    model: str
    scores: dict[int, CriterionScore] = field(default_factory=dict)
    raw: str = ""
    error: str | None = None
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "scores": {str(k): [v.score, v.reason] for k, v in self.scores.items()},
            "raw": self.raw[:4000],
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JudgeOutcome:
        scores = {
            int(k): CriterionScore(int(k), float(v[0]), str(v[1]))
            for k, v in (data.get("scores") or {}).items()
        }
        return cls(
            model=str(data.get("model", "")),
            scores=scores,
            raw=str(data.get("raw", "")),
            error=data.get("error"),
            cached=True,
        )


def criteria_of(assertions: Sequence[Assertion]) -> list[Criterion]:
    """The judge's criteria from a case's judge assertions, numbered from 1."""
    found: list[Criterion] = []
    for index, a in enumerate(assertions):
        threshold = a.threshold if a.threshold is not None else DEFAULT_THRESHOLD
        if a.type == "llm-rubric":
            texts = [str(a.value)]
        elif a.type == "g-eval":
            raw = a.value if isinstance(a.value, list) else str(a.value).splitlines()
            texts = [str(t).strip() for t in raw if str(t).strip()]
        elif a.type == "factuality":
            texts = [
                "Every factual claim in the answer is consistent with these reference facts, "
                f"and the answer does not contradict them: {a.value}"
            ]
        else:
            continue
        for text in texts:
            found.append(Criterion(len(found) + 1, text[:2000], threshold, index))
    return found


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + " …[cut]"


def messages_for(
    criteria: Sequence[Criterion],
    *,
    question: str,
    answer: str,
    reference: str | None,
    examples: Sequence[Example] = (),
) -> list[dict[str, Any]]:
    lines = [f"{c.id}. {c.text}" for c in criteria]
    parts = [f"## Question\n{_clip(question)}", f"## Answer to evaluate\n{_clip(answer)}"]
    if reference:
        parts.append(f"## Reference answer\n{_clip(reference)}")
    parts.append("## Criteria\n" + "\n".join(lines))
    if examples:
        shown = [
            f"- Answer: {_clip(e.output)[:600]}\n  A reviewer decided: "
            f"{'PASS' if e.passed else 'FAIL'} — {e.note or 'no note'}"
            for e in list(examples)[:MAX_EXAMPLES]
        ]
        parts.append("## How reviewers decided earlier cases of this suite\n" + "\n".join(shown))
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def cache_key(
    org_id: uuid.UUID,
    question: str,
    answer: str,
    criteria: Sequence[Criterion],
    model: str,
    *,
    reference: str | None,
    examples: Sequence[Example] = (),
) -> str:
    """Everything the judge is shown about the case is in the key: a changed reference answer,
    or a person's overruling that joins the examples in the prompt, is a new question for the
    judge, not a cache hit with the old verdict."""
    shown = [(e.output, e.passed, e.note) for e in list(examples)[:MAX_EXAMPLES]]
    payload = json.dumps(
        [str(org_id), question, answer, [(c.text, c.id) for c in criteria], model, reference]
        + ([shown] if shown else []),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_reply(model: str, text: str, criteria: Sequence[Criterion]) -> JudgeOutcome:
    """The judge's JSON, read leniently (code fences, prose around it); never raises."""
    outcome = JudgeOutcome(model=model, raw=text)
    body = _FENCE.sub("", text.strip())
    start, end = body.find("{"), body.rfind("}")
    try:
        data = json.loads(body[start : end + 1]) if start >= 0 and end > start else None
    except ValueError:
        data = None
    items = data.get("criteria") if isinstance(data, dict) else None
    if not isinstance(items, list):
        outcome.error = "the judge's answer was not the JSON asked for"
        return outcome
    wanted = {c.id for c in criteria}
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            cid = int(str(item.get("id")))
            score = float(str(item.get("score")))
        except (TypeError, ValueError):
            continue
        if cid in wanted:
            score = min(max(score, 0.0), 1.0)
            outcome.scores[cid] = CriterionScore(cid, score, str(item.get("reason", ""))[:500])
    missing = wanted - set(outcome.scores)
    if missing:
        outcome.error = "the judge left out criteria " + ", ".join(str(m) for m in sorted(missing))
    return outcome


@dataclass(frozen=True)
class CriterionVerdict:
    criterion: Criterion
    passed: bool
    score: float
    reason: str


def decide(
    criteria: Sequence[Criterion], outcomes: Sequence[JudgeOutcome]
) -> list[CriterionVerdict]:
    """Each criterion passes when most judges scored it at or above its threshold.

    A judge that could not answer counts as a failing vote, so a broken judge fails a case
    rather than passing it; the score is the mean over the judges that scored it."""
    verdicts: list[CriterionVerdict] = []
    for c in criteria:
        votes, scores, reasons = 0, [], []
        for outcome in outcomes:
            got = outcome.scores.get(c.id)
            if got is None:
                reasons.append(f"{outcome.model}: {outcome.error or 'no score'}")
                continue
            scores.append(got.score)
            votes += got.score >= c.threshold
            reasons.append(f"{outcome.model}: {got.score:.2f} — {got.reason}")
        passed = votes * 2 > len(outcomes)
        score = sum(scores) / len(scores) if scores else 0.0
        verdicts.append(CriterionVerdict(c, passed, score, " | ".join(reasons)[:600]))
    return verdicts
