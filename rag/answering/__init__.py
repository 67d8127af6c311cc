"""The default answerer: extractive, grounded, and selective.

One job a module, in the order a question meets them:
  question   what is asked (cues, names, the kind of fact), pure text analysis
  evidence   the citable units of the retrieved passages, scored cheaply
  readers    the trained cross-encoder that scores whether a unit answers
  confidence the answer's confidence: a logistic model over the reader and the scores
  selection  re-rank with the reader, decide to answer or refuse, pick units
  compose    the answer text with its ``[n]`` citations
  refusal    what is not found, with the closest evidence
"""

from .compose import compose
from .confidence import ConfidenceModel, get_confidence_model
from .evidence import Evidence, score_evidence
from .question import absent_names
from .readers import Reader, ReaderError, get_reader
from .refusal import REFUSAL, refusal
from .selection import Selection, select

__all__ = [
    "REFUSAL",
    "ConfidenceModel",
    "Evidence",
    "Reader",
    "ReaderError",
    "Selection",
    "absent_names",
    "compose",
    "get_confidence_model",
    "get_reader",
    "refusal",
    "score_evidence",
    "select",
]
