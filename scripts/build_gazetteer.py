"""Generate the national gazetteer seeds from jionlp's bundled GB/T 2260 data.

    scripts/.venv/bin/python scripts/build_gazetteer.py          # or: make gazetteer

Reads jionlp's `china_location` (provinces, prefectures, counties with their codes) and
`china_location_change` (renames since 2002, with dates), plus the hand-kept files in
scripts/gazetteer/ (statistical groupings, the 兵团, named zones, irregular short forms, today's
English names), and writes seeds/regions.csv, seeds/region_aliases.csv and
seeds/region_groupings.csv. jionlp and pypinyin are needed only here: the seeds are committed.
"""
from __future__ import annotations

import argparse
import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CURATED = Path(__file__).resolve().parent / "gazetteer"
SEEDS = ROOT / "seeds"
COUNTRY = "100000"
LEVEL_ORDER = {"country": 0, "province": 1, "grouping": 2, "corps": 2, "prefecture": 3, "division": 3,
               "county": 4, "zone": 5, "regiment": 5}
# containers in jionlp's tree that are no region of their own: their children hang on the province
CONTAINERS = ("省直辖行政区划", "自治区直辖县级行政区划", "市直辖行政区划")
# Hong Kong, Macao and Taiwan are single rows in GB/T 2260: jionlp's districts for them share one code
NO_CHILDREN = ("810000", "820000", "710000")


class BuildError(Exception):
    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")


@dataclass
class RegionRow:
    code: str
    name_zh: str
    level: str
    parent: str
    source: str
    name_en: str = ""
    jionlp_alias: str = ""   # jionlp's own short form (察右中旗, 前郭), when it has one


@dataclass
class AliasRow:
    alias: str
    code: str
    kind: str
    valid_from: str = ""
    valid_to: str = ""
    needs_context: bool = False
    note: str = ""


@dataclass
class Inputs:
    version: str
    location: str
    changes: list[str]
    words: set[str]
    ethnic: dict[str, str]
    suffixes: list[dict[str, str]]
    curated_regions: list[tuple[int, dict[str, str]]]
    curated_aliases: list[tuple[int, dict[str, str]]]
    curated_groupings: list[tuple[int, dict[str, str]]]
    names_en: dict[str, str]
    code_fixes: dict[str, str]
    context_words: set[str] = field(default_factory=set)


def read_csv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise BuildError(path, 1, f"missing columns {missing}")
        return [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader]


def load_inputs() -> Inputs:
    import jionlp  # generation-time only: see the module docstring

    d = Path(jionlp.__file__).resolve().parent / "dictionary"
    with zipfile.ZipFile(d / "china_location.zip") as z:
        location = z.read("china_location.txt").decode("utf-8")
    with zipfile.ZipFile(d / "chinese_word_dictionary.zip") as z:
        words = {line.split("\t", 1)[0] for line in
                 io.TextIOWrapper(z.open("chinese_word_dictionary.txt"), encoding="utf-8")}
    changes = (d / "china_location_change.txt").read_text(encoding="utf-8").splitlines()
    return Inputs(
        version=jionlp.__version__, location=location, changes=changes, words=words,
        ethnic={r["name_zh"]: r["name_en"] for _, r in read_csv(CURATED / "ethnic_groups.csv", ("name_zh", "name_en"))},
        suffixes=[r for _, r in read_csv(CURATED / "admin_suffixes.csv", ("suffix", "level", "short", "name_en", "min_core"))],
        curated_regions=read_csv(CURATED / "curated_regions.csv",
                                 ("region_code", "name_zh", "name_en", "level", "parent_code")),
        curated_aliases=read_csv(CURATED / "curated_aliases.csv",
                                 ("alias", "region_code", "kind", "valid_from", "valid_to", "needs_context", "note")),
        curated_groupings=read_csv(CURATED / "curated_groupings.csv", ("grouping_code", "member_code", "relation")),
        names_en={r["region_code"]: r["name_en"] for _, r in read_csv(CURATED / "names_en.csv", ("region_code", "name_en"))},
        code_fixes={r["jionlp_code"]: r["region_code"]
                    for _, r in read_csv(CURATED / "code_fixes.csv", ("jionlp_code", "region_code"))},
        # short forms the word dictionary lacks that still are words or brands (阿里, 普洱, 大理)
        context_words={r["word"] for _, r in read_csv(CURATED / "context_words.csv", ("word",))},
    )


