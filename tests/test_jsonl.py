"""The JSON Lines reader: numbered lines, each line's problem, file-level errors, streaming."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.jsonl import JsonlError, Line, objects, read_lines


class CallerError(ValueError):
    pass


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.jsonl"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_lines_are_numbered_from_one_counting_blank_ones(tmp_path):
    path = write(tmp_path, '{"a": 1}\r\n\r\n  \n{"b": 2}\n')
    assert list(read_lines(path)) == [Line(1, {"a": 1}), Line(4, {"b": 2})]


def test_every_bad_line_comes_back_with_its_problem(tmp_path):
    path = write(tmp_path, '{"a": 1}\n{"a": \n\n[1]\n"x"\n')
    assert list(read_lines(path)) == [
        Line(1, {"a": 1}),
        Line(2, None, "not valid JSON (Expecting value at column 7)"),
        Line(4, None, "expected a JSON object, got list"),
        Line(5, None, "expected a JSON object, got str"),
    ]


def test_bom_only_with_utf8_sig(tmp_path):
    path = write(tmp_path, '\ufeff{"a": 1}\n')
    assert list(read_lines(path, encoding="utf-8-sig")) == [Line(1, {"a": 1})]
    assert list(read_lines(path))[0].problem.startswith("not valid JSON (Unexpected UTF-8 BOM")


def test_file_level_problems_raise(tmp_path):
    with pytest.raises(JsonlError, match=r"nope.jsonl: no such file$"):
        list(read_lines(tmp_path / "nope.jsonl"))
    path = write(tmp_path, '{"a": 1}\n')
    path.write_bytes(path.read_bytes() + b'{"b": "\xff"}\n')
    with pytest.raises(JsonlError, match=r"f.jsonl: not UTF-8 \(invalid start byte at line 1 or later\)"):
        list(read_lines(path))


def test_objects_stops_at_the_first_problem_as_the_callers_error(tmp_path):
    path = write(tmp_path, '{"a": 1}\n\n{"a": \n[1]\n')
    found = objects(path, CallerError)
    assert next(found) == (1, {"a": 1})  # streamed: line 1 comes before line 3 is read
    with pytest.raises(
        CallerError, match=rf"^{re.escape(str(path))}:3: not valid JSON \(Expecting value at column 7\)$"
    ):
        next(found)


def test_objects_raises_file_problems_as_the_callers_error(tmp_path):
    with pytest.raises(CallerError, match=r"nope.jsonl: no such file"):
        list(objects(tmp_path / "nope.jsonl", CallerError))
