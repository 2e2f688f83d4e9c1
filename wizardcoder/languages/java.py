"""The Java builder (programs run with `-ea`): package lines are dropped, imports of both parts are merged at the top, and
`public` is removed from top-level types (so any class names fit one file). Accepted shapes: the
solution is one or more top-level types, or bare methods (then placed in the tests' main class, or a
generated `class Main`); the tests are top-level types (a type with the same name as a solution type
is merged into it), bare methods including `main` (placed into the solution's first class), or bare
statements (wrapped into `main` in the solution's first class). When the tests bring a `main`, the
solution's `main` is dropped. The tests' `main` is renamed and called from a generated `main` that
first initialises the solution's types and prints the "tests started" marker, then the tests' `main`
(without a final unconditional `System.exit(0)`), then the success marker. Static checks: `assert`, `throw` or `System.exit(<nonzero>)`, and a reference to a
method or type the solution defines; a solution that declares a type, field or variable named like a
JDK class the tests use (`class System`, whose `exit` would then be the solution's) is failed
(`java_shadowing`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import tree_sitter

from wizardcoder.execution import new_marker
from wizardcoder.languages import c_like_syntax
from wizardcoder.languages.base import INTERFACE, Built, ExecutionCheck, TokenBudget
from wizardcoder.languages.c_like import CLike, builder, drop_final_exit, sample_code, static_verdict
from wizardcoder.languages.c_like_syntax import mask_c_like
from wizardcoder.reasons import Reason

DISPLAY_NAME = "Java"
TOKEN_BUDGET = TokenBudget(local=(128, 448), endpoint=(512, 1536))

# the tests' own final `System.exit(0)`: the marker would never be printed
_JAVA_FINAL_EXIT = re.compile(r"(?:java\s*\.\s*lang\s*\.\s*)?(?:System|Runtime\s*\.\s*getRuntime\s*\(\s*\))\s*\.\s*"
                              r"(?:exit|halt)\s*\(\s*0\s*\)\s*;")
_JAVA_CHECKS = re.compile(r"\bassert\b|\bthrow\b|\bSystem\s*\.\s*exit\s*\(\s*(?!0\s*\))[^)\s]|\bfail\s*\(")
_TYPES = {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
          "annotation_type_declaration"}
_COMMENTS = {"line_comment", "block_comment"}


@dataclass
class _JavaItem:
    text: str
    kind: str  # "import" | "package" | "type" | "member"
    name: str = ""
    node_type: str = ""  # of a type: class_declaration, interface_declaration...


def _java_items(text: str) -> list[_JavaItem]:
    """The top-level items of Java source, each with the comments before it: imports, the package, types,
    and the rest (members, statements)."""
    src = c_like_syntax.parse(text, java=True)
    items, start = [], 0
    for node in src.root.children:
        if node.type in _COMMENTS:
            continue
        piece = text[start:src.char(node.end_byte)]
        start = src.char(node.end_byte)
        if node.type == "import_declaration":
            items.append(_JavaItem(piece, "import"))
        elif node.type == "package_declaration":
            items.append(_JavaItem(piece, "package"))
        elif node.type in _TYPES and node.child_by_field_name("name") is not None:
            items.append(_JavaItem(piece, "type", src.of(node.child_by_field_name("name")), node.type))
        else:
            items.append(_JavaItem(piece, "member"))
    return items


def _first_type(text: str) -> tuple[c_like_syntax.Source, tree_sitter.Node] | None:
    src = c_like_syntax.parse(text, java=True)
    node = next((n for n in src.root.named_children if n.type in _TYPES), None)
    return (src, node) if node is not None else None


def _java_unpublic(type_text: str) -> str:
    """A top-level type declaration without its `public` modifier (comments and annotations kept)."""
    found = _first_type(type_text)
    modifiers = next((c for c in found[1].children if c.type == "modifiers"), None) if found else None
    public = next((c for c in modifiers.children if c.type == "public"), None) if modifiers else None
    if public is None:
        return type_text
    src = found[0]
    end = src.char(public.end_byte)
    while end < len(type_text) and type_text[end].isspace():
        end += 1
    return type_text[:src.char(public.start_byte)] + type_text[end:]


def _type_body(type_text: str) -> str:
    """What is between the braces of a type declaration."""
    src, node = _first_type(type_text)
    body = node.child_by_field_name("body")
    return type_text[src.char(body.start_byte) + 1:src.char(body.end_byte) - 1]


def _java_body_insert(type_text: str, members: str) -> str:
    """`members` inserted before the closing brace of a type declaration."""
    close = type_text.rfind("}")
    return type_text[:close] + "\n" + members + "\n" + type_text[close:]


def _mains(text: str) -> tuple[c_like_syntax.Source, list[tree_sitter.Node]]:
    """The `void main(...)` methods of `text` (a type or members), at any depth."""
    src = c_like_syntax.parse(text, java=True)
    return src, [n for n in src.find("method_declaration")
                 if src.of(n.child_by_field_name("name")) == "main" and n.child_by_field_name("type") is not None
                 and src.of(n.child_by_field_name("type")) == "void"]


def _has_main(text: str) -> bool:
    return bool(_mains(text)[1])


def _java_remove_main(text: str) -> str:
    """`text` (a type or members) without its `void main(...)` methods."""
    src, mains = _mains(text)
    for node in reversed(mains):
        text = text[:src.char(node.start_byte)] + "\n" + text[src.char(node.end_byte):]
    return text


def _rename_main(text: str) -> str:
    """The tests' `main` renamed `wizardcoderTestsMain`, without a final unconditional `System.exit(0)`."""
    src, mains = _mains(text)
    if not mains:
        return text
    name, body = mains[0].child_by_field_name("name"), mains[0].child_by_field_name("body")
    if body is not None:
        text = drop_final_exit(text, mask_c_like(text, java=True), src.char(body.start_byte),
                               src.char(body.end_byte) - 1, _JAVA_FINAL_EXIT)
    return text[:src.char(name.start_byte)] + "wizardcoderTestsMain" + text[src.char(name.end_byte):]


