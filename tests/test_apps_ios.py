"""The iOS demo app (apps/ios): Swift that parses, and a contract decoder that matches real contracts.

Swift cannot be compiled here (no Apple SDK), so these tests read the Swift sources with
tree-sitter-swift:

- every ``.swift`` file parses without ERROR or MISSING nodes;
- the JSON key paths the ``Decodable`` types decode, found by walking ``struct ModelContract``
  (stored properties, ``CodingKeys`` raw values, nested types, ``[T]`` and ``T?``), exist with
  compatible types in every real contract ``edge-sr convert`` writes, and cover the fields
  apps/README.md says every app reads;
- the extractor itself, on a small synthetic snippet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_swift

REPO = Path(__file__).resolve().parents[1]
IOS = REPO / "apps" / "ios"
APPS_README = REPO / "apps" / "README.md"

SCALARS = {"Int", "Double", "Float", "String", "Bool"}


def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))


def _swift_files() -> list[Path]:
    return sorted(IOS.rglob("*.swift"))


# ---------------------------------------------------------------------------------------------
# Swift types as the extractor sees them


@dataclass(frozen=True)
class SwiftType:
    """``kind``: "named" (``name`` is a scalar or a struct), "optional", "array" (``inner``), "other"."""

    kind: str
    name: str = ""
    inner: SwiftType | None = None


@dataclass(frozen=True)
class StoredProperty:
    swift_name: str
    json_key: str
    type: SwiftType


@dataclass(frozen=True)
class DecodedPath:
    path: str
    optional: bool
    """True when this field or one of its parents is declared optional (``T?``)."""
    leaf: str
    """The scalar type name, "object" for a struct, or "[...]" wrapped for arrays."""


def _text(node: tree_sitter.Node) -> str:
    return node.text.decode()


def _type_of(node: tree_sitter.Node) -> SwiftType:
    if node.type == "optional_type":
        return SwiftType("optional", inner=_type_of(node.child_by_field_name("wrapped")))
    if node.type == "array_type":
        return SwiftType("array", inner=_type_of(node.child_by_field_name("name")))
    if node.type == "user_type":
        identifiers = [c for c in node.children if c.type == "type_identifier"]
        # A qualified name (Outer.Inner) is looked up by its last component.
        return SwiftType("named", name=_text(identifiers[-1]))
    if node.type == "type_identifier":
        return SwiftType("named", name=_text(node))
    return SwiftType("other", name=_text(node))


def _declaration_kind(node: tree_sitter.Node) -> str | None:
    kind = node.child_by_field_name("declaration_kind")
    return None if kind is None else kind.type


def _coding_keys(body: tree_sitter.Node) -> dict[str, str]:
    """Swift case name -> JSON key from a nested ``enum CodingKeys`` (raw value, else the name)."""
    for child in body.named_children:
        if child.type != "class_declaration" or _declaration_kind(child) != "enum":
            continue
        name = child.child_by_field_name("name")
        if name is None or _text(name) != "CodingKeys":
            continue
        keys: dict[str, str] = {}
        enum_body = child.child_by_field_name("body")
        for entry in enum_body.named_children:
            if entry.type != "enum_entry":
                continue
            current = None
            for part in entry.children:
                if part.type == "simple_identifier":
                    current = _text(part)
                    keys[current] = current
                elif part.type == "line_string_literal" and current is not None:
                    keys[current] = "".join(_text(t) for t in part.children if t.type == "line_str_text")
        return keys
    return {}


def _stored_properties(body: tree_sitter.Node) -> list[StoredProperty]:
    """Decoded stored properties: ``let``/``var`` with a type annotation, not static, not
    computed, and (for ``let``) without an initial value, which the decoder never sets."""
    keys = _coding_keys(body)
    properties = []
    for child in body.named_children:
        if child.type != "property_declaration":
            continue
        if child.child_by_field_name("computed_value") is not None:
            continue
        modifiers = [c for c in child.children if c.type == "modifiers"]
        if modifiers and any(m.type == "property_modifier" and _text(m) in ("static", "class")
                             for m in modifiers[0].named_children):
            continue
        binding = next(c for c in child.children if c.type == "value_binding_pattern")
        if _text(binding) == "let" and child.child_by_field_name("value") is not None:
            continue
        pattern = child.child_by_field_name("name")
        annotation = next((c for c in child.children if c.type == "type_annotation"), None)
        if pattern is None or annotation is None:
            continue
        name = _text(pattern)
        if keys and name not in keys:
            continue  # not a coding key: not decoded
        properties.append(StoredProperty(name, keys.get(name, name), _type_of(annotation.child_by_field_name("name"))))
    return properties


def collect_structs(sources: dict[str, bytes]) -> dict[str, list[StoredProperty]]:
    """Every ``struct`` declared in ``sources`` (nested ones included), by simple name."""
    parser = _parser()
    structs: dict[str, list[StoredProperty]] = {}

    def visit(node: tree_sitter.Node) -> None:
        if node.type == "class_declaration" and _declaration_kind(node) == "struct":
            name = node.child_by_field_name("name")
            body = node.child_by_field_name("body")
            if name is not None and body is not None:
                structs[_text(name)] = _stored_properties(body)
        for child in node.named_children:
            visit(child)

    for source in sources.values():
        visit(parser.parse(source).root_node)
    return structs


def decoded_paths(sources: dict[str, bytes], root: str = "ModelContract") -> list[DecodedPath]:
    """The JSON key paths ``root`` decodes, parents before children."""
    structs = collect_structs(sources)
    assert root in structs, f"struct {root} not found in the Swift sources"
    paths: list[DecodedPath] = []

    def walk(struct: str, prefix: str, optional: bool, seen: tuple[str, ...]) -> None:
        assert struct not in seen, f"recursive struct {struct} at {prefix}"
        for prop in structs[struct]:
            path = f"{prefix}{prop.json_key}"
            kind, is_optional, arrays = prop.type, optional, 0
            while kind.kind in ("optional", "array"):
                is_optional |= kind.kind == "optional"
                arrays += kind.kind == "array"
                kind = kind.inner
            nested = kind.kind == "named" and kind.name in structs
            leaf = "object" if nested else kind.name
            paths.append(DecodedPath(path, is_optional, "[" * arrays + leaf + "]" * arrays))
            if nested:
                walk(kind.name, path + ".", is_optional, (*seen, struct))

    walk(root, "", False, ())
    return paths


def check_json(value: object, swift_type: SwiftType, structs: dict[str, list[StoredProperty]], path: str) -> list[str]:
    """Problems decoding ``value`` as ``swift_type`` (empty when it would decode)."""
    if swift_type.kind == "optional":
        return [] if value is None else check_json(value, swift_type.inner, structs, path)
    if value is None:
        return [f"{path}: null where a non-optional {swift_type.name or swift_type.kind} is decoded"]
    if swift_type.kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array, found {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in check_json(item, swift_type.inner, structs, f"{path}[{i}]")]
    if swift_type.kind != "named":
        return [f"{path}: Swift type {swift_type.name} is not checked by this test"]
    name = swift_type.name
    if name in structs:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, found {type(value).__name__}"]
        problems = []
        for prop in structs[name]:
            child = f"{path}.{prop.json_key}" if path else prop.json_key
            if prop.json_key not in value:
                if prop.type.kind != "optional":
                    problems.append(f"{child}: missing (decoded as non-optional {prop.type.name or prop.type.kind})")
                continue
            problems += check_json(value[prop.json_key], prop.type, structs, child)
        return problems
    ok = {
        "Int": isinstance(value, int) and not isinstance(value, bool),
        "Double": isinstance(value, (int, float)) and not isinstance(value, bool),
        "Float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "String": isinstance(value, str),
        "Bool": isinstance(value, bool),
    }.get(name)
    if ok is None:
        return [f"{path}: Swift type {name} is neither a scalar nor a struct in the sources"]
    return [] if ok else [f"{path}: {json.dumps(value)} does not decode as {name}"]


def readme_contract_paths() -> list[tuple[str, bool]]:
    """(path, optional) for each field of apps/README.md "What every app reads from a contract"."""
    text = APPS_README.read_text()
    section = text.split("## What every app reads from a contract", 1)[1].split("\n#", 1)[0]
    fields: list[tuple[str, bool]] = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        optional = "(optional" in cell
        first: str | None = None
        for match in re.finditer(r"`([^`]+)`(\s*\{([^}]*)\})?", cell):
            name = match.group(1)
            if name.startswith(".") and first is not None:
                name = first.rsplit(".", 1)[0] + name
            first = first or name
            if match.group(3):
                fields += [(f"{name}.{sub.strip()}", optional) for sub in match.group(3).split(",")]
            else:
                fields.append((name, optional))
    return fields


def _sources() -> dict[str, bytes]:
    return {str(path.relative_to(REPO)): path.read_bytes() for path in _swift_files()}


# ---------------------------------------------------------------------------------------------
# (a) the sources parse


def first_parse_problem(source: bytes) -> str | None:
    """``"line N: ERROR near …"`` / ``"line N: MISSING x"`` for the first bad node, or None."""
    stack = [_parser().parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            return f"line {node.start_point[0] + 1}: MISSING {node.type}"
        if node.is_error:
            return f"line {node.start_point[0] + 1}: ERROR near {_text(node)[:60]!r}"
        if node.has_error:
            stack.extend(reversed(node.children))
    return None


def test_every_swift_file_parses_cleanly():
    files = _swift_files()
    assert len(files) >= 10, f"expected the iOS app's Swift sources under {IOS}, found {files}"
    problems = [f"{path.relative_to(REPO)}: {problem}" for path in files
                if (problem := first_parse_problem(path.read_bytes())) is not None]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# (b) the decoder against real contracts and against apps/README.md


def test_decoded_paths_cover_the_readme_table():
    decoded = {p.path for p in decoded_paths(_sources())}
    table = readme_contract_paths()
    assert len(table) >= 25, table  # the table was read, not skipped
    missing = [path for path, optional in table if not optional and path not in decoded]
    assert not missing, f"apps/README.md fields the Swift ModelContract does not decode: {missing}"


def test_decoded_paths_match_real_contracts(app_contracts):
    sources = _sources()
    paths = decoded_paths(sources)
    by_path = {p.path: p for p in paths}
    assert len(paths) >= 40, [p.path for p in paths]
    for expected in ("artifact.file", "input.layout", "shape_policy.kind", "golden.output_window.top", "scale",
                     "input.quantization.zero_point", "model.zoo_name", "verification.tolerance.max_abs_diff",
                     "schema_version", "tiling.overlap"):
        assert expected in by_path, f"{expected} not decoded; decoded: {sorted(by_path)}"
    assert not by_path["artifact.file"].optional and by_path["model.zoo_name"].optional
    assert by_path["input.quantization.zero_point"].optional and by_path["input.quantization.zero_point"].leaf == "Int"
    assert by_path["shape_policy.sizes"].leaf == "[[Int]]"

    structs = collect_structs(sources)
    root = SwiftType("named", name="ModelContract")
    problems = []
    for contract in app_contracts:
        data = json.loads(contract.read_text())
        problems += [f"{contract.name}: {p}" for p in check_json(data, root, structs, "")]
        # Every non-optional path is present (descending into lists, skipping null optionals).
        for decoded in paths:
            if not decoded.optional:
                assert _has_path(data, decoded.path.split(".")), f"{contract.name}: {decoded.path} missing"
    assert not problems, "\n".join(problems)
    # The contracts exercise the optional branches too: integer I/O, image I/O, NHWC, dynamic.
    views = [json.loads(c.read_text()) for c in app_contracts]
    assert any(v["input"].get("quantization") for v in views)
    assert any("image" in v["input"] for v in views)
    assert any(v["input"]["layout"] == "NHWC" for v in views)
    assert any(v["shape_policy"]["kind"] == "dynamic" for v in views)


def _has_path(value: object, keys: list[str]) -> bool:
    if not keys:
        return True
    if isinstance(value, list):
        return all(_has_path(item, keys) for item in value)
    return isinstance(value, dict) and keys[0] in value and (value[keys[0]] is None or _has_path(value[keys[0]], keys[1:]))


def test_manifest_decoder_matches_the_documented_manifest():
    text = APPS_README.read_text()
    example = json.loads(re.search(r"```json\n(\{\"schema\": \"edge-sr/bundle\".*?)```", text, re.S).group(1))
    sources = _sources()
    structs = collect_structs(sources)
    assert check_json(example, SwiftType("named", name="BundleManifest"), structs, "") == []
    paths = {p.path for p in decoded_paths(sources, root="BundleManifest")}
    assert {"schema", "schema_version", "app", "edge_sr_version", "models.contract", "models.target"} <= paths


# ---------------------------------------------------------------------------------------------
# (c) the extractor on a synthetic snippet

SNIPPET = b'''
struct Root: Decodable {
    let schemaVersion: Int
    var label: String?
    let window: Window?
    let items: [Item]
    let ignoredConstant = 3
    static let shared = 4
    var computed: Int { schemaVersion * 2 }
    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", label
        case window = "output_window"
        case items
    }
    struct Window: Decodable {
        let top: Int
        let zeroPoint: Double
        enum CodingKeys: String, CodingKey { case top; case zeroPoint = "zero_point" }
    }
}
struct Item: Decodable { let sizes: [[Int]] }
'''


def test_extractor_on_a_synthetic_snippet():
    paths = decoded_paths({"snippet.swift": SNIPPET}, root="Root")
    assert [(p.path, p.optional, p.leaf) for p in paths] == [
        ("schema_version", False, "Int"),
        ("label", True, "String"),
        ("output_window", True, "object"),
        ("output_window.top", True, "Int"),
        ("output_window.zero_point", True, "Double"),
        ("items", False, "[object]"),
        ("items.sizes", False, "[[Int]]"),
    ]
    structs = collect_structs({"snippet.swift": SNIPPET})
    root = SwiftType("named", name="Root")
    good = {"schema_version": 1, "items": [{"sizes": [[1, 2]]}], "output_window": None}
    assert check_json(good, root, structs, "") == []
    bad = {"schema_version": 1.5, "items": [{"sizes": [["a"]]}], "output_window": {"top": 1}}
    assert check_json(bad, root, structs, "") == [
        'schema_version: 1.5 does not decode as Int',
        'output_window.zero_point: missing (decoded as non-optional Double)',
        'items[0].sizes[0][0]: "a" does not decode as Int',
    ]


def test_parse_check_reports_the_line():
    assert first_parse_problem(SNIPPET) is None
    problem = first_parse_problem(b"struct A {\n    let x: Int\n    let y: = 3\n}\n")
    assert problem is not None and problem.startswith("line 3:"), problem
