"""YAML read with line numbers and validated with messages that name file, line, field and a fix.

The one helper behind every YAML file avfleet reads (agent config, device profiles, controller
settings). A leaf: it imports nothing of avfleet, so every layer may use it.

    tree = load_yaml(text, source="agent.yaml")         # ruamel round-trip tree; YamlCheckError
    data = plain(tree)                                  # plain dicts and lists for pydantic
    try:
        Model.model_validate(data)
    except ValidationError as exc:
        raise YamlCheckError(validation_problems(exc, tree, "agent.yaml", model=Model)) from None

Every problem reads `FILE:LINE: field.path: problem (did you mean 'x'?)`, and all of them are
reported, not only the first. The loader refuses what a hostile or broken file could do to the
process before anything looks at its values: alias bombs ("billion laughs", bounded by the number of
nodes after expanding aliases), deep nesting (ruamel's scanner slows down sharply with flow depth,
so that is checked on the raw text first), very large files, and non-finite numbers (.nan, .inf).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, get_args, get_origin

MAX_BYTES = 1 << 20  # a config or profile file is a few KB; 1 MiB leaves room and bounds the parse
MAX_DEPTH = 32  # nesting of mappings and sequences; our files need about 6
MAX_NODES = 100_000  # scalars and collections after expanding aliases

# pydantic error types of the losing branch of "one item or a list of items": noise when the other
# branch reports a problem deeper down.
_BRANCH_NOISE = frozenset({"list_type", "model_type", "dict_type", "model_attributes_type"})
_TYPE_LABELS = frozenset({"int", "str", "float", "bool", "bytes", "none", "list", "dict", "set", "tuple",
                          "decimal", "date", "datetime", "time", "url", "json-or-python", "lax-or-strict",
                          "chain", "union", "is-instance", "nullable"})


@dataclass(frozen=True)
class YamlProblem:
    """One problem of one file: where it is, which field, what is wrong, and maybe the fix."""

    file: str
    line: int | None  # 1-based
    field: str
    message: str
    suggestion: str | None = None

    @property
    def source(self) -> str:  # the agent's older name for `file`
        return self.file

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"{where}: {self.field}: {self.message}{hint}"


class YamlCheckError(ValueError):
    """The file cannot be used; `problems` holds one entry per problem, each printed on one line."""

    def __init__(self, problems: list[YamlProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---- loading ------------------------------------------------------------------------------------


def read_yaml_file(path: Any, *, max_bytes: int = MAX_BYTES, **limits: Any) -> Any:
    """Read and load one file (see `load_yaml`); a missing or unreadable file is a YamlCheckError."""
    from pathlib import Path

    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise YamlCheckError([YamlProblem(source, None, "(file)", "no such file")]) from None
    except OSError as exc:
        raise YamlCheckError([YamlProblem(source, None, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    if len(raw) > max_bytes:
        raise YamlCheckError([YamlProblem(source, None, "(file)", f"larger than {max_bytes} bytes; refused")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlCheckError([YamlProblem(source, None, "(file)", f"not UTF-8 text: {exc.reason} at byte "
                                                                   f"{exc.start}")]) from None
    return load_yaml(text, source=source, max_bytes=max_bytes, **limits)


def load_yaml(
    text: str,
    *,
    source: str = "<yaml>",
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    finite_only: bool = True,
) -> Any:
    """The ruamel round-trip tree of `text` (None when empty), or YamlCheckError with a line.

    Duplicate keys are refused. The raw text's flow nesting is checked before ruamel sees it (its
    scanner slows down sharply with flow depth); the exact depth and the number of values once
    aliases are expanded are checked on the tree, before anything copies or walks it expanded.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise YamlCheckError([YamlProblem(source, None, "(file)", f"larger than {max_bytes} bytes; refused")])
    deep_line = _flow_too_deep(text, max_depth)
    if deep_line is not None:
        raise YamlCheckError([YamlProblem(source, deep_line, "(yaml)",
                                          f"nested deeper than {max_depth} levels; refused")])
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(text)  # an alias is one shared object here: cheap, however often it is used
    except YamlCheckError:
        raise
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(" ".join(str(p).split()) for p in (exc.context, exc.problem) if p)
        raise YamlCheckError([YamlProblem(source, line, "(yaml)", f"not valid YAML: {problem}")]) from None
    except (YAMLError, ValueError) as exc:  # ruamel raises plain ValueErrors for some bad scalars
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise YamlCheckError([YamlProblem(source, None, "(yaml)", f"not valid YAML: {first}")]) from None
    except RecursionError:  # block nesting hundreds deep: ruamel's composer recurses
        raise YamlCheckError([YamlProblem(source, None, "(yaml)",
                                          f"nested deeper than {max_depth} levels; refused")]) from None
    if tree is not None:
        _check_shape(tree, source, max_depth, max_nodes)
    if finite_only and tree is not None:
        problems = [YamlProblem(source, line_of(tree, path), field_path(path) or "(top level)",
                                f"{value!r} is not a finite number")
                    for path, value in _non_finite(tree)]
        if problems:
            raise YamlCheckError(sorted(problems, key=lambda p: (p.line or 0, p.field)))
    return tree


