"""Turn an uploaded file into plain text, and plain text into chunks worth embedding.

Why here and not in the collections service: parsing is pure (bytes in, text out) and is the
part most likely to meet hostile or broken input, so it is tested on its own and every failure
becomes one `Invalid` the user can act on — never a stack trace from a parser library.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from bs4 import BeautifulSoup
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

from services.errors import Invalid

CONTENT_TYPES: dict[str, str] = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}

# Tags whose text is never content; `head` is kept for its <title>.
_DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object")
_BLOCK_TAGS = (
    "address",
    "article",
    "aside",
    "blockquote",
    "caption",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "title",
    "tr",
    "ul",
)
# Markers that survive BeautifulSoup's get_text(); removed from the input first.
_PARAGRAPH = "\x1e"
_LINE = "\x1f"


def extension(filename: str) -> str:
    """The lowercased extension (".pdf"), or "" for a name without one."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def content_type(filename: str) -> str:
    """The MIME type we store for a supported file (assumes `extract_text` accepted it)."""
    return CONTENT_TYPES.get(extension(filename), "application/octet-stream")


def check_type(filename: str) -> str:
    """The file's extension when we can read that type; else `Invalid` naming what we read."""
    ext = extension(filename)
    if ext not in CONTENT_TYPES:
        shown = ext or "(none)"
        raise Invalid(
            f"Unsupported file type {shown}; upload .txt, .md, .pdf, .csv or .html",
            fields={"file": "Unsupported file type"},
        )
    return ext


def extract_text(filename: str, data: bytes) -> str:
    """The readable text of an uploaded file, chosen by its extension.

    Raises `Invalid` for an unsupported type, a damaged or password-protected PDF, and a file
    with no text at all, so nothing half-parsed is ever indexed.
    """
    ext = check_type(filename)
    if not data:
        raise Invalid(f"{filename} is empty.", fields={"file": "Empty file"})
    if ext == ".pdf":
        text = _pdf_text(filename, data)
    else:
        decoded = _decode(filename, data)
        if ext == ".csv":
            text = _csv_text(decoded)
        elif ext in (".html", ".htm"):
            text = _html_text(decoded)
        else:
            text = decoded
    text = _normalise(text)
    if not text:
        raise Invalid(f"{filename} has no text to index.", fields={"file": "No text"})
    return text