class Names:
    """Short forms and English names from the administrative suffix and the ethnic groups."""

    def __init__(self, inputs: Inputs) -> None:
        from pypinyin import lazy_pinyin  # generation-time only

        self.pinyin = lazy_pinyin
        self.ethnic = sorted(inputs.ethnic.items(), key=lambda kv: -len(kv[0]))
        self.suffixes = sorted(inputs.suffixes, key=lambda r: -len(r["suffix"]))
        self.words = inputs.words | inputs.context_words

    def split(self, name: str, level: str) -> tuple[str, list[str], dict[str, str] | None]:
        """(core name, ethnic groups, the suffix row) of 海北藏族自治州 → (海北, [藏族], 自治州)."""
        for s in self.suffixes:
            if s["level"] == level and name.endswith(s["suffix"]) \
                    and len(name) - len(s["suffix"]) >= int(s["min_core"] or 1):
                core, groups = name[: -len(s["suffix"])], []
                if s["suffix"].startswith("自治") or s["suffix"] == "特别行政区":
                    stripped = True
                    while stripped:
                        stripped = False
                        for g, _ in self.ethnic:
                            if core.endswith(g) and len(core) > len(g):
                                core, stripped = core[: -len(g)], True
                                groups.insert(0, g)
                                break
                return core, groups, s
        return name, [], None

    def short_forms(self, name: str, level: str) -> list[str]:
        core, groups, s = self.split(name, level)
        if s is None:
            return []
        if core in dict(self.ethnic):   # 鄂温克族自治旗: the group is the whole name → 鄂温克旗
            core = core.removesuffix("族")
        forms = [core + s["short"]] if s["short"] else []
        if len(core) >= 2:
            forms.append(core)
        return [f for f in dict.fromkeys(forms) if len(f) >= 2 and f != name]

    def jionlp_forms(self, name: str, level: str, alias: str) -> list[str]:
        """jionlp's abbreviations (察右中旗, 前郭), without those that cut into the suffix (六枝特)."""
        _, _, s = self.split(name, level)
        keep = len(name) - len(s["suffix"]) if s else len(name)
        return [a for a in alias.split("/")
                if len(a) >= 2 and a != name and not (name.startswith(a) and len(a) > keep)]

    def is_word(self, form: str) -> bool:
        return form in self.words

    def english(self, name: str, level: str) -> str:
        core, groups, s = self.split(name, level)
        ethnic = dict(self.ethnic)
        if core in ethnic:
            core, groups = "", [core]
        base = "".join(self.pinyin(core)).capitalize()
        if s is None:
            return base or name
        parts = [base] + list(dict.fromkeys(ethnic[g] for g in groups))
        if len(parts) > 2:
            parts = [parts[0], " and ".join(parts[1:])]
        suffix = s["name_en"]
        if s["suffix"] == "市" and level == "county":
            suffix = "City"
        return " ".join(p for p in parts + [suffix] if p) or name


