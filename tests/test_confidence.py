"""The answer's confidence model: its file, its arithmetic, and that answers carry its probability."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import rag
from rag.answering.confidence import FEATURES, SHIPPED, ConfidenceModel, get_confidence_model, load
from rag.training.ship import ece


def _model(**changes) -> ConfidenceModel:
    n = len(FEATURES)
    values = dict(
        names=FEATURES,
        mean=(0.0,) * n,
        scale=(1.0,) * n,
        coef=(1.0,) + (0.0,) * (n - 1),
        intercept=0.0,
        threshold=0.5,
        reader_sha256="abc",
    )
    return ConfidenceModel(**{**values, **changes})


def test_probability_is_the_logistic_of_the_standardised_features() -> None:
    feats = dict.fromkeys(FEATURES, 0.0)
    model = _model(mean=(1.0,) + (0.0,) * (len(FEATURES) - 1), scale=(2.0,) + (1.0,) * (len(FEATURES) - 1))
    assert model.probability({**feats, "reader": 1.0}) == pytest.approx(0.5)
    assert model.probability({**feats, "reader": 5.0}) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert model.probability({**feats, "reader": 1e9}) <= 1.0  # clipped, no overflow


def test_model_file_round_trip_and_bad_file(tmp_path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"model": _model().to_dict()}))
    assert load(path) == _model()
    bad = _model().to_dict() | {"names": ["reader", "shoe_size", *FEATURES[2:]]}
    path.write_text(json.dumps({"model": bad}))
    with pytest.raises(ValueError, match="shoe_size"):
        load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=str(path)):
        load(path)


def test_calibration_error() -> None:
    assert ece(np.array([0.9, 0.9, 0.1, 0.1]), np.array([1, 1, 0, 0])) == pytest.approx(0.1)
    assert ece(np.array([0.9, 0.9]), np.array([0, 0])) == pytest.approx(0.9)


def test_shipped_model_fits_the_shipped_reader_only(corpus_settings: rag.Settings) -> None:
    engine = rag.get_engine(corpus_settings)
    model = engine.confidence_model
    assert model is not None and model == load(SHIPPED)

    class OtherReader:
        sha256 = "not-the-shipped-weights"

    # Fitted on the shipped reader's logits: another reader gets its own probability instead.
    assert get_confidence_model(corpus_settings, OtherReader()) is None
    assert get_confidence_model(corpus_settings.with_(confidence_model="none"), engine.reader) is None


def test_answer_confidence_is_the_model_probability(corpus_settings: rag.Settings) -> None:
    engine = rag.get_engine(corpus_settings)
    question = "How many aircraft entered the Korean air defence zone?"
    selection = engine.evidence(question).selection
    assert set(selection.features) == set(FEATURES)
    expected = round(engine.confidence_model.probability(selection.features), 4)
    assert selection.confidence == expected
    assert rag.ask(question, settings=corpus_settings).confidence == expected
    # Without the model the confidence is the reader's probability of the same unit.
    plain = rag.get_engine(corpus_settings.with_(confidence_model="none")).evidence(question).selection
    reader_p = 1 / (1 + math.exp(-selection.features["reader"]))
    assert plain.confidence == pytest.approx(reader_p, abs=2e-4)
    assert plain.confidence != expected


def test_the_gate_refuses_below_the_bar_and_keeps_the_closest_evidence(corpus_settings: rag.Settings) -> None:
    question = "How many aircraft entered the Korean air defence zone?"
    answered = rag.ask(question, settings=corpus_settings)
    assert not answered.refused
    strict = rag.ask(question, settings=corpus_settings.with_(min_confidence=min(1.0, answered.confidence + 0.01)))
    assert strict.refused and strict.closest and not strict.citations
    assert strict.confidence == answered.confidence
    # -1: the bar stored with the confidence model.
    model = rag.get_engine(corpus_settings).confidence_model
    stored = rag.ask(question, settings=corpus_settings.with_(min_confidence=-1.0))
    assert stored.refused == (answered.confidence < model.threshold)
