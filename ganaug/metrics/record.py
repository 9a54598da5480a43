"""Reports written as JSON: a dataclass whose field names are the file's keys, read back the same way."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

Record = TypeVar("Record", bound="JsonRecord")


class JsonRecord:
    """Mixed into a dataclass of JSON values: the keys of the files on disk are its field names, spelled once."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # every subclass is a dataclass

    @classmethod
    def from_json(cls: type[Record], data: dict[str, Any]) -> Record:
        return cls(**data)
