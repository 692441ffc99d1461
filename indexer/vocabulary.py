"""The procedure and risk vocabulary: data in ``vocabulary.toml``, loaded and checked here.

The vocabulary is what turns "nose job", "rhinoplasty" and "隆鼻" into one canonical id, so it
lives as a data file editors can read and extend. A user file ``<data_dir>/vocabulary.toml``
with the same layout merges over the built-in one; anything wrong in it is reported as a
``BadInputError`` naming the file, the entry (with its line) and the field, because a typo in a
vocabulary silently dropping a term would be much harder to notice than an error.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib

from corpus.errors import BadInputError
from corpus.paths import USER_VOCABULARY_NAME

BUILTIN_PATH = Path(__file__).with_name("vocabulary.toml")

KINDS = {"procedures": "procedure", "risks": "risk"}
GROUPS = (
    "injectables", "energy/laser", "skin", "facial surgery", "body surgery", "breast", "hair",
    "minimally invasive",
)
SEVERITIES = ("common", "serious", "rare-severe")
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FIELDS = {
    "procedure": {"name", "synonyms", "group", "areas", "enabled"},
    "risk": {"name", "synonyms", "severity", "enabled"},
}


@dataclass
class Term:
    """One canonical procedure or risk and every way of writing it."""

    id: str
    name: str
    kind: str  # "procedure" | "risk"
    synonyms: list[str]  # every surface form (name or its parts included), English and Chinese
    group: str | None = None  # procedures only
    areas: list[str] = field(default_factory=list)
    severity: str | None = None  # risks only: common | serious | rare-severe

    def to_dict(self) -> dict:
        """Plain dict for JSON output (``vocab --format json``)."""
        data = {"id": self.id, "name": self.name, "kind": self.kind, "synonyms": self.synonyms}
        if self.kind == "procedure":
            data.update(group=self.group, areas=self.areas)
        else:
            data["severity"] = self.severity
        return data


@dataclass
class Vocabulary:
    """All procedures and risks, with look-up by any surface form."""

    procedures: dict[str, Term]
    risks: dict[str, Term]
    ignore: list[str] = field(default_factory=list)  # phrases the matcher consumes silently
    _forms: dict[str, Term] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Procedures win a surface form shared with a risk: ids are looked up mostly as procedures.
        for term in [*self.risks.values(), *self.procedures.values()]:
            for form in [term.id, term.name, *term.synonyms]:
                self._forms[_fold(form)] = term

    def term(self, id: str) -> Term | None:
        return self.procedures.get(id) or self.risks.get(id)

    def terms(self) -> list[Term]:
        return [*self.procedures.values(), *self.risks.values()]

    def lookup(self, text: str) -> Term | None:
        """The term whose id, name or any synonym is ``text`` (case and spacing ignored)."""
        return self._forms.get(_fold(text))

    def suggest(self, text: str, n: int = 3) -> list[str]:
        """Ids of the terms closest to ``text``, for "did you mean ...?" messages."""
        hits = difflib.get_close_matches(_fold(text), list(self._forms), n=n * 4, cutoff=0.6)
        ids: list[str] = []
        for hit in hits:
            term_id = self._forms[hit].id
            if term_id not in ids:
                ids.append(term_id)
        return ids[:n]

    def synonym_groups(self) -> list[Term]:
        """Every term, so the index can expand a query word into all its synonyms.

        Forms with a gap ("injury to ... nerve") are patterns for the annotator, not words a
        searcher types, so they are left out here.
        """
        return [replace(t, synonyms=[s for s in t.synonyms if not _is_pattern(s)])
                for t in self.terms()]


def _name_forms(name: str) -> list[str]:
    """Surface forms in a display name: "Abdominoplasty (tummy tuck)" gives both parts,
    since nobody writes the parenthesised name in an article."""
    return [part for part in re.split(r"\s*[()/]\s*", name) if part.strip()]


def _is_pattern(form: str) -> bool:
    return "..." in form or "…" in form


def _fold(text: str) -> str:
    return " ".join(to_simplified(text).lower().replace("-", " ").split())


# Traditional -> simplified for the characters our Chinese forms use, so Taiwan and Hong Kong
# articles ("雙眼皮", "腫脹", "併發症") match the simplified vocabulary without a second spelling
# of every form. Characters outside the vocabulary do not matter to the matcher.
_TRADITIONAL = (
    "絲喪豐喬體傷衝沖凍減劑剝雙發髮變後壞塊墊聲復複妝學對層乾並併應異強懸攣損換無舊術桿楊氣溝淚漿滲滾點燙熱煥瑪現暢療皰癢癱皺"
    "著瞼矯種積稱緊紅纖紋線組細織經結繡綜縮羥膚腫脹脈腦膿脫臉節藍視覺調質軟達過適針閉間陰陣際險難霧靜頸頰頜頦頻顏額顴風黃內頭"
    "爾開嚥電飛痠癒膠導會沒擔義縫衛貼蓋鬆輕醫韓"
)
_SIMPLIFIED = (
    "丝丧丰乔体伤冲冲冻减剂剥双发发变后坏块垫声复复妆学对层干并并应异强悬挛损换无旧术杆杨气沟泪浆渗滚点烫热焕玛现畅疗疱痒瘫皱"
    "着睑矫种积称紧红纤纹线组细织经结绣综缩羟肤肿胀脉脑脓脱脸节蓝视觉调质软达过适针闭间阴阵际险难雾静颈颊颌颏频颜额颧风黄内头"
    "尔开咽电飞酸愈胶导会没担义缝卫贴盖松轻医韩"
)
_TO_SIMPLIFIED = str.maketrans(_TRADITIONAL, _SIMPLIFIED)


def to_simplified(text: str) -> str:
    """``text`` with traditional characters of the vocabulary's forms made simplified."""
    return text.translate(_TO_SIMPLIFIED)