def _decode(filename: str, data: bytes) -> str:
    """UTF-8 (with or without BOM) first; Latin-1 as the last resort, which never fails."""
    if b"\x00" in data[:8192]:
        raise Invalid(f"{filename} does not look like a text file.", fields={"file": "Binary"})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _normalise(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _pdf_text(filename: str, data: bytes) -> str:
    protected = Invalid(
        f"{filename} is password-protected; upload an unprotected copy.",
        fields={"file": "Encrypted PDF"},
    )
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _unlock(reader):
            raise protected
        pages = [page.extract_text() or "" for page in reader.pages]
    except Invalid:
        raise
    except FileNotDecryptedError:
        raise protected from None
    except Exception:  # pypdf raises many types on broken input; all mean the same to a user
        raise Invalid(
            f"Could not read {filename}: the PDF looks damaged or is not a PDF.",
            fields={"file": "Damaged PDF"},
        ) from None
    return "\n\n".join(page.strip() for page in pages if page.strip())


def _unlock(reader: PdfReader) -> bool:
    """Open a PDF "encrypted" with an empty user password, as every viewer does.

    Many PDFs are encrypted only to restrict printing or copying; a real password is the
    user's to remove, so we never ask for one.
    """
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _csv_text(decoded: str) -> str:
    """One paragraph per row; with a header, each cell becomes a "column: value" line.

    Why "column: value": a row like `42,Oslo,7` means nothing out of context, while
    "population: 42" matches a question that names the column.
    """
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            decoded[:4096], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    rows = [
        [cell.strip() for cell in row]
        for row in csv.reader(io.StringIO(decoded), dialect)
        if any(cell.strip() for cell in row)
    ]
    if not rows:
        return ""
    header = rows[0] if _looks_like_header(rows) else None
    body = rows[1:] if header else rows
    if header and not body:
        return ", ".join(header)
    paragraphs = []
    for row in body:
        if header:
            lines = [
                f"{header[i] if i < len(header) else f'column {i + 1}'}: {value}"
                for i, value in enumerate(row)
                if value
            ]
            paragraphs.append("\n".join(lines))
        else:
            paragraphs.append(", ".join(row))
    return "\n\n".join(paragraphs)


def _looks_like_header(rows: list[list[str]]) -> bool:
    """A first row of distinct, non-empty, non-numeric cells is taken as the header.

    `csv.Sniffer.has_header` guesses from column types and often says no for all-text tables,
    which are exactly the ones where column names matter most.
    """
    first = rows[0]
    if len(rows) < 2 or any(not cell for cell in first):
        return False
    if len({cell.lower() for cell in first}) != len(first):
        return False
    return not any(_is_number(cell) for cell in first)


def _is_number(value: str) -> bool:
    try:
        float(value.replace(",", ""))
    except ValueError:
        return False
    return True


def _html_text(decoded: str) -> str:
    """Visible text with headings and paragraphs kept as separate blocks."""
    decoded = decoded.replace(_PARAGRAPH, " ").replace(_LINE, " ")
    soup = BeautifulSoup(decoded, "html.parser")
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    for tag in soup.find_all("br"):
        tag.replace_with(_LINE)
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before(_PARAGRAPH)
        tag.insert_after(_PARAGRAPH)
    text = soup.get_text()
    # Source line breaks inside a paragraph are layout, not content.
    text = re.sub(r"[ \t\n\r\f\v]+", " ", text)
    text = text.replace(_LINE, "\n")
    blocks = (re.sub(r" *\n *", "\n", block).strip() for block in text.split(_PARAGRAPH))
    return "\n\n".join(block for block in blocks if block)


# --- chunking --------------------------------------------------------------------------------

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[ \t]+|[ \t]*\n[ \t]*")


def chunk(text: str, size: int = 800, overlap: int = 120) -> list[str]:
    """Split `text` into chunks of at most `size` characters for embedding.

    Paragraphs are kept whole when they fit; longer ones are split at sentence ends (or line
    breaks), and only a sentence longer than `size` is split between words. Each chunk after
    the first starts with up to `overlap` characters from the end of the previous one (cut at
    a word boundary), so a fact that straddles a boundary is still found in one piece.
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError("chunk needs size >= 1 and 0 <= overlap < size")
    chunks: list[str] = []
    current = ""
    for separator, piece in _pieces(text, size):
        if not current:
            current = piece
        elif len(current) + len(separator) + len(piece) <= size:
            current += separator + piece
        else:
            chunks.append(current)
            tail = _tail(current, min(overlap, size - len(piece) - len(separator)))
            current = f"{tail}{separator}{piece}" if tail else piece
    if current:
        chunks.append(current)
    return chunks


def _pieces(text: str, size: int) -> Iterator[tuple[str, str]]:
    """(separator before it, piece) pairs, every piece at most `size` characters."""
    for paragraph in re.split(r"\n[ \t]*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= size:
            yield "\n\n", paragraph
            continue
        separator = "\n\n"
        parts = _SENTENCE_BREAK.split(paragraph)
        breaks = _SENTENCE_BREAK.findall(paragraph)
        for index, sentence in enumerate(parts):
            if sentence:
                for piece in _split_long(sentence, size):
                    yield separator, piece
                    separator = " "
            if index < len(breaks):
                separator = "\n" if "\n" in breaks[index] else " "


def _split_long(sentence: str, size: int) -> Iterator[str]:
    """A sentence as pieces that fit: whole words, or hard cuts of a word longer than `size`."""
    if len(sentence) <= size:
        yield sentence
        return
    current = ""
    for word in sentence.split():
        while len(word) > size:
            if current:
                yield current
                current = ""
            yield word[:size]
            word = word[size:]
        if current and len(current) + 1 + len(word) > size:
            yield current
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        yield current


def _tail(text: str, limit: int) -> str:
    """The last `limit` characters of `text`, starting at a word, or "" if none fits."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    if not text[-limit - 1].isspace():
        # Cut mid-word: start at the next word instead.
        match = re.search(r"\s", tail)
        tail = tail[match.end() :] if match else ""
    return tail.strip()
