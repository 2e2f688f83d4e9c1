"""Reading C++ and Java with a parser (tree-sitter): the syntax tree of a text, the text with comments
and literals blanked (`mask_c_like`), what a solution defines, the function the tests exercise (the
entry point), and the solution with that function broken.

    name = find_entry_point(solution, tests, "cpp")       # "twoSum", or None: the tests call nothing
    mutant = break_c_like(solution, name, java=False)     # every definition returns a default value

The "tests must be able to fail" check runs the tests once more against the mutant: tests that still
pass check nothing (tautologies such as `assert(r == r)`, asserts in dead code, a catch-all around the
asserts, calls to a copy of the function). So the entry point must be the function the tests really
call, read from both trees, not the solution's first function: the candidates are the functions,
methods and named lambdas the solution defines (not `main`, not constructors, not names the tests
define themselves); the one referenced inside an assertion comes first, then the one the tests
reference first. Names inside macro bodies count as references (to tree-sitter a macro body is text).

The mutant edits the byte spans of the bodies and keeps every signature, so it compiles: C++ returns
`{}` (or, for a deduced `auto` return type, a value-initialised object of each return expression's
type; for a reference, a static default object), Java a default by type (0, false, '\\0', null), void
functions an empty body. The return type is the definition's `type` node with its declarator (`&`,
`*`), or its trailing return type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
import tree_sitter_cpp
import tree_sitter_java

_COMMENTS = {"comment", "line_comment", "block_comment"}
_LITERALS = {"string_literal", "raw_string_literal", "char_literal", "character_literal"}
_CPP_TYPES = {"class_specifier", "struct_specifier", "union_specifier", "enum_specifier"}
_JAVA_TYPES = {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
               "annotation_type_declaration"}
_NAMES = {"identifier", "field_identifier", "type_identifier", "namespace_identifier"}
# calls that check something in tests (a macro named so checks too: `#define CHECK(x) assert(x)`)
_CPP_CHECK_CALL = re.compile(r"(?:assert|static_assert|abort|exit|EXPECT_\w+|ASSERT_\w+|CHECK\w*|REQUIRE\w*)$")
_JAVA_CHECK_CALL = re.compile(r"(?:assert\w*|fail|exit)$")
_WORD = re.compile(r"[A-Za-z_$][\w$]*")


# ================================================================================== the tree
@lru_cache(maxsize=2)
def _parser(java: bool) -> tree_sitter.Parser:
    grammar = tree_sitter_java if java else tree_sitter_cpp
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


@lru_cache(maxsize=32)
def _query(java: bool, kinds: frozenset[str]) -> tree_sitter.Query:
    language = _parser(java).language
    known = [k for k in sorted(kinds) if language.id_for_node_kind(k, True) is not None]
    return tree_sitter.Query(language, "[" + " ".join(f"({k})" for k in known) + "] @node")


@dataclass(frozen=True)
class Source:
    """A text and its syntax tree; node positions are byte offsets into `data`."""

    text: str
    data: bytes
    root: tree_sitter.Node
    java: bool

    def of(self, node: tree_sitter.Node) -> str:
        return self.data[node.start_byte:node.end_byte].decode("utf-8", errors="replace")

    def char(self, offset: int) -> int:
        """The character index of byte `offset` (C++ / Java builders cut the text as a str)."""
        if self.text.isascii():
            return offset
        return len(self.data[:offset].decode("utf-8", errors="surrogatepass"))

    def find(self, *kinds: str, under: tree_sitter.Node | None = None) -> list[tree_sitter.Node]:
        """The nodes of these kinds under `under` (the root), in source order (a query: the walk runs in C)."""
        found = tree_sitter.QueryCursor(_query(self.java, frozenset(kinds))).captures(under or self.root)
        return sorted(found.get("node", ()), key=lambda n: (n.start_byte, -n.end_byte))


# a check's texts are read by several steps (static verdict, main, entry point, mutant, isolation): each
# text is parsed once
@lru_cache(maxsize=64)
def parse(text: str, java: bool) -> Source:
    data = text.encode("utf-8", errors="surrogatepass")
    return Source(text, data, _parser(java).parse(data).root_node, java)


def _char_offsets(src: Source) -> list[int] | None:
    """Character index of each byte offset (None for ASCII text, where they are the same)."""
    if src.text.isascii():
        return None
    index = []
    for i, ch in enumerate(src.text):
        index.extend([i] * len(ch.encode("utf-8", errors="surrogatepass")))
    index.append(len(src.text))
    return index


@lru_cache(maxsize=64)
def mask_c_like(text: str, java: bool = False) -> str:
    """`text` with comments and string/char literal contents blanked (same length, newlines and quotes
    kept), so token searches on it never look inside them."""
    src = parse(text, java)
    chars = _char_offsets(src)
    out = list(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    for node in src.find(*_COMMENTS, *_LITERALS):
        a, b = (node.start_byte, node.end_byte) if chars is None else (chars[node.start_byte], chars[node.end_byte])
        if node.type in _COMMENTS:
            blank(a, b)
        else:  # `R"x(...)x"`, `u8"..."`, `'}'`: the quotes stay, what they enclose goes
            piece = text[a:b]
            first = min((i for i in (piece.find('"'), piece.find("'")) if i >= 0), default=-1)
            last = piece.rfind(piece[first]) if first >= 0 else -1
            blank(a + first + 1, a + last if last > first else b)
    return "".join(out)


# ============================================================================ definitions
@dataclass(frozen=True)
class Definition:
    """A function, method or named lambda with a body."""

    name: str
    body: tree_sitter.Node  # the block (`{...}`), or a Java lambda's expression
    returns: str  # the return type as written, with the declarator's `&` / `*` ("" for a constructor)
    trailing: bool  # C++: the return type is a trailing one (`auto f() -> int`)
    owner: str | None  # the class it belongs to (in it, or `int Acc::add(` outside it)
    node: tree_sitter.Node
    is_lambda: bool = False


def _child(node: tree_sitter.Node, field: str) -> tree_sitter.Node | None:
    return node.child_by_field_name(field)


_DECLARED_NAMES = {"identifier", "field_identifier", "qualified_identifier", "operator_name", "destructor_name",
                   "template_function", "operator_cast"}


def _function_declarator(declarator: tree_sitter.Node | None) -> tuple[tree_sitter.Node | None, str]:
    """The function declarator that names the function inside `declarator` (through `&`, `*`,
    parentheses, and the outer declarator of a function returning a function pointer:
    `int (*pick(int k))(int)`), and the wrappers met on the way (`&`, `*`)."""
    wrappers = ""
    while declarator is not None:
        inner = _child(declarator, "declarator") or next(
            (c for c in declarator.named_children if c.type.endswith("declarator")), None)
        if declarator.type == "function_declarator" and (inner is None or inner.type in _DECLARED_NAMES):
            return declarator, wrappers
        if declarator.type == "function_declarator":
            wrappers += "*"  # it returns a function: only a pointer to one can be returned
        elif declarator.type in ("reference_declarator", "pointer_declarator"):
            wrappers += "&" if declarator.type == "reference_declarator" else "*"
        declarator = inner
    return None, wrappers


def _cpp_name(src: Source, node: tree_sitter.Node | None) -> tuple[str, str | None]:
    """(name, class qualifier) of a declarator name: `Acc::add` -> ("add", "Acc"), `operator==`."""
    owner = None
    while node is not None and node.type == "qualified_identifier":
        scope = _child(node, "scope")
        if scope is not None:
            owner = src.of(_child(scope, "name") or scope) if scope.type == "template_type" else src.of(scope)
        node = _child(node, "name")
    if node is None:
        return "", owner
    if node.type == "template_function":
        node = _child(node, "name")
    return re.sub(r"\s+", "", src.of(node)), owner


def _enclosing_type(src: Source, node: tree_sitter.Node) -> str | None:
    parent = node.parent
    kinds = _JAVA_TYPES if src.java else _CPP_TYPES
    while parent is not None:
        if parent.type in kinds:
            name = _child(parent, "name")
            return src.of(name) if name is not None else None
        if parent.type in ("function_definition", "method_declaration", "lambda_expression"):
            return None
        parent = parent.parent
    return None


def _cpp_definition(src: Source, node: tree_sitter.Node) -> Definition | None:
    body = _child(node, "body")
    declarator, wrappers = _function_declarator(_child(node, "declarator"))
    if body is None or declarator is None:
        return None
    name, owner = _cpp_name(src, _child(declarator, "declarator"))
    type_node = _child(node, "type")
    trailing = next((c for c in declarator.named_children if c.type == "trailing_return_type"), None)
    if trailing is not None:
        returns = src.of(trailing).removeprefix("->").strip()
    elif type_node is not None:
        returns = src.of(type_node) + wrappers
    else:
        returns = ""  # a constructor or a destructor
    return Definition(name, body, returns, trailing is not None, owner or _enclosing_type(src, node), node)


def _lambda_name(src: Source, node: tree_sitter.Node) -> tuple[str, str] | None:
    """(name, declared type) of a lambda bound to a name: `auto f = [](int x) {...}`, `f = x -> x`."""
    parent = node.parent
    if parent is None:
        return None
    if parent.type in ("init_declarator", "variable_declarator"):
        target = _child(parent, "declarator") or _child(parent, "name")
        holder = parent.parent
    elif parent.type == "field_declaration" and _child(parent, "default_value") == node:
        target, holder = _child(parent, "declarator"), parent
    elif parent.type == "assignment_expression" and _child(parent, "right") == node:
        target, holder = _child(parent, "left"), None
    else:
        return None
    if target is None or target.type not in _NAMES:
        return None
    declared = _child(holder, "type") if holder is not None else None
    return src.of(target), src.of(declared) if declared is not None else ""


def definitions(src: Source) -> list[Definition]:
    """Every function, method and named lambda with a body, in source order."""
    found = []
    for node in src.find("function_definition", "method_declaration", "lambda_expression"):
        if node.type == "function_definition" and not src.java:
            definition = _cpp_definition(src, node)
        elif node.type == "method_declaration" and src.java:
            body, name, type_node = _child(node, "body"), _child(node, "name"), _child(node, "type")
            definition = (Definition(src.of(name), body, src.of(type_node), False, _enclosing_type(src, node), node)
                          if body is not None and name is not None and type_node is not None else None)
        elif node.type == "lambda_expression" and (named := _lambda_name(src, node)):
            body = _child(node, "body")
            declarator = _child(node, "declarator")
            trailing = next((c for c in declarator.named_children if c.type == "trailing_return_type"), None) \
                if declarator is not None else None
            # C++: the lambda's own return type (deduced without one); Java: the interface it implements
            returns = src.of(trailing).removeprefix("->").strip() if trailing is not None \
                else named[1] if src.java else "auto"
            definition = (Definition(named[0], body, returns, trailing is not None, None, node, is_lambda=True)
                          if body is not None else None)
        else:
            continue
        if definition is not None and definition.name:
            found.append(definition)
    return found


def type_names(src: Source) -> set[str]:
    """The classes, structs, unions, enums, interfaces and records the text defines (with a body)."""
    kinds = _JAVA_TYPES if src.java else _CPP_TYPES
    return {src.of(n.child_by_field_name("name")) for n in src.find(*kinds)
            if n.child_by_field_name("name") is not None and n.child_by_field_name("body")}


def defined_functions(src: Source) -> set[str]:
    """Names of the functions, methods and named lambdas defined (no `main`, no constructors, no
    operators)."""
    types = type_names(src)
    return {d.name for d in definitions(src)
            if d.name != "main" and not d.name.startswith(("operator", "~")) and d.name not in types
            and (d.returns or d.is_lambda)}


def defined_names(solution: str, java: bool) -> set[str]:
    """The functions, methods, named lambdas and types a C++ / Java solution defines."""
    src = parse(solution, java)
    return defined_functions(src) | type_names(src)


def references(src: Source) -> list[tuple[int, str]]:
    """(byte offset, name) of every name the text uses, macro bodies included."""
    found = []
    for node in src.find(*_NAMES, "preproc_arg"):
        if node.type in _NAMES:
            found.append((node.start_byte, src.of(node)))
        elif node.type == "preproc_arg":  # a macro's body is text to the parser
            body = mask_c_like(src.of(node), src.java)
            found.extend((node.start_byte + m.start(), m.group()) for m in _WORD.finditer(body))
    return found


def find_main(src: Source) -> tuple[tree_sitter.Node, tree_sitter.Node, tree_sitter.Node] | None:
    """(definition, name, body) of the `main` function defined at the top level, else None."""
    for node in src.root.named_children:
        declarator, _ = _function_declarator(_child(node, "declarator")) if node.type == "function_definition" \
            else (None, "")
        name = _child(declarator, "declarator") if declarator is not None else None
        body = _child(node, "body")
        if name is not None and body is not None and src.of(name) == "main":
            return node, name, body
    return None


def defines_at_top_level(src: Source) -> bool:
    """Whether the text defines functions or types outside any block (so it is no block of statements)."""
    kinds = _JAVA_TYPES | {"method_declaration"} if src.java else _CPP_TYPES | {"function_definition"}
    for node in src.root.named_children:
        if node.type == "template_declaration":
            node = node.named_children[-1] if node.named_children else node
        if node.type in kinds and (node.type in ("function_definition", "method_declaration")
                                   or _child(node, "body") is not None):
            return True
    return False


# ======================================================================== the entry point
def _checks(src: Source) -> list[tuple[int, int]]:
    """(start, end) of each statement that checks something, with the `if (...)` that guards it."""
    spans = []
    for node in src.find("call_expression", "method_invocation", "return_statement", "throw_statement",
                         "throw_expression", "assert_statement", "static_assert_declaration"):
        if node.type in ("call_expression", "method_invocation"):
            callee = _child(node, "function") if node.type == "call_expression" else _child(node, "name")
            name = src.of(callee).split("::")[-1].split(".")[-1].strip() if callee is not None else ""
            pattern = _JAVA_CHECK_CALL if src.java else _CPP_CHECK_CALL
            if not pattern.match(name):
                continue
        elif node.type == "return_statement" and not src.java:
            value = node.named_children[0] if node.named_children else None
            if value is None or src.of(value).strip() == "0":
                continue
        elif node.type not in ("throw_statement", "throw_expression", "assert_statement", "static_assert_declaration"):
            continue
        statement = node
        while statement.parent is not None and not (statement.type.endswith(("statement", "declaration"))):
            statement = statement.parent
        start = statement.start_byte
        guard = statement.parent
        if guard is not None and guard.type in ("compound_statement", "block") and guard.named_children \
                and guard.named_children[0] == statement:
            guard = guard.parent
        if guard is not None and guard.type == "if_statement":
            start = guard.start_byte
        spans.append((start, statement.end_byte))
    return spans


def find_entry_point(solution: str, tests: str, language: str) -> str | None:
    """The name of the function the tests exercise ("cpp" or "java" `language`), or None when they
    reference none of the solution's."""
    java = language == "java"
    sol, test = parse(solution, java), parse(tests, java)
    candidates = defined_functions(sol) - defined_functions(test)
    if not candidates:
        return None
    spans = _checks(test)
    best: tuple[int, int, str] | None = None
    for offset, name in references(test):
        if name in candidates:
            rank = (0 if any(a <= offset < b for a, b in spans) else 1, offset, name)
            best = rank if best is None or rank < best else best
    return best[2] if best else None


