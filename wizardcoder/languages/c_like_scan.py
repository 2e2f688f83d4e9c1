"""Reading C++ and Java text: a lexer that blanks comments and literals (`mask_c_like`), brace matching,
the function the tests exercise (the entry point), and the solution with that function broken.

    name = find_entry_point(solution, tests, "cpp")       # "twoSum", or None: the tests call nothing
    mutant = break_c_like(solution, name, java=False)     # every definition returns a default value

The "tests must be able to fail" check runs the tests once more against the mutant: tests that still
pass check nothing (tautologies such as `assert(r == r)`, asserts in dead code, a catch-all around the
asserts, calls to a copy of the function). So the entry point must be the function the tests really
call, found by a scan of both texts, not the solution's first function.

The texts are scanned masked (comments and literals blanked): the candidates are the functions, methods
and named lambdas the solution defines (not `main`, not constructors, not names the tests define
themselves); the one referenced inside an assertion comes first, then the one the tests reference
first. The mutant keeps every signature, so it compiles: C++ returns `{}` (or, for a deduced `auto`
return type, a value-initialised object of each return expression's type; for a reference, a static
default object), Java a default by type (0, false, '\\0', null), void functions an empty body. The
return type is read from what precedes the name, less preprocessor lines, comments, attributes,
`template <...>` and requires-clauses.
"""

from __future__ import annotations

import re


def mask_c_like(src: str, java: bool = False) -> str:
    """`src` with comments and string/char literal contents blanked (same length, newlines kept), so
    regexes and brace matching on it never look inside them."""
    out = list(src)
    n = len(src)
    i = 0

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = src[i]
        if c == "/" and src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif c == '"':
            if java and src.startswith('"""', i):
                j = src.find('"""', i + 3)
                j = n if j < 0 else j + 3
                blank(i + 1, j - 1)
                i = j
                continue
            if not java and i > 0 and src[i - 1] == "R":
                paren = src.find("(", i)
                delim = src[i + 1:paren] if paren > 0 else ""
                if paren > 0 and len(delim) <= 16 and "\n" not in delim:
                    j = src.find(")" + delim + '"', paren)
                    j = n if j < 0 else j + len(delim) + 2
                    blank(i + 1, j - 1)
                    i = j
                    continue
            j = _literal_end(src, i)
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            if not java and i > 0 and src[i - 1].isalnum() and src[i - 1] not in "uUL":  # 1'000'000
                i += 1
                continue
            j = _literal_end(src, i)
            blank(i + 1, j)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _literal_end(src: str, start: int) -> int:
    """Index of the quote closing the string or char literal opened at `start` (or of the newline or
    end of text that cuts an unterminated one); backslash escapes are skipped."""
    quote, j = src[start], start + 1
    while j < len(src) and src[j] != quote and src[j] != "\n":
        j += 2 if src[j] == "\\" else 1
    return j



