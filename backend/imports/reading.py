"""Reading CSV files as they are found in the wild: any encoding, any header case, HXL rows.

Each physical line is decoded on its own (UTF-8, else cp1252, else Latin-1), so a file that mixes
encodings, as hand-merged exports do, still reads; the report says which encodings were met.
Rows keep the number of the physical line they start on, so a rejection points into the file.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from backend.errors import InvalidInput

ProgressFn = Callable[[int], None]


class FileFormatError(InvalidInput):
    """The file as a whole cannot be read as the source asked for (no rows are imported)."""


class RowError(ValueError):
    """One row cannot be imported; the message is the reason reported with its line number."""


@dataclass(slots=True)
class SourceRow:
    line: int  # physical line of the file the row starts on (1 is the header)
    values: dict[str, str]  # our column key -> the cell, stripped


@dataclass(slots=True)
class FileFacts:
    """What was learnt about the file while reading it."""

    encodings: Counter[str] = field(default_factory=Counter)
    hxl_tags: bool = False
    columns: list[str] = field(default_factory=list)

    @property
    def encoding(self) -> str:
        if not self.encodings:
            return "utf-8"
        if len(self.encodings) == 1:
            return next(iter(self.encodings))
        return "mixed: " + ", ".join(sorted(self.encodings))


def _decode(raw: bytes, facts: FileFacts) -> str:
    try:
        text = raw.decode("utf-8")
        if not raw.isascii():
            facts.encodings["utf-8"] += 1
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
            facts.encodings["cp1252"] += 1
        except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
            text = raw.decode("latin-1")
            facts.encodings["latin-1"] += 1
    if "\x00" in text:  # PostgreSQL cannot store NUL; it is never meaningful in these files
        text = text.replace("\x00", "")
    return text


def decoded_lines(
    chunks: Iterable[bytes], facts: FileFacts, progress: ProgressFn | None
) -> Iterator[str]:
    first = True
    for raw in chunks:
        if progress is not None:
            progress(len(raw))
        text = _decode(raw, facts)
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        yield text


def normalise_header(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", "_").split())


def _is_hxl_row(cells: list[str]) -> bool:
    filled = [c.strip() for c in cells if c.strip()]
    return bool(filled) and all(c.startswith("#") for c in filled)


def read_rows(
    chunks: Iterable[bytes],
    *,
    columns: Mapping[str, tuple[str, ...]],
    required: Iterable[str],
    what: str,
    facts: FileFacts,
    progress: ProgressFn | None = None,
    hint: Callable[[set[str]], str] | None = None,
) -> Iterator[SourceRow | tuple[int, RowError]]:
    """Rows of a CSV file keyed by our column names, or `(line, RowError)` for a broken row.

    `columns` maps each of our keys to the header names that carry it (lower case, in order of
    preference); the file's header is matched without regard to case, spaces or dashes.
    """
    reader = csv.reader(decoded_lines(chunks, facts, progress))
    try:
        header = next(reader)
    except StopIteration:
        raise FileFormatError(f"the file is empty; expected a CSV export of {what}") from None
    except csv.Error as exc:
        raise FileFormatError(f"cannot read the header line as CSV: {exc}") from None
    names = [normalise_header(h) for h in header]
    while names and not names[-1]:  # trailing empty columns
        names.pop()
    facts.columns = names
    position = {}
    for i, name in enumerate(names):
        if name:
            position.setdefault(name, i)
    index: list[tuple[str, int]] = []
    for key, aliases in columns.items():
        found = next((position[a] for a in aliases if a in position), None)
        if found is not None:
            index.append((key, found))
    have = {k for k, _ in index}
    missing = [k for k in required if k not in have]
    if missing:
        found_names = ", ".join(n for n in names[:12] if n) or "none"
        message = (
            f"not in the {what} format: no column {', '.join(missing)} in the header line "
            f"(found: {found_names}{', ...' if len(names) > 12 else ''})"
        )
        if hint is not None:
            message += hint(set(position))
        raise FileFormatError(message)

    width = len(names)
    last = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield last + 1, RowError(f"unreadable CSV: {exc}")
            last = reader.line_num
            continue
        line, last = last + 1, reader.line_num
        if not cells or not any(c.strip() for c in cells):
            continue  # blank line
        if line == 2 and _is_hxl_row(cells):
            facts.hxl_tags = True
            continue
        if len(cells) < width:
            yield (
                line,
                RowError(
                    f"the row has {len(cells)} fields but the header has {width} "
                    "(a line break outside quotes, or a cut-off line?)"
                ),
            )
            continue
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            yield (
                line,
                RowError(
                    f"the row has {len(cells)} fields but the header has {width} "
                    "(an unquoted comma in a field?)"
                ),
            )
            continue
        yield SourceRow(line, {key: cells[i].strip() for key, i in index})