def referenced_types(solution: str, tests: str, language: str) -> list[str]:
    """The solution's classes / structs that the tests mention (for tests that call no named function:
    functors, operators, methods reached through a type)."""
    java = language == "java"
    test = parse(tests, java)
    used = {name for _, name in references(test)}
    return sorted((type_names(parse(solution, java)) - type_names(test)) & used)


# ============================================================================== the mutant
_JAVA_DEFAULTS = {"int": "0", "long": "0L", "short": "(short) 0", "byte": "(byte) 0", "char": "'\\0'",
                  "double": "0.0", "float": "0.0f", "boolean": "false"}
# java.util.function interfaces whose lambdas return a primitive: the default to return instead
_JAVA_FUNCTIONAL = [
    (re.compile(r"^(?:Int|Long|Double|ToInt|ToLong|ToDouble)\w*(?:Function|Operator|Supplier)\b"), "0"),
    (re.compile(r"^\w*Predicate\b"), "false"),
    (re.compile(r"^Boolean\w*Supplier\b"), "false"),
    (re.compile(r"^(?:Runnable|\w*Consumer)\b"), None),  # nothing returned
]


def _java_body(definition: Definition) -> str:
    if definition.is_lambda:
        value = "null"
        for pattern, default in _JAVA_FUNCTIONAL:
            if pattern.match(definition.returns):
                value = default
                break
        return "{ }" if value is None else f"{{ return {value}; }}"
    returns = definition.returns.strip()
    return "{ }" if returns == "void" else "{ return " + _JAVA_DEFAULTS.get(returns, "null") + "; }"