def _flow_too_deep(text: str, max_depth: int) -> int | None:
    """The line where `[`/`{` nesting passes max_depth, on the raw text (quotes and comments skipped).

    Only a bracket that can open a flow collection counts (after `:`, `,`, `-`, another bracket or
    at the start of a value), so `pjlink://[::1]` inside a plain scalar does not.
    """
    depth = 0
    line = 1
    quote = ""
    previous = "\n"  # last significant character
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                if quote == "'" and i + 1 < n and text[i + 1] == "'":
                    i += 2
                    continue
                quote = ""
                previous = "x"
        elif ch == "#" and (i == 0 or text[i - 1] in " \t\n"):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif ch in "'\"" and previous in "\n:,-[{?":
            quote = ch
        elif ch in "[{" and previous in "\n:,-[{?":
            depth += 1
            if depth > max_depth:
                return line
            previous = ch
        elif ch in "]}" and depth:
            depth -= 1
            previous = "x"
        elif ch in "[{]}":
            previous = "x"  # part of a plain scalar (`a[b`): opens nothing
        elif ch not in " \t\r":
            previous = "\n" if ch == "\n" else ch
        i += 1
    return None


def _check_shape(tree: Any, source: str, max_depth: int, max_nodes: int) -> None:
    """Depth and size once aliases are expanded, on the loaded tree (aliases are shared objects, so
    sizes are memoized per object: linear in the file, not in its expansion)."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    work: list[tuple[Any, bool]] = [(tree, False)]
    open_nodes: set[int] = set()  # on the current path: meeting one again is an alias to itself
    while work:
        node, done = work.pop()
        if id(node) in size:
            continue
        children = _children(node)
        if not done:
            if id(node) in open_nodes:  # pragma: no cover - ruamel loads such an alias as None today
                raise YamlCheckError([YamlProblem(source, _line_in(node, None), "(yaml)",
                                                  "an alias refers to its own collection (endless); refused")])
            open_nodes.add(id(node))
            work.append((node, True))
            work.extend((child, False) for child in children if isinstance(child, dict | list))
            continue
        open_nodes.discard(id(node))
        size[id(node)] = 1 + sum(size.get(id(c), 1) for c in children)
        height[id(node)] = 1 + max((height.get(id(c), 0) for c in children), default=0)
    if height[id(tree)] > max_depth:
        node, line = tree, None
        for _ in range(max_depth):  # follow the deepest branch to the first level too many
            key, node = max(_items(node), key=lambda item: height.get(id(item[1]), 0))
            line = _line_in(node, line)
        raise YamlCheckError([YamlProblem(source, line, "(yaml)", f"nested deeper than {max_depth} levels; refused")])
    if size[id(tree)] > max_nodes:
        total, line = 1, None
        for key, child in _items(tree):  # the top-level entry where the expansion passes the bound
            total += size.get(id(child), 1) + (1 if isinstance(tree, dict) else 0)
            if total > max_nodes:
                line = _entry_line(tree, key)
                break
        raise YamlCheckError([YamlProblem(source, line, "(yaml)", f"more than {max_nodes} values once aliases "
                                                                  "are expanded (an alias bomb?); refused")])


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [part for pair in node.items() for part in pair]
    return list(node) if isinstance(node, list) else []


def _items(node: Any) -> list[tuple[Any, Any]]:
    return list(node.items()) if isinstance(node, dict) else list(enumerate(node))


def _line_in(node: Any, fallback: int | None) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None else fallback


def _entry_line(node: Any, key: Any) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        return (lc.key(key) if isinstance(node, dict) else lc.item(key))[0] + 1
    except (KeyError, TypeError, IndexError):
        return lc.line + 1


def _non_finite(tree: Any) -> list[tuple[tuple[Any, ...], float]]:
    found: list[tuple[tuple[Any, ...], float]] = []
    seen: set[int] = set()
    work: list[tuple[tuple[Any, ...], Any]] = [((), tree)]
    while work:
        path, node = work.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                found.append((path, node))
            continue
        if not isinstance(node, dict | list) or id(node) in seen:
            continue
        seen.add(id(node))  # an alias is the same object: look once
        items = node.items() if isinstance(node, dict) else enumerate(node)
        work.extend(((*path, key), value) for key, value in items)
    return found


def plain(node: Any, *, str_keys: bool = False) -> Any:
    """ruamel's commented containers as plain dicts, lists and strs (pydantic needs no YAML types).

    Integer keys stay integers unless `str_keys` (a YAML `1: on` mapping to a dict[int, ...]).
    """
    if isinstance(node, dict):
        return {(str(k) if str_keys or not isinstance(k, int | bool) else k): plain(v, str_keys=str_keys)
                for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v, str_keys=str_keys) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


# ---- where things are ---------------------------------------------------------------------------


def line_of(tree: Any, loc: Iterable[Any]) -> int | None:
    """The 1-based line of the deepest part of `loc` present in the tree (union labels skipped)."""
    line = None
    node = tree
    for part in loc:
        lc = getattr(node, "lc", None)
        if lc is None:
            break
        try:
            if isinstance(node, dict) and part in node:
                line = lc.key(part)[0] + 1
                node = node[part]
                continue
            if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line = lc.item(part)[0] + 1
                node = node[part]
                continue
        except (KeyError, TypeError, AttributeError, IndexError):
            break
        if isinstance(part, str) and _is_label(part):
            continue
        if line is None:
            line = lc.line + 1
        break
    if line is None:
        lc = getattr(tree, "lc", None)
        line = lc.line + 1 if lc is not None else None
    return line


def _is_label(part: str) -> bool:
    """A pydantic branch label in an error location ("list[Spec]", "Spec", "function-after[...]")."""
    return "[" in part or part.startswith("function-") or part[:1].isupper() or part in _TYPE_LABELS


def clean_loc(loc: Iterable[Any], tree: Any = None) -> tuple[Any, ...]:
    """The error location without pydantic's branch labels; a key present in the tree always stays."""
    out: list[Any] = []
    node = tree
    for part in loc:
        in_tree = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
        if in_tree:
            node = node[part]
        elif isinstance(part, str) and _is_label(part):
            continue
        else:
            node = None
        out.append(part)
    return tuple(out)


