"""Training side of the answerability reader (issue 11).

A cross-encoder fine-tuned from the MiniLM weights scores (question, unit)
pairs for "this unit answers the question". ``data`` builds the pairs from
SQuAD v1.1 dev (minus everything any evaluation asks), ``train`` runs the
loop behind ``rag train-reader`` and ``measure`` scores a trained model.
"""