def match_brace(masked: str, open_idx: int) -> int:
    """Index of the `}` closing the `{` at `open_idx` in masked text; -1 when unbalanced."""
    depth = 0
    for k in range(open_idx, len(masked)):
        ch = masked[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return k
    return -1


def depth_map(masked: str) -> list[int]:
    depths, depth = [], 0
    for ch in masked:
        if ch == "}":
            depth -= 1
        depths.append(depth)
        if ch == "{":
            depth += 1
    return depths


_KEYWORDS = {"if", "for", "while", "switch", "catch", "return", "sizeof", "else", "do", "new", "delete",
             "synchronized", "try", "main", "operator", "decltype", "alignof", "static_assert", "assert",
             "throw", "case", "default", "typeof", "noexcept", "alignas", "requires"}
_MODIFIERS = {"public", "private", "protected", "static", "final", "inline", "constexpr", "consteval",
              "virtual", "synchronized", "abstract", "extern", "friend", "explicit", "default", "native",
              "strictfp", "__inline", "__inline__", "__extension__"}
_NAME_PAREN = re.compile(r"(?<![\w$])(operator\s*(?:\(\s*\)|\[\s*\]|[-+*/%^&|~!=<>]{1,3})|[A-Za-z_$][\w$]*)"
                         r"\s*(?:<[^;{}()]{0,200}>\s*)?\(")
_QUALIFIERS = re.compile(r"\s*(?:const\s*|noexcept(?:\s*\([^()]*\))?\s*|override\s*|final\s*|mutable\s*|&{1,2}\s*"
                         r"|throws\s+[\w.,\s<>]+?|->\s*(?P<trailing>[\w:<>,\s*&\[\]]+?))*\s*\{")
# a preprocessor line with its `\`-continued lines (masked text: comments are already blank)
_DIRECTIVE = re.compile(r"^[ \t]*(?:#|%:).*?(?:\\\n.*?)*$", re.MULTILINE)
_ATTRIBUTES = re.compile(r"\[\[.*?\]\]|\b(?:__attribute__|__declspec|alignas)\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)",
                         re.DOTALL)
# a requires-clause before the return type: `requires Small<T>`, `requires (sizeof(T) > 1)`
_REQUIRES = re.compile(r"\brequires\s+(?:\((?:[^()]|\([^()]*\))*\)|[\w:]+(?:\s*<[^;{}()]*?>)?)")
_WINDOW = 400  # characters a return type or a qualifier list may span
_TYPE_DEF = re.compile(r"\b(?:class|struct|interface|enum|record|union)\s+([A-Za-z_]\w*)")
_CPP_LAMBDA = re.compile(r"(?<![\w$])([A-Za-z_]\w*)\s*=\s*\[[^\]]*\]\s*")
_JAVA_LAMBDA = re.compile(r"(?<![\w$])([A-Za-z_$][\w$]*)\s*=\s*(?:\([^()]*\)|[A-Za-z_$][\w$]*)\s*->\s*")
_CHECK = {
    "cpp": re.compile(r"\b(?:assert|static_assert|abort|exit|throw|EXPECT_\w+|ASSERT_\w+|CHECK\w*|REQUIRE\w*)\b"
                      r"|\breturn\s+(?!0\s*;)[^;\s]"),
    "java": re.compile(r"\b(?:assert\w*|throw|fail)\b|\bSystem\s*\.\s*exit\b"),
}




# ============================================================================== finding the entry point
def find_entry_point(solution: str, tests: str, language: str) -> str | None:
    """The name of the function the tests exercise ("cpp" or "java" `language`), or None when they
    reference none of the solution's."""
    java = language == "java"
    msol, mtests = mask_c_like(solution, java=java), mask_c_like(tests, java=java)
    candidates = defined_functions(msol, java) - defined_functions(mtests, java)
    if not candidates:
        return None
    checks = _check_spans(mtests, _CHECK[language])
    best: tuple[int, int, str] | None = None
    for name in candidates:
        for m in re.finditer(rf"(?<![\w$]){re.escape(name)}(?![\w$])", mtests):
            rank = (0 if any(a <= m.start() < b for a, b in checks) else 1, m.start(), name)
            best = rank if best is None or rank < best else best
    return best[2] if best else None


def defined_functions(masked: str, java: bool) -> set[str]:
    """Names of the functions, methods and named lambdas defined in masked C++ / Java text (no `main`,
    no constructors)."""
    types = {m.group(1) for m in _TYPE_DEF.finditer(masked)}
    names = {d.name for d in _definitions(masked, None, java) if not d.name.startswith("operator")}
    names |= {m.group(1) for m in (_JAVA_LAMBDA if java else _CPP_LAMBDA).finditer(masked)}
    return {n for n in names if n not in _KEYWORDS and n not in types}


def _check_spans(masked: str, check: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of each statement that asserts, with the `if (...)` header that guards it."""
    spans = []
    for m in check.finditer(masked):
        start = max(masked.rfind(";", 0, m.start()), masked.rfind("}", 0, m.start()),
                    masked.rfind("{", 0, m.start()))
        if start >= 0 and masked[start] == "{" and not masked[start + 1:m.start()].strip():
            # `if (cond) { throw ...; }`: the condition is what is checked
            start = max(masked.rfind(";", 0, start), masked.rfind("}", 0, start), masked.rfind("{", 0, start))
        end = masked.find(";", m.end())
        spans.append((start + 1, len(masked) if end < 0 else end))
    return spans


def defined_names(solution: str, java: bool) -> set[str]:
    """The functions, methods, named lambdas and types a C++ / Java solution defines."""
    masked = mask_c_like(solution, java=java)
    return defined_functions(masked, java) | {m.group(1) for m in _TYPE_DEF.finditer(masked)}


# ======================================================================================== the mutant
class _Definition:
    def __init__(self, name: str, head: list[str], body_open: int, body_close: int, trailing: str | None,
                 start: int = 0, owner: str | None = None):
        self.name, self.head, self.body_open, self.body_close, self.trailing = (
            name, head, body_open, body_close, trailing)
        self.start = start  # where the name is
        self.owner = owner  # `int Acc::add(` defined outside its class: "Acc"

    @property
    def return_type(self) -> str:
        return self.head[-1] if self.head else ""


def _trailing(q: re.Match, masked: str, offset: int) -> str | None:
    """The trailing return type of a `_QUALIFIERS` match at `offset`: all of it up to the body (the lazy
    group alone would read `-> int& {` as `int` and a ref-qualifier), less `override` / `final`."""
    if q.group("trailing") is None:
        return None
    text = masked[offset + q.start("trailing"):offset + q.end() - 1]
    return re.sub(r"(?:\s+(?:override|final)\b)+\s*$", "", text).strip() or None


def _pairs(masked: str, opening: str, closing: str) -> dict[int, int]:
    """Index of each bracket's partner, in one pass (a scan per bracket would be quadratic on odd input)."""
    pairs, stack = {}, []
    for k, ch in enumerate(masked):
        if ch == opening:
            stack.append(k)
        elif ch == closing and stack:
            pairs[stack.pop()] = k
    return pairs


def _match_paren(masked: str, open_idx: int) -> int:
    return _pairs(masked, "(", ")").get(open_idx, -1)


def _definitions(masked: str, name: str | None, java: bool) -> list[_Definition]:
    """Function definitions (a name, a parameter list, qualifiers, a body) in masked text; only those of
    `name` when given. Calls, constructors' initialiser lists and declarations without a body are not."""
    found = []
    if not java:  # `#include <vector>` / `#define` lines are no part of the next definition's return type
        masked = _DIRECTIVE.sub(lambda d: re.sub(r"[^\n]", " ", d.group()), masked)
    parens, braces = _pairs(masked, "(", ")"), _pairs(masked, "{", "}")
    for m in _NAME_PAREN.finditer(masked):
        if name is not None and re.sub(r"\s+", "", m.group(1)) != name:
            continue
        close = parens.get(m.end() - 1, -1)
        if close < 0:
            continue
        q = _QUALIFIERS.match(masked[close + 1:close + 1 + _WINDOW])  # bounded: no backtracking over pages
        if not q:
            continue
        body_open = close + q.end()
        window = max(0, m.start() - _WINDOW)
        start = max(masked.rfind(";", window, m.start()), masked.rfind("}", window, m.start()),
                    masked.rfind("{", window, m.start()), window - 1)
        prefix = masked[start + 1:m.start()]
        prefix = re.sub(r"^\s*(?:public|private|protected)\s*:", " ", prefix)  # C++ access labels
        prefix = re.sub(r"@[\w.]+(?:\s*\([^()]*\))?", " ", prefix)  # Java annotations
        prefix = _ATTRIBUTES.sub(" ", prefix)  # `[[nodiscard]]`, `__attribute__((pure))`, `alignas(8)`
        prefix = re.sub(r"\btemplate\s*<[^;{}]*?>(?=\s*[\w:\[])", " ", prefix)
        prefix = _REQUIRES.sub(" ", prefix)
        owner = re.search(r"(\w+)(?:<[^;{}]*>)?\s*::\s*$", prefix)
        prefix = re.sub(r"(?:[\w<>,]+::\s*)+$", " ", prefix)  # `int Solution::add(`: the class qualifier
        head = [w for w in re.split(r"\s+", prefix.strip()) if w and w not in _MODIFIERS]
        if not head or head[-1] in ("new", "return", "else", "case", "throw", "co_return") or head[-1].endswith("~") \
                or head[-1].endswith(("=", ",", "(", "?", ":")) and not head[-1].endswith("::") \
                or m.group(1) in _KEYWORDS:
            continue  # a call, a constructor (no return type) or a control statement
        if java and head[-1] in ("class", "interface", "enum", "record"):
            continue
        end = braces.get(body_open, -1)
        if end < 0:
            continue
        found.append(_Definition(re.sub(r"\s+", "", m.group(1)), head, body_open, end,
                                 _trailing(q, masked, close + 1), m.start(),
                                 owner.group(1) if owner else None))
    return found


_JAVA_DEFAULTS = {"int": "0", "long": "0L", "short": "(short) 0", "byte": "(byte) 0", "char": "'\\0'",
                  "double": "0.0", "float": "0.0f", "boolean": "false"}
# java.util.function interfaces whose lambdas return a primitive: the default to return instead
_JAVA_FUNCTIONAL = [
    (re.compile(r"^(?:Int|Long|Double|ToInt|ToLong|ToDouble)\w*(?:Function|Operator|Supplier)\b"), "0"),
    (re.compile(r"^\w*Predicate\b"), "false"),
    (re.compile(r"^Boolean\w*Supplier\b"), "false"),
    (re.compile(r"^(?:Runnable|\w*Consumer)\b"), None),  # nothing returned
]


def _cpp_body(definition: _Definition, solution: str, masked: str) -> str:
    """A C++ body returning a default value of the function's return type."""
    returned = definition.trailing or " ".join(definition.head)
    if returned == "void" or not definition.trailing and definition.return_type == "void":
        return "{ }"
    if definition.return_type.startswith("auto") and definition.return_type.endswith("&") and not definition.trailing:
        # a deduced reference: each `return e;` returns a default object of e's type that outlives the call
        return _deduced_body(solution, masked, definition.body_open, definition.body_close, reference=True)
    if returned.endswith("&"):
        # a reference: to a default object that outlives the call (`return {};` would not compile)
        return (f"{{ static std::remove_cv_t<std::remove_reference_t<{returned}>> wizardcoder_default{{}}; "
                "return wizardcoder_default; }")
    if not definition.trailing and (definition.return_type in ("auto", "decltype(auto)")
                                    or definition.return_type.endswith(")")):
        # a deduced type: each `return e;` returns a value-initialised object of e's type
        return _deduced_body(solution, masked, definition.body_open, definition.body_close)
    return "{ return {}; }"


def _deduced_body(solution: str, masked: str, body_open: int, body_close: int, reference: bool = False) -> str:
    body, mbody = solution[body_open:body_close + 1], masked[body_open:body_close + 1]
    out, last = [], 0
    for m in re.finditer(r"\breturn\b(?!\s*;)", mbody):
        end = mbody.find(";", m.end())
        if end < 0:
            continue
        expr = body[m.end():end]
        out.append(body[last:m.end()])
        value = f"std::decay_t<decltype({expr.strip()})>"
        out.append(f" *[] {{ static {value} wizardcoder_default{{}}; return &wizardcoder_default; }}()" if reference
                   else f" {value}{{}}")
        last = end
    out.append(body[last:])
    return "".join(out)


def _lambda_edits(solution: str, masked: str, name: str, java: bool) -> list[tuple[int, int, str]]:
    edits = []
    for m in (_JAVA_LAMBDA if java else _CPP_LAMBDA).finditer(masked):
        if m.group(1) != name:
            continue
        if java:
            declared = masked[:m.start()].rstrip()
            declared_type = re.split(r"[;{}]", declared)[-1].split()
            kind = next((w for w in declared_type if w not in _MODIFIERS), "")
            value = "null"
            for pattern, default in _JAVA_FUNCTIONAL:
                if pattern.match(kind):
                    value = default
                    break
            body = "{ }" if value is None else f"{{ return {value}; }}"
            start = m.end()
            if masked[start] == "{":
                end = match_brace(masked, start) + 1
            else:  # an expression body: up to the `;` (or `,`) that ends the declaration at this depth
                end, depth = start, 0
                while end < len(masked) and not (depth == 0 and masked[end] in ";,)}"):
                    depth += masked[end] in "([{"
                    depth -= masked[end] in ")]}"
                    end += 1
            edits.append((start, end, body))
        else:
            params = m.end()
            if masked[params] == "(":
                params = _match_paren(masked, params) + 1
            q = _QUALIFIERS.match(masked[params:params + _WINDOW])
            if not q:
                continue
            definition = _Definition(name, ["auto"], params + q.end() - 1, match_brace(masked, params + q.end() - 1),
                                     _trailing(q, masked, params))
            if definition.body_close < 0:
                continue
            edits.append((definition.body_open, definition.body_close + 1, _cpp_body(definition, solution, masked)))
    return edits


def break_c_like(solution: str, name: str, java: bool) -> str | None:
    """The solution with every definition of `name` (overloads, methods of any class, a named lambda)
    returning a default value; None when no definition is found."""
    masked = mask_c_like(solution, java=java)
    edits = []
    for d in _definitions(masked, name, java):
        if java:
            body = "{ }" if d.return_type == "void" else "{ return " + _JAVA_DEFAULTS.get(d.return_type, "null") + "; }"
        else:
            body = _cpp_body(d, solution, masked)
        edits.append((d.body_open, d.body_close + 1, body))
    edits += _lambda_edits(solution, masked, name, java)
    if not edits:
        return None
    out = solution
    for a, b, body in sorted(edits, reverse=True):
        out = out[:a] + body + out[b:]
    if not java and ("std::decay_t" in out or "std::remove_cv_t" in out):
        out = "#include <type_traits>\n" + out
    return out


def referenced_types(solution: str, tests: str, language: str) -> list[str]:
    """The solution's classes / structs that the tests mention (for tests that call no named function:
    functors, operators, methods reached through a type)."""
    java = language == "java"
    msol, mtests = mask_c_like(solution, java=java), mask_c_like(tests, java=java)
    own = {m.group(1) for m in _TYPE_DEF.finditer(mtests)}
    return sorted({m.group(1) for m in _TYPE_DEF.finditer(msol)} - own
                  & {n for n in re.findall(r"[A-Za-z_$][\w$]*", mtests)})


def break_types(solution: str, types: list[str], java: bool) -> str | None:
    """The solution with every method of `types` (operators included) and every free operator returning
    a default value; None when there is none."""
    masked = mask_c_like(solution, java=java)
    spans = []
    for m in re.finditer(r"\b(?:class|struct|union|record|enum)\s+([A-Za-z_]\w*)[^;{]*\{", masked):
        if m.group(1) in types:
            spans.append((m.end() - 1, match_brace(masked, m.end() - 1)))
    edits = []
    for d in _definitions(masked, None, java):
        inside = any(a < d.start < b for a, b in spans) or d.owner in types
        if not (inside or (not java and d.name.startswith("operator"))):
            continue
        if java:
            body = "{ }" if d.return_type == "void" else "{ return " + _JAVA_DEFAULTS.get(d.return_type, "null") + "; }"
        else:
            body = _cpp_body(d, solution, masked)
        edits.append((d.body_open, d.body_close + 1, body))
    if not edits:
        return None
    out = solution
    for a, b, body in sorted(edits, reverse=True):
        if not any(a > x and b <= y for x, y, _ in edits if (x, y) != (a, b)):  # nested: the outer one wins
            out = out[:a] + body + out[b:]
    if not java and ("std::decay_t" in out or "std::remove_cv_t" in out):
        out = "#include <type_traits>\n" + out
    return out


__all__ = ["break_c_like", "break_types", "defined_functions", "defined_names", "find_entry_point", "mask_c_like",
           "match_brace", "referenced_types"]