def parse_location(inputs: Inputs, source: str) -> tuple[list[RegionRow], list[str]]:
    regions: dict[str, RegionRow] = {}
    skipped: list[str] = []
    province = city = ""
    for n, line in enumerate(inputs.location.splitlines(), 1):
        depth = len(line) - len(line.lstrip("\t"))
        if depth > 2:
            continue
        parts = line.strip("\t").split("\t")
        if len(parts) != 3:
            if depth == 2 and province in NO_CHILDREN:
                continue
            raise BuildError("jionlp china_location.txt", n, f"expected name, code, alias: {line!r}")
        name, code, short = parts
        row_source = source
        if code in inputs.code_fixes:
            code, row_source = inputs.code_fixes[code], source + "; code corrected (code_fixes.csv)"
        if depth == 0:
            province, city = code, ""
            regions[code] = RegionRow(code, name, "province", COUNTRY, row_source)
            continue
        if province in NO_CHILDREN:
            continue
        if depth == 1:
            # municipalities repeat themselves as their one city; 省直辖 holds county-level cities
            if code == province or name in CONTAINERS:
                city = province
                continue
            city = code
            level = "prefecture"
        else:
            if name in CONTAINERS:
                continue
            # NBS gives functional zones (开发区, 示范区, 管委会) county codes with a 7 in the tens
            level = "zone" if code[4] == "7" else "county"
        if code in regions:
            skipped.append(f"{code} {name} (code already used by {regions[code].name_zh})")
            continue
        regions[code] = RegionRow(code, name, level, province if depth == 1 else city, row_source,
                                  jionlp_alias=short if short != name else "")
    return list(regions.values()), skipped


