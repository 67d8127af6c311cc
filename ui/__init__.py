"""The Gradio chat over the rag engine.

rag.offline runs before any ui module imports gradio: gradio reads its analytics
switch when it is imported, so setting it later would be too late.
"""

import rag.offline  # noqa: F401