def field_path(loc: Iterable[Any]) -> str:
    """`devices[0].url` from ("devices", 0, "url")."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ---- pydantic errors as problems ----------------------------------------------------------------


Locate = Callable[[tuple[Any, ...]], tuple[str, Any]]


def validation_problems(
    exc: Any,
    tree: Any,
    source: str,
    *,
    model: Any = None,
    locate: Locate | None = None,
    unknown_key: str = "unknown key",
) -> list[YamlProblem]:
    """Every error of a pydantic ValidationError as a YamlProblem (file, line, field, suggestion).

    `model` (the validated class) lets an unknown key get the closest known key as a suggestion.
    `locate(loc) -> (file, tree)` picks the file a location came from, for data merged from several
    files (a profile that extends another).
    """
    errors = exc.errors(include_url=False)
    cleaned = [clean_loc(e["loc"], tree) for e in errors]
    paths = [field_path(loc) for loc in cleaned]
    problems: list[YamlProblem] = []
    for err, loc, path in zip(errors, cleaned, paths, strict=True):
        if err["type"] in _BRANCH_NOISE and any(p != path and p.startswith(path) for p in paths):
            continue
        file, where = locate(loc) if locate is not None else (source, tree)
        message = str(err["msg"]).removeprefix("Value error, ")
        suggestion = None
        if err["type"] == "extra_forbidden" and loc:
            known = known_keys(model, loc[:-1]) if model is not None else []
            suggestion = suggest(str(loc[-1]), known, model)
            message = unknown_key
            if not suggestion and known:
                message += f"; known keys: {', '.join(sorted(known))}"
        elif err["type"] == "missing":
            message = "missing (required)"
        problem = YamlProblem(file, line_of(where, loc), path or "(top level)", message, suggestion)
        if problem not in problems:
            problems.append(problem)
    return problems


def suggest(key: str, known: list[str], model: Any = None) -> str | None:
    """The closest known key here, or the dotted path of a much better match elsewhere in `model`."""

    def ratio(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()

    local = max(known, key=lambda k: ratio(key, k), default=None)
    local_score = ratio(key, local) if local else 0.0
    if model is not None:
        elsewhere = [(path, ratio(key, path.rsplit(".", 1)[-1])) for path in all_paths(model)]
        best_path, best_score = max(elsewhere, key=lambda item: item[1], default=(None, 0.0))
        if best_path and best_score >= 0.7 and best_score > local_score + 0.1:
            return best_path
    return local if local_score >= 0.5 else None


def known_keys(model: Any, loc: Iterable[Any]) -> list[str]:
    """The field names of the model reached by following `loc` from `model` ([] when none)."""
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    found = _model_of(annotation)
    return list(found.model_fields) if found is not None else []


def all_paths(model: Any, prefix: str = "", _seen: frozenset[Any] = frozenset()) -> list[str]:
    """Every field of `model` and its nested models as dotted paths (lists as `name[].field`)."""
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        inner = _model_of(info.annotation)
        if inner is not None and inner not in _seen and inner is not model:
            sep = "[]." if get_origin(info.annotation) is list else "."
            out.extend(all_paths(inner, path + sep, _seen | {model}))
    return out


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one location part further down, through Optional/Union, lists and dicts."""
    candidates = [annotation, *_flatten(annotation)]
    for candidate in candidates:
        fields = getattr(candidate, "model_fields", None)
        if isinstance(part, str) and fields is not None and part in fields:
            return fields[part].annotation
        origin = get_origin(candidate)
        args = get_args(candidate)
        if origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
            return args[0]
        if origin is dict and len(args) == 2:
            return args[1]
    return None


def _flatten(annotation: Any) -> list[Any]:
    out = []
    for arg in get_args(annotation):
        out.append(arg)
        if get_origin(arg) is not None and get_origin(arg) not in (list, dict, tuple, set, frozenset):
            out.extend(_flatten(arg))
    return out


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    if get_origin(annotation) is dict:
        return None  # a dict's keys are data, not fields
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
