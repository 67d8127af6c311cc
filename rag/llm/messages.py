"""Chat messages as LangChain message objects, for the backends that talk through LangChain."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from .base import Message

_KINDS: dict[str, type[BaseMessage]] = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


def to_langchain(messages: list[Message]) -> list[BaseMessage]:
    """``{"role", "content"}`` dicts as System/Human/AI messages; an unknown role is a KeyError."""
    return [_KINDS[m["role"]](content=m["content"]) for m in messages]