def _program(check: ExecutionCheck, marker: str | None = None, started: str | None = None) -> Built:
    verdict = static_verdict(check, _JAVA_CHECKS, "assert/throw/System.exit(nonzero)", java=True)
    if verdict is not None:
        return verdict
    shadow = java_shadowing(check.solution, check.tests)
    if shadow:
        return Built(static_reason=Reason.FAILED, static_detail=shadow)

    sol_items, test_items = _java_items(check.solution), _java_items(check.tests)
    imports = list(dict.fromkeys(it.text.strip() for it in sol_items + test_items if it.kind == "import"))
    sol_types = [it for it in sol_items if it.kind == "type"]
    sol_members = "\n".join(it.text for it in sol_items if it.kind == "member").strip()
    test_types = [it for it in test_items if it.kind == "type"]
    test_rest = "\n".join(it.text for it in test_items if it.kind == "member").strip()
    test_members = ""
    if test_rest:
        if c_like_syntax.defines_at_top_level(c_like_syntax.parse(test_rest, java=True)):
            test_members = test_rest
        else:  # bare statements: the body of main
            test_members = ("public static void main(java.lang.String[] args) throws java.lang.Throwable {\n"
                            + test_rest + "\n}")

    if not (_has_main(test_members) or any(_has_main(t.text) for t in test_types)):
        return Built(static_reason=Reason.NO_ASSERTS,
                      static_detail="the tests have no main method: nothing runs them")

    # the solution's own main goes; the tests' main is renamed and wrapped to print the marker
    sol_types = [_JavaItem(_java_remove_main(t.text), "type", t.name, t.node_type) for t in sol_types]
    sol_members = _java_remove_main(sol_members) if sol_members else ""
    marker = marker or new_marker()
    started = started or new_marker().replace("PASS", "STARTED", 1)
    # Java initialises a class on first use: the solution's types (nested ones too) are initialised before
    # the "tests started" marker, so a mutant whose static initialiser fails never reaches the tests
    init = ", ".join(f'"{t.name}"' for t in sol_types)
    # fully qualified: the solution may not declare anything named `java` (java_shadowing)
    wrapper = ("\nstatic void wizardcoderInit(java.lang.Class<?> c) throws java.lang.Throwable {\n"
               "    java.lang.Class.forName(c.getName(), true, c.getClassLoader());\n"
               "    for (java.lang.Class<?> n : c.getDeclaredClasses()) wizardcoderInit(n);\n}\n"
               "public static void main(java.lang.String[] args) throws java.lang.Throwable {\n"
               f"    for (java.lang.String t : new java.lang.String[] {{{init}}}) wizardcoderInit(java.lang.Class.forName(t));\n"
               f'    java.lang.System.out.println();\n    java.lang.System.out.println("{started}");\n'
               "    java.lang.System.out.flush();\n"
               "    wizardcoderTestsMain(args);\n    java.lang.System.out.flush();\n    java.lang.System.out.println();\n"
               f'    java.lang.System.out.println("{marker}");\n    java.lang.System.out.flush();\n}}\n')

    if test_members and _has_main(test_members):
        test_members = _rename_main(test_members) + wrapper
    test_types = [_JavaItem(_java_body_insert(_rename_main(t.text), wrapper) if _has_main(t.text) else t.text,
                            "type", t.name, t.node_type) for t in test_types]

    sol_by_name = {t.name: i for i, t in enumerate(sol_types)}
    extra_types: list[str] = []
    for t in test_types:  # a test type named like a solution type is merged into it
        if t.name in sol_by_name:
            i = sol_by_name[t.name]
            sol_types[i] = _JavaItem(_java_body_insert(sol_types[i].text, _type_body(t.text)), "type", t.name,
                                     sol_types[i].node_type)
        else:
            extra_types.append(t.text)
    host_index = next((i for i, t in enumerate(sol_types) if t.node_type == "class_declaration"), None)
    generated_main_class = ""
    if sol_members:
        main_test = next((i for i, t in enumerate(extra_types) if _has_main(t)), None)
        if main_test is not None and not test_members:
            extra_types[main_test] = _java_body_insert(extra_types[main_test], sol_members)
            sol_members = ""
    if test_members or sol_members:
        members = "\n".join(x for x in (sol_members, test_members) if x)
        if host_index is not None and not sol_members:
            host = sol_types[host_index]
            sol_types[host_index] = _JavaItem(_java_body_insert(host.text, members), "type", host.name, host.node_type)
        else:
            name = "Main" if "Main" not in sol_by_name and all(t.name != "Main" for t in test_types) \
                else "WizardcoderMain"
            generated_main_class = f"class {name} {{\n{members}\n}}"
    parts = [*(t.text for t in sol_types), generated_main_class, *extra_types]
    parts = [_java_unpublic(p.strip()) for p in parts if p.strip()]
    program = "\n".join(imports) + "\n\n" + "\n\n".join(parts) + "\n"
    return Built(program=program, marker=marker, started_marker=started)