def build(inputs: Inputs) -> tuple[list[RegionRow], list[AliasRow], list[tuple[str, str, str]], list[str]]:
    source = f"jionlp {inputs.version} china_location (GB/T 2260)"
    change_note = f"jionlp {inputs.version} china_location_change"
    names = Names(inputs)
    regions, skipped = parse_location(inputs, source)
    regions.insert(0, RegionRow(COUNTRY, "中华人民共和国", "country", "", source, "People's Republic of China"))
    by_code = {r.code: r for r in regions}
    for line, r in inputs.curated_regions:
        if r["level"] not in LEVEL_ORDER:
            raise BuildError(CURATED / "curated_regions.csv", line, f"unknown level {r['level']!r}")
        row = RegionRow(r["region_code"], r["name_zh"], r["level"], r["parent_code"], "curated", r["name_en"])
        if row.code in by_code:
            by_code[row.code].__dict__.update(level=row.level, parent=row.parent, name_en=row.name_en or by_code[row.code].name_en)
        else:
            regions.append(row)
            by_code[row.code] = row
    for r in regions:
        r.name_en = inputs.names_en.get(r.code) or r.name_en or names.english(r.name_zh, r.level)
        if r.parent and r.parent not in by_code:
            raise BuildError("regions", 0, f"{r.code} {r.name_zh}: parent {r.parent} is not a region")

    def ancestors(code: str) -> list[str]:
        out: list[str] = []
        while code in by_code and by_code[code].parent and code not in out:
            code = by_code[code].parent
            out.append(code)
        return out

    aliases: dict[tuple[str, str], AliasRow] = {}

    def add(a: AliasRow) -> None:
        aliases.setdefault((a.alias, a.code), a)

    for r in regions:
        if r.level == "country":
            continue
        add(AliasRow(r.name_zh, r.code, "name", needs_context=len(r.name_zh) <= 2))
        if r.level == "zone" or r.source == "curated":
            continue
        for form in names.short_forms(r.name_zh, r.level) + names.jionlp_forms(r.name_zh, r.level, r.jionlp_alias):
            # a county whose short form is an everyday word (合作市, 资源县, 通道县, 新建区) is
            # written in full whenever the county is meant: the bare word is left out
            if r.level == "county" and names.is_word(form):
                continue
            add(AliasRow(form, r.code, "short",
                         needs_context=names.is_word(form) or (r.level == "county" and len(form) <= 2)))
    # 和田 is 和田地区, not 和田县: a short form an ancestor also has is the ancestor's
    owners: dict[str, set[str]] = {}
    for a in aliases.values():
        owners.setdefault(a.alias, set()).add(a.code)
    for key, a in list(aliases.items()):
        if a.kind == "short" and owners[a.alias] & set(ancestors(a.code)):
            del aliases[key]

    index = {(r.parent, r.name_zh): r.code for r in regions}
    index.update({(COUNTRY, r.name_zh): r.code for r in regions if r.level == "province"})

    def lookup(province: str, city: str | None, county: str | None) -> str:
        p = index.get((COUNTRY, province), "")
        c = index.get((p, city), "") if city else p
        if city and not c:  # 直辖 cities and municipalities: the county hangs on the province
            c = p if city in (province, *CONTAINERS) else ""
        return index.get((c, county), "") or index.get((p, county), "") if county else c

    for n, line in enumerate(inputs.changes, 1):
        if "=>" not in line:
            continue
        old, new = line.split("=>")
        old_f, new_f = old.split("\t"), new.split("\t")
        date = old_f[0]
        if len(old_f) == 8:
            old_name, level, target = old_f[6], "county", lookup(*new_f[:3])
        elif len(old_f) == 6:
            old_name, level, target = old_f[4], "prefecture", lookup(new_f[0], new_f[1], None)
        else:
            raise BuildError("jionlp china_location_change.txt", n, f"unexpected fields: {line!r}")
        # 城区, 郊区, 矿区 were names in many cities: without their city they name nothing
        if not target or len(old_name) <= 2:
            continue
        for form in [old_name] + names.short_forms(old_name, level):
            if (form, target) in aliases:
                continue
            add(AliasRow(form, target, "historical", valid_to=date,
                         needs_context=form != old_name and (names.is_word(form) or (level == "county" and len(form) <= 2)),
                         note=f"{change_note}: {old_name} → {by_code[target].name_zh}"))

    for line, r in inputs.curated_aliases:
        if r["region_code"] not in by_code:
            raise BuildError(CURATED / "curated_aliases.csv", line, f"region_code {r['region_code']!r} is not a region")
        if r["needs_context"] not in ("true", "false"):
            raise BuildError(CURATED / "curated_aliases.csv", line, "needs_context must be true or false")
        a = AliasRow(r["alias"], r["region_code"], r["kind"], r["valid_from"], r["valid_to"],
                     r["needs_context"] == "true", r["note"])
        aliases[(a.alias, a.code)] = a   # the hand-kept row is the better judgement
    groupings = []
    for line, r in inputs.curated_groupings:
        for col in ("grouping_code", "member_code"):
            if r[col] not in by_code:
                raise BuildError(CURATED / "curated_groupings.csv", line, f"{col} {r[col]!r} is not a region")
        groupings.append((r["grouping_code"], r["member_code"], r["relation"]))

    def region_key(r: RegionRow) -> tuple:
        return (not r.code.isdigit(), r.code)

    regions.sort(key=region_key)
    rank = {r.code: (LEVEL_ORDER[r.level], i) for i, r in enumerate(regions)}
    out_aliases = sorted(aliases.values(), key=lambda a: (a.alias, rank[a.code]))
    return regions, out_aliases, groupings, skipped


def write(seeds: Path, regions: list[RegionRow], aliases: list[AliasRow], groupings: list[tuple[str, str, str]]) -> None:
    with (seeds / "regions.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["region_code", "name_zh", "name_en", "level", "parent_code", "source"])
        w.writerows([r.code, r.name_zh, r.name_en, r.level, r.parent, r.source] for r in regions)
    with (seeds / "region_aliases.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["alias", "region_code", "kind", "valid_from", "valid_to", "needs_context", "note"])
        w.writerows([a.alias, a.code, a.kind, a.valid_from, a.valid_to, str(a.needs_context).lower(), a.note]
                    for a in aliases)
    with (seeds / "region_groupings.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["grouping_code", "member_code", "relation"])
        w.writerows(groupings)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=SEEDS, help="directory to write the three seeds into")
    args = ap.parse_args(argv)
    regions, aliases, groupings, skipped = build(load_inputs())
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out, regions, aliases, groupings)
    for s in skipped:
        print(f"skipped {s}")
    print(f"{len(regions)} regions, {len(aliases)} aliases, {len(groupings)} grouping members → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