def _own_returns(src: Source, body: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The `return e;` statements of a body, not those of the lambdas, functions or classes inside it."""
    found, stack = [], list(body.children)
    while stack:
        node = stack.pop()
        if node.type == "return_statement" and node.named_children:
            found.append(node)
        elif node.type not in ("lambda_expression", "function_definition", *_CPP_TYPES):
            stack.extend(node.children)
    return sorted(found, key=lambda n: n.start_byte)


def _deduced_body(src: Source, definition: Definition, reference: bool) -> bytes:
    """The body with each `return e;` returning a value-initialised object of e's type (a static one that
    outlives the call for a deduced reference)."""
    body = definition.body
    out, last = [], body.start_byte
    for ret in _own_returns(src, body):
        expr = src.of(ret.named_children[0]).strip()
        value = f"std::decay_t<decltype({expr})>"
        keyword_end = ret.children[0].end_byte  # after `return`
        out.append(src.data[last:keyword_end])
        out.append((f" *[] {{ static {value} wizardcoder_default{{}}; return &wizardcoder_default; }}()" if reference
                    else f" {value}{{}}").encode())
        last = ret.named_children[0].end_byte
    out.append(src.data[last:body.end_byte])
    return b"".join(out)


def _cpp_body(src: Source, definition: Definition) -> bytes:
    """A C++ body returning a default value of the function's return type."""
    returns = re.sub(r"\s+", " ", definition.returns).strip()
    words = returns.replace("&", " & ").replace("*", " * ").split()
    if returns == "void" or words[-1:] == ["void"] and "*" not in words:
        return b"{ }"
    deduced = not definition.trailing and (not returns or words[0] in ("auto", "decltype(auto)")
                                           or words[0].startswith("decltype"))
    if deduced and returns.endswith("&"):
        return _deduced_body(src, definition, reference=True)
    if returns.endswith("&"):
        # a reference: to a default object that outlives the call (`return {};` would not compile)
        return (f"{{ static std::remove_cv_t<std::remove_reference_t<{returns}>> wizardcoder_default{{}}; "
                "return wizardcoder_default; }").encode()
    if deduced:
        return _deduced_body(src, definition, reference=False)
    return b"{ return {}; }"