# build(check, mutation) -> Built: the program for a Java check (and its mutant), or the static verdict
build = builder(_program, java=True)


# the entry point, the definitions, the salvage of cut tests, a reply's blocks and eval's prompts and replies:
# read as C++ and Java read them alike (`c_like.CLike`), with the Java grammar and what Java tests look like
(entry_point, defined_names, declares, salvage_tests, strip_comments, looks_like_tests, looks_like_code,
 split_tests, join_tests, prompt_entry_point, fit_reply) = CLike(
    java=True, tests=re.compile(r"\bassert\b|\bstatic\s+void\s+main\s*\(", re.MULTILINE),
    main=re.compile(r"^[ \t]*(?:public\s+|final\s+)*class\s+\w+[^{]*\{[^{}]*?\bstatic\s+void\s+main\s*\(",
               re.MULTILINE | re.DOTALL)).functions()


# ============================================================================== eval's sample program
def sample_program(prompt: str, tests: str, marker: str, completion: str | None = None,
                   solution: str | None = None, entry_point: str = "") -> str:
    """`prompt + completion + tests` (a full solution: its entry point's body as the completion), then the
    marker; a program that fails with the reason when the model's code declares a type or field named
    like a JDK class the tests use."""
    model = sample_code(completion, solution, entry_point, java=True)
    shadow = java_shadowing(model, tests, imports=prompt)
    if shadow:
        return rejected_program(shadow)
    return with_marker(prompt + model + tests, marker)