# ---------------------------------------------------------------------------- loading
_cache: dict[tuple[str, tuple[int, int] | None], Vocabulary] = {}


def load_vocabulary(data_dir: Path | None = None) -> Vocabulary:
    """The built-in vocabulary, merged with ``<data_dir>/vocabulary.toml`` when it exists.

    Cached per user-file path and modification time, so the crawler can ask for it per page
    and an edited file is still picked up without a restart.
    """
    user = Path(data_dir) / USER_VOCABULARY_NAME if data_dir is not None else None
    if user is not None and user.exists() and not user.is_file():
        raise BadInputError(f"{user} is not a file; a user vocabulary must be a TOML file")
    stamp = None
    if user is not None and user.is_file():
        stat = user.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    key = (str(user) if stamp is not None else "", stamp)
    if key not in _cache:
        raw = _read(BUILTIN_PATH)
        if stamp is not None:
            raw = _merge(raw, _read(user), user)
        for old in [k for k in _cache if k[0] == key[0]]:
            del _cache[old]  # an edited file replaces its previous version
        _cache[key] = _build(raw, user if stamp is not None else BUILTIN_PATH)
    return _cache[key]


def _read(path: Path) -> dict:
    """Parse and validate one vocabulary file into ``{section: {id: entry}}`` plus ignore list."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read vocabulary file ({exc.strerror})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{path}: invalid TOML: {exc}") from exc
    lines = _entry_lines(text)
    unknown = set(data) - {"procedures", "risks", "ignore"}
    if unknown:
        raise BadInputError(
            f"{path}: unknown section [{sorted(unknown)[0]}]; expected [procedures.ID], "
            "[risks.ID] or [ignore]")
    out: dict = {"procedures": {}, "risks": {}, "ignore": []}
    ignore = data.get("ignore", {})
    phrases = ignore.get("phrases", []) if isinstance(ignore, dict) else None
    if not _is_str_list(phrases):
        raise BadInputError(f"{path}: [ignore] field 'phrases' must be a list of strings")
    out["ignore"] = list(phrases)
    for section, kind in KINDS.items():
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise BadInputError(f"{path}: '{section}' must be a table of [{section}.ID] entries")
        for term_id, entry in entries.items():
            where = f"{path}, line {lines.get((section, term_id), '?')}, [{section}.{term_id}]"
            _check_entry(where, kind, term_id, entry)
            out[section][term_id] = entry
    return out


def _check_entry(where: str, kind: str, term_id: str, entry: object) -> None:
    if not _ID_RE.match(term_id):
        raise BadInputError(f"{where}: id must be lower-case words joined by '-' (e.g. 'nose-job')")
    if not isinstance(entry, dict):
        raise BadInputError(f"{where}: must be a table with fields")
    extra = set(entry) - _FIELDS[kind]
    if extra:
        raise BadInputError(
            f"{where}: unknown field '{sorted(extra)[0]}' "
            f"(allowed: {', '.join(sorted(_FIELDS[kind]))})")
    if "name" in entry and (not isinstance(entry["name"], str) or not entry["name"].strip()):
        raise BadInputError(f"{where}: field 'name' must be a non-empty string")
    for key in ("synonyms", "areas"):
        if key in entry and not _is_str_list(entry[key]):
            raise BadInputError(f"{where}: field '{key}' must be a list of non-empty strings")
    if "group" in entry and entry["group"] not in GROUPS:
        raise BadInputError(
            f"{where}: field 'group' is {entry['group']!r}; expected one of {', '.join(GROUPS)}")
    if "severity" in entry and entry["severity"] not in SEVERITIES:
        raise BadInputError(
            f"{where}: field 'severity' is {entry['severity']!r}; "
            f"expected one of {', '.join(SEVERITIES)}")
    if "enabled" in entry and not isinstance(entry["enabled"], bool):
        raise BadInputError(f"{where}: field 'enabled' must be true or false")


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _entry_lines(text: str) -> dict[tuple[str, str], int]:
    """Line numbers of ``[section.id]`` headers, so errors can point editors at the entry."""
    found = {}
    header = re.compile(r'^\s*\[\s*(procedures|risks)\s*\.\s*"?([^\]"]+)"?\s*\]')
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            found[(match.group(1), match.group(2).strip())] = number
    return found


def _merge(base: dict, user: dict, path: Path) -> dict:
    """User entries override given fields of built-in ones and add their synonyms."""
    merged = {"procedures": dict(base["procedures"]), "risks": dict(base["risks"]),
              "ignore": [*base["ignore"], *user["ignore"]]}
    for section in KINDS:
        for term_id, entry in user[section].items():
            other = "risks" if section == "procedures" else "procedures"
            if term_id in merged[other]:
                raise BadInputError(
                    f"{path}: [{section}.{term_id}]: '{term_id}' is already a "
                    f"{KINDS[other]} id; pick another id")
            old = merged[section].get(term_id)
            if old is None:
                merged[section][term_id] = dict(entry)
                continue
            new = {**old, **entry}
            new["synonyms"] = [*old.get("synonyms", []), *entry.get("synonyms", [])]
            merged[section][term_id] = new
    # A form the user gives to one term is taken away from any built-in term that had it:
    # the editor's file says what that form means here.
    claimed = {_fold(form): term_id for section in KINDS
               for term_id, entry in user[section].items() for form in entry.get("synonyms", [])}
    for section in KINDS:
        for term_id, entry in merged[section].items():
            forms = entry.get("synonyms", [])
            kept = [f for f in forms if claimed.get(_fold(f), term_id) == term_id]
            if len(kept) != len(forms):
                merged[section][term_id] = {**entry, "synonyms": kept}
    return merged


def _build(raw: dict, path: Path) -> Vocabulary:
    """Turn checked entries into Terms; new terms must have every required field."""
    built: dict[str, dict[str, Term]] = {"procedures": {}, "risks": {}}
    both = set(raw["procedures"]) & set(raw["risks"])
    if both:
        raise BadInputError(f"{path}: '{sorted(both)[0]}' is both a procedure and a risk id")
    for section, kind in KINDS.items():
        required = ("name", "group") if kind == "procedure" else ("name", "severity")
        for term_id, entry in raw[section].items():
            if not entry.get("enabled", True):
                continue
            for key in required:
                if key not in entry:
                    raise BadInputError(
                        f"{path}: [{section}.{term_id}] is missing the required field '{key}'")
            synonyms: list[str] = []
            for form in [*_name_forms(entry["name"]), *entry.get("synonyms", [])]:
                if form.strip() and form.strip().lower() not in {s.lower() for s in synonyms}:
                    synonyms.append(form.strip())
            built[section][term_id] = Term(
                id=term_id, name=entry["name"], kind=kind, synonyms=synonyms,
                group=entry.get("group") if kind == "procedure" else None,
                areas=list(entry.get("areas", [])) if kind == "procedure" else [],
                severity=entry.get("severity") if kind == "risk" else None,
            )
    return Vocabulary(procedures=built["procedures"], risks=built["risks"],
                      ignore=list(raw["ignore"]))
