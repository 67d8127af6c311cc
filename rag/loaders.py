"""Turn a briefing file into text plus metadata.

Every format is reduced to Markdown-shaped text (``#`` headings, ``|`` tables)
so that one chunker handles them all, and that text is what citation offsets
point into.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from datetime import date
from pathlib import Path

from .models import Document

SUPPORTED = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx"}

# Extracted text beyond this is refused: embedding runs at tens of chunks a
# second on a CPU, so 2 million characters (~4,000 chunks) already takes
# minutes, and a 50 MB text dump would take hours while holding the write lock.
MAX_TEXT_CHARS = 2_000_000

# A .docx is a zip, and python-docx unpacks every part into memory before
# anything is read, so a 1 MB file of deflated zeros can cost gigabytes. The
# loader does not see the settings' max_file_mb, so the bounds are fixed here:
# document.xml for MAX_TEXT_CHARS of text is ~20-40 MB of XML, and pictures
# barely compress, so a real briefing that fits the 60 MB file limit unpacks to
# well under 200 MB; real parts over 1 MB compress 3-20 to 1, a bomb ~1000 to 1.
MAX_DOCX_UNPACKED = 200 * 2**20  # bytes, all parts together
MAX_DOCX_RATIO = 100  # uncompressed / compressed, for parts over 1 MB
MAX_DOCX_PARTS = 10_000


class LoadError(Exception):
    """A file that cannot be ingested; the message tells the user what to do."""


_DATE_LINE = re.compile(r"^\s*\**date\**\s*[:\-]\s*\**\s*(.+?)\s*$", re.I | re.M)
_REGION_LINE = re.compile(r"^\s*\**region\**\s*[:\-]\s*\**\s*(.+?)\s*\**\s*$", re.I | re.M)


def is_metadata_line(line: str) -> bool:
    """Whether ``line`` is a briefing's ``Date:`` or ``Region:`` line: the
    briefing's own metadata (read into its date and region), not a statement
    about the events it reports."""
    return bool(_DATE_LINE.fullmatch(line) or _REGION_LINE.fullmatch(line))


_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_FULL_DATE = re.compile(
    rf"\b(\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}\s+(?:{_MONTHS})\.?\s+\d{{4}}"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}})\b"
)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


_DAY_MONTH = re.compile(
    rf"^(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTHS})\.?|(?P<m2>{_MONTHS})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?)"
    rf"(?:,?\s+(?P<year>(?:19|20)\d\d))?$",
    re.I,
)
# A wire dateline opening the first paragraph: "BEIJING, 30 Nov (Reuters) – ",
# "MANILA, Philippines, March 14, 2024 (AP) — ", "DHAKA – ". The place is in
# capitals; what sits between it and the agency or dash is a country and/or a date.
_DATELINE = re.compile(
    r"^\s*(?P<place>(?=[A-Z.'’ -]{3})[A-Z][A-Z.'’-]*(?:\s+[A-Z][A-Z.'’-]*){0,3})"
    r"(?P<rest>(?:\s*,\s*[^()\n–—]{2,40}?)?)"
    r"\s*(?:\((?P<agency>[^()\n]{1,40})\))?\s*(?:--?|–|—)\s+\S"
)
# Places whose region, in the sample corpus's vocabulary, is not in doubt.
# Cities with a namesake elsewhere (San José, Kingston, Santiago, Panama City)
# and countries that straddle regions (Russia, Turkey, Egypt, Afghanistan) are
# left out: a dateline from them gives no region.
_REGION_PLACES = {
    "East Asia": "Beijing, Shanghai, Hong Kong, Taipei, Tokyo, Osaka, Seoul, Busan, Pyongyang, Ulaanbaatar, "
    "China, Taiwan, Japan, South Korea, North Korea, Mongolia",
    "Southeast Asia": "Manila, Jakarta, Hanoi, Ho Chi Minh City, Bangkok, Kuala Lumpur, Singapore, Phnom Penh, "
    "Vientiane, Yangon, Naypyitaw, Nay Pyi Taw, Naypyidaw, Dili, Bandar Seri Begawan, Philippines, Indonesia, "
    "Vietnam, Thailand, Malaysia, Cambodia, Laos, Myanmar, Timor-Leste, Brunei",
    "South Asia": "New Delhi, Mumbai, Kolkata, Chennai, Islamabad, Karachi, Lahore, Dhaka, Chittagong, Chattogram, "
    "Kathmandu, Colombo, Thimphu, India, Pakistan, Bangladesh, Nepal, Sri Lanka, Bhutan, Maldives",
    "Middle East": "Tehran, Baghdad, Damascus, Beirut, Amman, Riyadh, Jeddah, Doha, Abu Dhabi, Dubai, Muscat, "
    "Manama, Kuwait City, Sanaa, Aden, Jerusalem, Tel Aviv, Gaza, Ramallah, Iran, Iraq, Syria, Lebanon, Jordan, "
    "Saudi Arabia, Qatar, United Arab Emirates, UAE, Oman, Bahrain, Kuwait, Yemen, Israel",
    "Eastern Europe": "Kyiv, Kiev, Kharkiv, Odesa, Odessa, Lviv, Minsk, Chisinau, Ukraine, Belarus, Moldova",
    "Africa": "Abuja, Lagos, Niamey, Bamako, Ouagadougou, Dakar, Conakry, Freetown, Monrovia, Bissau, Accra, Lome, "
    "Cotonou, Malabo, Yaounde, Douala, Libreville, Kinshasa, Brazzaville, Luanda, Nairobi, Mogadishu, "
    "Addis Ababa, Kampala, Kigali, Juba, Khartoum, N'Djamena, Maputo, Harare, Lusaka, Pretoria, Johannesburg, "
    "Dar es Salaam, Abidjan, Nigeria, Niger, Mali, Burkina Faso, Senegal, Guinea, Sierra Leone, Liberia, "
    "Guinea-Bissau, Ghana, Togo, Benin, Equatorial Guinea, Cameroon, Gabon, Angola, Kenya, Somalia, Ethiopia, "
    "Uganda, Rwanda, South Sudan, Sudan, Chad, Mozambique, Zimbabwe, Zambia, South Africa, Tanzania, "
    "Ivory Coast, Côte d'Ivoire",
    "Latin America": "Mexico City, Guatemala City, San Salvador, Tegucigalpa, Managua, Bogota, Bogotá, Caracas, "
    "Quito, Lima, La Paz, Buenos Aires, Montevideo, Asuncion, Asunción, Brasilia, Brasília, Sao Paulo, São Paulo, "
    "Rio de Janeiro, Havana, Santo Domingo, Port-au-Prince, Roseau, Port of Spain, Bridgetown, Castries, Mexico, "
    "Guatemala, El Salvador, Honduras, Nicaragua, Colombia, Venezuela, Ecuador, Peru, Bolivia, Argentina, "
    "Uruguay, Paraguay, Brazil, Cuba, Dominican Republic, Haiti, Dominica, Trinidad and Tobago, Barbados",
    "Arctic": "Longyearbyen, Nuuk, Murmansk, Tromso, Tromsø, Svalbard, Greenland",
}
_PLACES = {name.strip().lower(): region for region, names in _REGION_PLACES.items() for name in names.split(",")}


def parse_date(raw: str) -> str | None:
    """Normalise one full written date (as matched by _FULL_DATE) to ISO."""
    from dateutil import parser

    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        pass
    try:
        return parser.parse(raw.replace("Sept", "Sep")).date().isoformat()
    except (ValueError, OverflowError):
        return None


def _first_paragraph(text: str) -> str:
    """The lead: the first run of prose lines that is not a heading (``#`` or
    plain), a ``Key: value`` line, a list or a table."""
    from .chunking import _BULLET, _TABLE_LINE, plain_headings

    headings = plain_headings(text)
    lead: list[str] = []
    pos = 0
    for line in text.split("\n"):
        here, pos = pos, pos + len(line) + 1
        bare = line.strip()
        if (
            not bare
            or any(h.start < pos and here <= h.end for h in headings)
            or _HEADING.match(bare)
            or _BULLET.match(bare)
            or _TABLE_LINE.match(bare)
            or (re.match(r"^[^:]{1,30}:\s", bare) and len(bare) < 120 and not _DATELINE.match(bare))
        ):
            if lead:
                break
            continue
        lead.append(line)
    return "\n".join(lead)


def _distinct_dates(text: str) -> list[str]:
    found: list[str] = []
    for match in _FULL_DATE.finditer(text):
        iso = parse_date(match.group(1))
        if iso and iso not in found:
            found.append(iso)
    return found


def _dateline(text: str) -> re.Match | None:
    return _DATELINE.match(_first_paragraph(text))


def _dateline_date(match: re.Match, text: str) -> str | None:
    """The dateline's date; a date without a year takes the year only from full
    dates of that same month elsewhere in the text, and only when they agree."""
    rest = [p.strip() for p in match.group("rest").split(",") if p.strip()]
    for i in range(len(rest)):
        day_month = _DAY_MONTH.match(", ".join(rest[i:]))
        if day_month:
            break
    else:
        return None
    day = int(day_month.group("d1") or day_month.group("d2"))
    month_name = (day_month.group("m1") or day_month.group("m2")).lower()[:3]
    month = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].index(month_name) + 1
    year = day_month.group("year")
    if year is None:
        years = {iso[:4] for iso in _distinct_dates(text) if int(iso[5:7]) == month}
        if len(years) != 1:
            return None
        year = years.pop()
    try:
        return date(int(year), month, day).isoformat()
    except ValueError:
        return None


def find_date(text: str) -> str | None:
    """The briefing's date, only where the text gives it unambiguously: a
    ``Date:`` line; else a dateline's date ("BEIJING, 30 Nov (Reuters) –",
    its year from the text when that is not in doubt); else the one date of the
    lead paragraph. A date further down (a background event, the next round of
    talks) is not the briefing's, and several dates in the lead leave no rule
    to choose: None, never a guess."""
    line = _DATE_LINE.search(text)
    if line:
        found = _FULL_DATE.search(line.group(1))
        iso = parse_date(found.group(1)) if found else None
        if iso:
            return iso
    dateline = _dateline(text)
    if dateline:
        iso = _dateline_date(dateline, text)
        if iso:
            return iso
    lead = _distinct_dates(_first_paragraph(text))
    return lead[0] if len(lead) == 1 else None


def find_region(text: str) -> str | None:
    """The ``Region:`` line; else the region of a dateline's place when it is
    one of the places listed in ``_REGION_PLACES`` (and its country, if given,
    agrees); else None."""
    match = _REGION_LINE.search(text)
    if match:
        return match.group(1).strip(" *_")
    dateline = _dateline(text)
    if not dateline:
        return None
    names = [dateline.group("place")] + [p for p in dateline.group("rest").split(",") if p.strip()]
    regions = set()
    for name in names:
        key = " ".join(name.lower().replace("’", "'").split()).strip(".")
        if key in _PLACES:
            regions.add(_PLACES[key])
        elif name is names[0]:
            return None  # the place itself is not one we can place
    return regions.pop() if len(regions) == 1 else None


def find_title(text: str, path: Path) -> str:
    """A ``#`` heading; else for plain text its title line (a ``Title:`` line or
    a heading at the top) or its first heading; else the file name."""
    match = _HEADING.search(text)
    if match:
        return match.group(1).strip()
    from .chunking import plain_headings

    headings = plain_headings(text)
    if headings:
        top = [h for h in headings if h.level == 1]
        return (top or headings)[0].title
    return path.stem.replace("_", " ").replace("-", " ").strip()


# Single-byte code pages that Western-language briefings actually arrive in.
# charset_normalizer often ranks an exotic one (iso8859_14, cp1250) level with
# these on short texts, which turns « » and curly quotes into other letters.
_WESTERN = ("cp1252", "latin_1", "iso8859_15")


def _decode(data: bytes, path: Path) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # "Unicode" from Notepad/Word
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:8192]:
        raise LoadError(f"{path.name}: looks like binary data, not text; check the file type")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # UTF-8 with a few damaged bytes (a bad paste, a cut-off copy): keep the
    # text and mark each bad byte with U+FFFD rather than re-reading the whole
    # file in another code page, which would garble every non-ASCII letter.
    text = data.decode("utf-8-sig", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    if good > 0 and bad <= max(2, good, len(text) // 200):
        return text
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise LoadError(f"{path.name}: not valid UTF-8 and no other text encoding fits; re-save it as UTF-8")
    best = matches[0]
    for match in matches:
        if match.percent_chaos <= best.percent_chaos and set(match.could_be_from_charset) & set(_WESTERN):
            western = next(e for e in _WESTERN if e in match.could_be_from_charset)
            return data.decode(western, errors="replace")
    return str(best)


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Control characters other than newline and tab only confuse tokenizers.
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text)


def _markdown_table(rows: list[list[str]]) -> str:
    rows = [[cell.replace("|", "/").replace("\n", " ").strip() for cell in row] for row in rows if row]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _read_html(data: bytes, path: Path) -> str:
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    soup = BeautifulSoup(_decode(data, path), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "object", "embed", "svg"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    text = markdownify(str(soup), heading_style="ATX", strip=["a", "img"], escape_misc=False)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if title and not _HEADING.search(text):
        text = f"# {title}\n\n{text}"
    return text


def _read_pdf(data: bytes, path: Path) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{path.name}: the PDF is password-protected; save an unlocked copy and ingest that")
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise LoadError(f"{path.name}: the PDF is damaged or truncated ({exc}); export it again") from exc
    except Exception as exc:  # pypdf raises many types on broken files
        raise LoadError(f"{path.name}: the PDF could not be read ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text.strip():
        raise LoadError(f"{path.name}: the PDF has no text layer (a scan?); run OCR on it first")
    return text


def _check_docx_sizes(zf, path: Path) -> None:
    """Refuse a zip bomb before python-docx unpacks it: by the sizes the headers declare,
    then by the bytes the parts really unpack to (read in pieces, never more than the limit)."""
    infos = zf.infolist()
    if len(infos) > MAX_DOCX_PARTS:
        raise LoadError(
            f"{path.name}: the .docx holds {len(infos):,} parts, over the limit of {MAX_DOCX_PARTS:,}; refused"
        )
    limit_mb = MAX_DOCX_UNPACKED // 2**20
    declared = sum(i.file_size for i in infos)
    if declared > MAX_DOCX_UNPACKED:
        raise LoadError(
            f"{path.name}: the .docx would unpack to {declared / 2**20:,.0f} MB, over the {limit_mb} MB limit "
            "(a zip bomb?); refused"
        )
    for info in infos:
        if info.file_size > 2**20 and info.file_size > MAX_DOCX_RATIO * max(info.compress_size, 1):
            raise LoadError(
                f"{path.name}: its part {info.filename} is compressed "
                f"{info.file_size / max(info.compress_size, 1):,.0f} "
                f"to 1, over the limit of {MAX_DOCX_RATIO} to 1 (a zip bomb?); refused"
            )
    left = MAX_DOCX_UNPACKED  # the headers could lie: count what really comes out
    for info in infos:
        with zf.open(info) as part:
            while piece := part.read(min(2**20, left + 1)):
                left -= len(piece)
                if left < 0:
                    raise LoadError(
                        f"{path.name}: the .docx unpacks to more than {limit_mb} MB "
                        f"(at {info.filename}; a zip bomb?); refused"
                    )


def _read_docx(data: bytes, path: Path) -> str:
    import io
    import zipfile

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            _check_docx_sizes(zf, path)
        document = docx.Document(io.BytesIO(data))
    except LoadError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"{path.name}: not a valid .docx file ({exc})") from exc
    except Exception as exc:  # e.g. lxml's XMLSyntaxError for a damaged document.xml
        raise LoadError(f"{path.name}: the .docx is damaged ({type(exc).__name__}); save it again from Word") from exc
    parts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if not text:
                continue
            style = (block.style.name or "").lower() if block.style is not None else ""
            level = re.match(r"heading (\d)", style)
            if style == "title":
                parts.append(f"# {text}")
            elif level:
                parts.append("#" * min(int(level.group(1)) + 1, 6) + f" {text}")
            else:
                parts.append(text)
        elif isinstance(block, Table):
            parts.append(_markdown_table([[c.text for c in row.cells] for row in block.rows]))
    return "\n\n".join(parts)


def read_text(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in {".html", ".htm"}:
        text = _read_html(data, path)
    elif suffix == ".pdf":
        if not data.startswith(b"%PDF"):
            raise LoadError(f"{path.name}: named .pdf but is not a PDF file")
        text = _read_pdf(data, path)
    elif suffix == ".docx":
        text = _read_docx(data, path)
    elif suffix in {".md", ".markdown", ".txt"}:
        if data.startswith(b"%PDF") or data.startswith(b"PK\x03\x04"):
            raise LoadError(f"{path.name}: named {suffix} but holds a PDF or Office file; rename it")
        text = _decode(data, path)
    else:
        raise LoadError(f"{path.name}: unsupported file type {suffix or '(none)'}; use {', '.join(sorted(SUPPORTED))}")
    text = _normalise(text).strip("\n")
    if not text.strip():
        raise LoadError(f"{path.name}: the file holds no text")
    if len(text) > MAX_TEXT_CHARS:
        raise LoadError(
            f"{path.name}: {len(text) / 1e6:.1f} million characters of text is over the limit of "
            f"{MAX_TEXT_CHARS / 1e6:.0f} million for one briefing; split it into smaller files"
        )
    return text


def load(path: Path, data: bytes | None = None) -> Document:
    """Read one file into a Document; raises LoadError with a user-facing message."""
    if data is None:
        try:
            data = path.read_bytes()
        except PermissionError as exc:
            raise LoadError(f"{path.name}: permission denied; make the file readable") from exc
        except OSError as exc:
            raise LoadError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    if not data:
        raise LoadError(f"{path.name}: the file is empty")
    text = read_text(path, data)
    return Document(
        doc_id=hashlib.sha256(text.encode()).hexdigest(),
        source=str(path.resolve()),
        title=find_title(text, path),
        date=find_date(text),
        region=find_region(text),
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
    )