def rejected_program(why: str) -> str:
    """A Java program that fails, saying `why` on stderr: a sample rejected without running it."""
    text = json.dumps("wizardcoder: the sample was not run: " + why)
    return ("public class Main {\n    public static void main(java.lang.String[] args) {\n"
            f"        java.lang.System.err.println({text});\n        java.lang.System.exit(1);\n    }}\n}}\n")


def with_marker(text: str, marker: str) -> str:
    """`marker` printed at the end of `main` (MultiPL-E's Java tests end with main's and the class's
    closing braces)."""
    stripped = text.rstrip()
    last = stripped.rfind("}")
    end = stripped.rfind("}", 0, last)
    if last == -1 or end == -1:
        return text
    return (text[:end] + f'    java.lang.System.out.print("\\n{marker}\\n");\n    java.lang.System.out.flush();\n    '
            + text[end:])


# ================================================= what the model's code may not change in the program
# The solution (evolve) or completion (eval) shares one file with the tests, so nothing it declares may
# change what the tests' names mean: no type or field named like a JDK class (`java_shadowing`).
# Public top-level types of the packages Java tests name without qualification (java.lang always; the
# others when the program imports them, on demand or by name); from the JDK 17 class list.
_JDK_TYPES = {
    "java.lang": """
        AbstractMethodError Appendable ArithmeticException ArrayIndexOutOfBoundsException
        ArrayStoreException AssertionError AutoCloseable Boolean BootstrapMethodError Byte CharSequence
        Character Class ClassCastException ClassCircularityError ClassFormatError ClassLoader
        ClassNotFoundException ClassValue CloneNotSupportedException Cloneable Comparable Compiler
        Deprecated Double Enum EnumConstantNotPresentException Error Exception ExceptionInInitializerError
        Float FunctionalInterface IllegalAccessError IllegalAccessException IllegalArgumentException
        IllegalCallerException IllegalMonitorStateException IllegalStateException
        IllegalThreadStateException IncompatibleClassChangeError IndexOutOfBoundsException
        InheritableThreadLocal InstantiationError InstantiationException Integer InternalError
        InterruptedException Iterable LayerInstantiationException LinkageError Long Math Module ModuleLayer
        NegativeArraySizeException NoClassDefFoundError NoSuchFieldError NoSuchFieldException
        NoSuchMethodError NoSuchMethodException NullPointerException Number NumberFormatException Object
        OutOfMemoryError Override Package Process ProcessBuilder ProcessHandle Readable Record
        ReflectiveOperationException Runnable Runtime RuntimeException RuntimePermission SafeVarargs
        SecurityException SecurityManager Short StackOverflowError StackTraceElement StackWalker StrictMath
        String StringBuffer StringBuilder StringIndexOutOfBoundsException SuppressWarnings System Thread
        ThreadDeath ThreadGroup ThreadLocal Throwable TypeNotPresentException UnknownError
        UnsatisfiedLinkError UnsupportedClassVersionError UnsupportedOperationException VerifyError
        VirtualMachineError Void
    """,
    "java.util": """
        AbstractCollection AbstractList AbstractMap AbstractQueue AbstractSequentialList AbstractSet
        ArrayDeque ArrayList Arrays Base64 BitSet Calendar Collection Collections Comparator
        ConcurrentModificationException Currency Date Deque Dictionary DoubleSummaryStatistics
        DuplicateFormatFlagsException EmptyStackException EnumMap EnumSet Enumeration EventListener
        EventListenerProxy EventObject FormatFlagsConversionMismatchException Formattable FormattableFlags
        Formatter FormatterClosedException GregorianCalendar HashMap HashSet Hashtable HexFormat
        IdentityHashMap IllegalFormatCodePointException IllegalFormatConversionException
        IllegalFormatException IllegalFormatFlagsException IllegalFormatPrecisionException
        IllegalFormatWidthException IllformedLocaleException InputMismatchException IntSummaryStatistics
        InvalidPropertiesFormatException Iterator LinkedHashMap LinkedHashSet LinkedList List ListIterator
        ListResourceBundle Locale LongSummaryStatistics Map MissingFormatArgumentException
        MissingFormatWidthException MissingResourceException NavigableMap NavigableSet
        NoSuchElementException Objects Observable Observer Optional OptionalDouble OptionalInt OptionalLong
        PrimitiveIterator PriorityQueue Properties PropertyPermission PropertyResourceBundle Queue Random
        RandomAccess ResourceBundle Scanner ServiceConfigurationError ServiceLoader Set SimpleTimeZone
        SortedMap SortedSet Spliterator Spliterators SplittableRandom Stack StringJoiner StringTokenizer
        TimeZone Timer TimerTask TooManyListenersException TreeMap TreeSet UUID
        UnknownFormatConversionException UnknownFormatFlagsException Vector WeakHashMap
    """,
    "java.util.function": """
        BiConsumer BiFunction BiPredicate BinaryOperator BooleanSupplier Consumer DoubleBinaryOperator
        DoubleConsumer DoubleFunction DoublePredicate DoubleSupplier DoubleToIntFunction
        DoubleToLongFunction DoubleUnaryOperator Function IntBinaryOperator IntConsumer IntFunction
        IntPredicate IntSupplier IntToDoubleFunction IntToLongFunction IntUnaryOperator LongBinaryOperator
        LongConsumer LongFunction LongPredicate LongSupplier LongToDoubleFunction LongToIntFunction
        LongUnaryOperator ObjDoubleConsumer ObjIntConsumer ObjLongConsumer Predicate Supplier
        ToDoubleBiFunction ToDoubleFunction ToIntBiFunction ToIntFunction ToLongBiFunction ToLongFunction
        UnaryOperator
    """,
    "java.util.stream": """
        BaseStream Collector Collectors DoubleStream IntStream LongStream Stream StreamSupport
    """,
    "java.math": """
        BigDecimal BigInteger MathContext RoundingMode
    """,
    "java.io": """
        BufferedInputStream BufferedOutputStream BufferedReader BufferedWriter ByteArrayInputStream
        ByteArrayOutputStream CharArrayReader CharArrayWriter CharConversionException Closeable Console
        DataInput DataInputStream DataOutput DataOutputStream EOFException Externalizable File
        FileDescriptor FileFilter FileInputStream FileNotFoundException FileOutputStream FilePermission
        FileReader FileWriter FilenameFilter FilterInputStream FilterOutputStream FilterReader FilterWriter
        Flushable IOError IOException InputStream InputStreamReader InterruptedIOException
        InvalidClassException InvalidObjectException LineNumberInputStream LineNumberReader
        NotActiveException NotSerializableException ObjectInput ObjectInputFilter ObjectInputStream
        ObjectInputValidation ObjectOutput ObjectOutputStream ObjectStreamClass ObjectStreamConstants
        ObjectStreamException ObjectStreamField OptionalDataException OutputStream OutputStreamWriter
        PipedInputStream PipedOutputStream PipedReader PipedWriter PrintStream PrintWriter
        PushbackInputStream PushbackReader RandomAccessFile Reader SequenceInputStream Serial Serializable
        SerializablePermission StreamCorruptedException StreamTokenizer StringBufferInputStream StringReader
        StringWriter SyncFailedException UTFDataFormatException UncheckedIOException
        UnsupportedEncodingException WriteAbortedException Writer
    """,
    "org.javatuples": "Pair Triplet Quartet Quintet Sextet Septet Octet Ennead Decade Unit KeyValue LabelValue Tuple",
}