def _apply(src: Source, targets: list[Definition]) -> str | None:
    """The text with each target's body replaced by one returning a default value (a body inside another
    target's body goes with it); None when there is no target."""
    edits = []
    for d in sorted(targets, key=lambda d: d.body.start_byte):
        if edits and d.body.start_byte < edits[-1][1]:
            continue  # nested in the previous one: the outer edit wins
        body = _java_body(d).encode() if src.java else _cpp_body(src, d)
        edits.append((d.body.start_byte, d.body.end_byte, body))
    if not edits:
        return None
    out, last = [], 0
    for a, b, body in edits:
        out += [src.data[last:a], body]
        last = b
    text = b"".join([*out, src.data[last:]]).decode("utf-8", errors="surrogatepass")
    if not src.java and ("std::decay_t" in text or "std::remove_cv_t" in text):
        text = "#include <type_traits>\n" + text
    return text


def break_c_like(solution: str, name: str, java: bool) -> str | None:
    """The solution with every definition of `name` (overloads, methods of any class, a named lambda)
    returning a default value; None when no definition is found."""
    src = parse(solution, java)
    return _apply(src, [d for d in definitions(src) if d.name == name and (d.returns or d.is_lambda)])


def break_types(solution: str, types: list[str], java: bool) -> str | None:
    """The solution with every method of `types` (operators included) and every free operator returning
    a default value; None when there is none."""
    src = parse(solution, java)
    return _apply(src, [d for d in definitions(src) if d.returns and not d.is_lambda
                        and (d.owner in types or not java and d.name.startswith("operator"))])


__all__ = [
    "Definition",
    "Source",
    "break_c_like",
    "break_types",
    "defined_functions",
    "defined_names",
    "definitions",
    "find_entry_point",
    "mask_c_like",
    "parse",
    "referenced_types",
    "references",
    "type_names",
]
