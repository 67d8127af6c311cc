"""The answer's confidence: a small logistic model over the reader and the cheap signals.

The reader alone is sure of itself on SQuAD-like text and much less right on
briefings (paraphrase, near misses that keep every word but one). A logistic
regression over the reader's logit and what the evidence score already knows
(the score and its parts, the margin to the next unit, how much of the
question the unit and its briefing hold, whether the unit holds the kind of
fact asked for) orders answers better out of sample (docs/answerability.md,
round 6). It is fitted by ``rag train-confidence`` on questions asked through
the real engine over SQuAD articles the reader never saw, and stored as its
coefficients in ``readers/weights/minilm-confidence.json``; the file names the
reader it was fitted with, and with any other reader the reader's own
probability is the confidence.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from .evidence import Evidence
from .question import answers_kind, states_absence, terms
from .readers import Reader

SHIPPED = Path(__file__).parent / "readers" / "weights" / "minilm-confidence.json"

FEATURES = (
    "reader",  # the reader's logit for the unit
    "score",  # the evidence score and its parts
    "dense",
    "lexical",
    "cue",
    "margin",  # the score's lead over the next unit
    "doc_terms",  # share of the question's terms anywhere in the unit's briefing
    "unit_terms",  # ... in the unit, its title and heading
    "kind",  # the unit holds the kind of fact asked for (a figure, a date, ...)
    "absence",  # the unit says a detail was withheld
    "n_terms",  # how many terms the question has
)


def features(question: str, ranked: list[Evidence], doc_text: str) -> dict[str, float]:
    """The model's inputs for the best unit of ``ranked`` (read by the reader)."""
    top = ranked[0]
    p = min(max(top.parts.get("reader", 0.5), 1e-4), 1 - 1e-4)
    q_terms = terms(question)
    unit = top.unit.readable()

    def share(text: str) -> float:
        return len(q_terms & terms(text)) / len(q_terms) if q_terms else 1.0

    return {
        "reader": math.log(p / (1 - p)),
        "score": top.score,
        "dense": top.parts.get("dense", 0.0),
        "lexical": top.parts.get("lexical", 0.0),
        "cue": top.parts.get("cue", 0.0),
        "margin": top.score - (ranked[1].score if len(ranked) > 1 else 0.0),
        "doc_terms": share(doc_text or top.passage.text),
        "unit_terms": share(f"{unit} {top.passage.title} {top.passage.heading}"),
        "kind": float(answers_kind(question, [unit])),
        "absence": float(states_absence(top.unit.text)),
        "n_terms": float(len(q_terms)),
    }


@dataclass(frozen=True)
class ConfidenceModel:
    """P(the answer is right) = sigmoid(intercept + coef . (x - mean) / scale)."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # the refusal threshold chosen on the fitting data
    reader_sha256: str  # the reader whose logits it was fitted on

    def probability(self, feats: dict[str, float]) -> float:
        z = self.intercept + sum(
            c * (feats[n] - m) / s for n, m, s, c in zip(self.names, self.mean, self.scale, self.coef, strict=True)
        )
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "reader_sha256": self.reader_sha256,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = "confidence model") -> ConfidenceModel:
        try:
            model = cls(
                tuple(data["names"]),
                tuple(float(x) for x in data["mean"]),
                tuple(float(x) for x in data["scale"]),
                tuple(float(x) for x in data["coef"]),
                float(data["intercept"]),
                float(data["threshold"]),
                str(data["reader_sha256"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: not a confidence model ({exc})") from exc
        unknown = set(model.names) - set(FEATURES)
        if unknown or not (len(model.names) == len(model.mean) == len(model.scale) == len(model.coef)):
            raise ValueError(f"{where}: unknown features {sorted(unknown)} or mismatched lengths")
        return model


def load(path: Path) -> ConfidenceModel:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the confidence model ({exc})") from exc
    return ConfidenceModel.from_dict(data.get("model", data), str(path))


def get_confidence_model(settings: Settings, reader: Reader | None) -> ConfidenceModel | None:
    """The model for this reader (``settings.confidence_model`` or the shipped one);
    None without a reader, with ``"none"``, or when it was fitted on another reader."""
    choice = settings.confidence_model.strip()
    if reader is None or choice.lower() == "none":
        return None
    model = load(Path(choice) if choice else SHIPPED)
    return model if model.reader_sha256 == getattr(reader, "sha256", None) else None