_JAVA_TYPES = {pkg: frozenset(names.split()) for pkg, names in _JDK_TYPES.items()}
_JAVA_IMPORT = re.compile(r"\bimport\s+(?:static\s+)?([\w.]+?)\s*\.\s*(\*|\w+)\s*;")
# what declares a field or variable (the name field of each), lambda parameters aside
_VARIABLES = ("variable_declarator", "formal_parameter", "catch_formal_parameter", "enum_constant", "resource",
              "enhanced_for_statement",
              "instanceof_expression")


def _java_unescape(text: str) -> str:
    """javac reads `\\u0053ystem` as `System` before anything else."""
    return re.sub(r"\\u+([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _declarations(code: str) -> dict[str, str]:
    """name -> "type" / "field or variable" for each name the code declares, at any depth; a name inside
    what the parser could not read counts as declared (over-report rather than miss)."""
    src = c_like_syntax.parse(code, java=True)
    found: dict[str, str] = {}
    for node in src.find(*_VARIABLES, "lambda_expression", "inferred_parameters", "ERROR"):
        if node.type == "ERROR":
            names = [n for n in src.find("identifier", "type_identifier", under=node)]
        elif node.type == "lambda_expression":
            param = node.child_by_field_name("parameters")
            names = [param] if param is not None and param.type == "identifier" else []
        elif node.type == "inferred_parameters":
            names = [c for c in node.named_children if c.type == "identifier"]
        else:
            names = [node.child_by_field_name("name")] if node.child_by_field_name("name") is not None else []
        for name in names:
            found.setdefault(src.of(name), "field or variable")
    for node in src.find(*_TYPES):
        if node.child_by_field_name("name") is not None:
            found[src.of(node.child_by_field_name("name"))] = "type"
    return found


def java_shadowing(model_code: str, tests: str, imports: str = "") -> str | None:
    """Why the model's Java code would change what the tests' names mean, else None: it declares a type
    (at any depth), a field or a variable named like a JDK class the tests use by its simple name
    (java.lang's always; an imported package's when the program imports it: a top-level `class System`
    hides java.lang.System from the whole file, a nested one from its class and subclasses), or
    anything named `java` (which hides fully qualified names). `imports`: other text whose imports count
    (the prompt). Over-reports rather than misses, except inside comments and string literals."""
    code, tests = _java_unescape(model_code), _java_unescape(tests)
    both = code + "\n" + tests + "\n" + _java_unescape(imports)
    shadowable = set(_JAVA_TYPES["java.lang"])
    for pkg, name in _JAVA_IMPORT.findall(both):
        if name == "*":
            shadowable |= _JAVA_TYPES.get(pkg, frozenset())
        elif name[:1].isupper():
            shadowable.add(name)
    used = {n for n in re.findall(r"(?<![\w.$])([A-Z]\w*)", tests) if n in shadowable}
    declared = _declarations(code)
    for name in ["java", *sorted(used)]:
        kind = declared.get(name)
        if kind:
            hidden = "the JDK's packages (java.lang.System...)" if name == "java" else f"the JDK's {name}"
            return (f"the solution declares a {kind} named `{name}`, which would hide {hidden} from the tests "
                    f"(they would use the solution's instead)")
    return None


# the language interface (`base.Language`) and the names other modules import
__all__ = list(INTERFACE) + ["java_shadowing"]
