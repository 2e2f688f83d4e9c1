"""What the model's code may not change in the program that tests it: the solution (evolve) or completion
(eval) shares one file with the tests, so nothing it declares may change what the tests' names mean: no
C++ macro (`cpp_isolate_macros`), no C++ definition of a libc/runtime function the harness relies on
(`cpp_runtime_overrides`), no Java type or field named like a JDK class (`java_shadowing`).

Shared by evolve's C++/Java builders (`languages/`) and eval's programs (`eval/programs.py`).
"""

from __future__ import annotations

import re

from wizardcoder.languages.c_like_scan import mask_c_like

# `#define NAME` however spelled: `%:` / `??=` for `#`, comments or blanks around `define`. Searched
# everywhere (inside strings and comments too): a spare #undef costs nothing, a missed one is a bypass.
_GAP = r"(?:[ \t\f\v]|/\*.*?\*/)"
_CPP_DEFINE = re.compile(rf"(?:#|%:|\?\?=){_GAP}*define{_GAP}+([A-Za-z_]\w*)", re.DOTALL)


def _defined_macros(model_code: str) -> list[str]:
    spliced = re.sub(r"\\\r?\n", "", model_code)  # `#def\<newline>ine` is `#define`
    return [n for n in dict.fromkeys(m.group(1) for m in _CPP_DEFINE.finditer(spliced)) if n != "defined"]


def cpp_save_macros(model_code: str) -> str:
    """Preprocessor lines to put before the model's C++ code (after the headers): each macro it defines, as
    the headers left it, saved (`#pragma push_macro`) for `cpp_isolate_macros` to put back."""
    names = _defined_macros(model_code)
    return "\n" + "".join(f'#pragma push_macro("{n}")\n' for n in names) if names else ""


def cpp_isolate_macros(model_code: str) -> str:
    """Preprocessor lines to put between the model's C++ code and the tests: every macro the code defines
    (`#define assert(x)`, `__assert_fail`, `exit`, `return`, `main`, `cout`...) undefined and put back as the
    headers had it (`#pragma pop_macro`: a solution guarding `M_PI` leaves the tests `<cmath>`'s), then assert
    restored (`#undef NDEBUG`, `#include <cassert>`), so the tests see none of its macros. The model code may
    not use push_macro/pop_macro/_Pragma itself (`cpp_runtime_overrides` refuses it)."""
    lines = [line for n in _defined_macros(model_code)
             for line in (f"#undef {n}", f'#pragma pop_macro("{n}")')]
    return "\n" + "\n".join([*lines, "#undef NDEBUG", "#include <cassert>"]) + "\n"


def after_includes(prompt: str) -> int:
    """Where the header lines that open a C++ prompt end (the place for `cpp_save_macros`)."""
    end = 0
    for m in re.finditer(r"^[ \t]*#[ \t]*(?:include|import)\b[^\n]*(?:\n|$)", prompt, re.MULTILINE):
        end = m.end()
    return end


# What the test harness relies on from libc and the C++ runtime (asserts, exits, signals, exceptions,
# the marker's print): a definition of one of these in the model's code replaces it at link time (or, in
# the same file, wins overload resolution), so a failing `assert` would no longer fail.
_CPP_RUNTIME = frozenset({
    "__assert_fail", "__assert_perror_fail", "__assert", "abort", "exit", "_exit", "_Exit", "quick_exit",
    "atexit", "at_quick_exit", "raise", "signal", "sigaction", "kill", "terminate", "set_terminate",
    "__gxx_personality_v0", "printf", "puts", "write", "fflush", "fputs", "fwrite", "putchar", "vprintf",
    "fprintf", "main",
})
_CPP_RUNTIME_PREFIXES = ("__cxa_", "__gxx_", "__libc_", "_Unwind_", "__assert", "__stack_chk_")
_CPP_ALTERNATIVE = {"<%": "{ ", "%>": "} ", "??<": "{  ", "??>": "}  "}  # same length: positions keep
_CPP_SYMBOL_TRICK = re.compile(r"\b(?:asm|__asm__|__asm|alias|weakref|ifunc|symver|redefine_extname)\b")
_CPP_DEFINE_TEXT = re.compile(r"^[ \t]*(?:#|%:)[ \t]*define[ \t]+([A-Za-z_]\w*)(.*)$", re.MULTILINE)
_CPP_DIRECTIVE = re.compile(r"^[ \t]*(?:#|%:).*$", re.MULTILINE)
_CPP_NAMESPACE_OPENER = re.compile(r"(?:\bnamespace\b[\s\w:]*|\bextern\s*\"\s*\"\s*)$")


def _is_runtime_name(name: str) -> bool:
    return name in _CPP_RUNTIME or name.startswith(_CPP_RUNTIME_PREFIXES)


def _runtime_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z_]\w*", text) if _is_runtime_name(w)]


def _namespace_scope(masked: str) -> list[bool]:
    """For each position of masked C++, whether it is at namespace scope (only `namespace` and
    `extern "C"` blocks around it, no class, function or initialiser braces)."""
    out, stack, last = [], [], 0  # stack: one bool per open brace, True for a namespace-like block
    for k, ch in enumerate(masked):
        if ch == "{":
            stack.append(bool(_CPP_NAMESPACE_OPENER.search(masked[max(last, k - 300):k].rstrip())))
            last = k + 1
        elif ch == "}":
            if stack:
                stack.pop()
            last = k + 1
        elif ch == ";":
            last = k + 1
        out.append(all(stack))
    return out


def cpp_runtime_overrides(model_code: str) -> str | None:
    """Why the model's C++ code would replace a libc / C++ runtime function the tests' harness relies on
    (`__assert_fail`, `abort`, `exit`, `signal`, `__cxa_*`, `std::terminate`, `printf`, `main`...), else
    None: it defines a free function with such a name at namespace scope (any namespace, any linkage;
    `Cls::write` of its own class and methods inside a class are fine, calls and declarations too), names
    one in an `asm` label, a symbol alias or `redefine_extname`, or builds one with a macro used at
    namespace scope. Over-reports rather than misses."""
    code = re.sub(r"\\\r?\n", "", model_code)  # `ex\<newline>it` is `exit`
    if re.search(r"\b(?:push_macro|pop_macro|_Pragma|__pragma)\b", code):  # would unbalance cpp_isolate_macros
        return "the solution uses #pragma push_macro/pop_macro or _Pragma, which could bring its macros back"
    for alt, plain in _CPP_ALTERNATIVE.items():
        code = code.replace(alt, plain)
    # the keyword outside comments and strings (directives stay: `#pragma redefine_extname`); the names in the
    # raw text of the whole declaration, `asm` labels being string literals: `void abort() asm("exit")`
    for m in _CPP_SYMBOL_TRICK.finditer(mask_c_like(code)):
        start = max(code.rfind(";", 0, m.start()), code.rfind("}", 0, m.start()), code.rfind("{", 0, m.start()))
        end = code.find(";", m.end())
        named = _runtime_words(code[max(start + 1, m.start() - 2000):len(code) if end < 0 else end][:4000])
        if named:
            return (f"the solution gives a symbol the name `{named[0]}` (`{m.group()}`), a function the test "
                    "harness relies on: it would replace it at link time")
    # macros that could spell such a definition: their text names one, pastes tokens, or uses another
    macros = {name: body for name, body in _CPP_DEFINE_TEXT.findall(code)}
    suspect = {n for n, body in macros.items() if _runtime_words(body) or "##" in body}
    grown = True
    while grown:
        more = {n for n, body in macros.items() if n not in suspect and set(re.findall(r"\w+", body)) & suspect}
        suspect |= more
        grown = bool(more)
    masked = _CPP_DIRECTIVE.sub(lambda d: re.sub(r"[^\n]", " ", d.group()), mask_c_like(code))
    scope = _namespace_scope(masked)
    own_types = set(re.findall(r"\b(?:class|struct|union)\s+([A-Za-z_]\w*)", masked))
    for m in re.finditer(r"[A-Za-z_]\w*", masked):
        name = m.group()
        if name not in macros and not _is_runtime_name(name) or not scope[m.start()] \
                or masked[max(0, m.start() - 100):m.start()].rstrip().endswith((".", "->")):
            continue
        args = re.match(r"\s*\(([^;{}]*)", masked[m.end():m.end() + 2000]) if name in macros else None
        if name in suspect or args and _runtime_words(code[m.end():m.end() + args.end()]):
            return (f"the solution uses its macro `{name}` outside any function, with the name of a libc/C++ runtime "
                    "function or pasted tokens: it could define a function the test harness relies on")
        if not _is_runtime_name(name):
            continue
        owner = re.search(r"([A-Za-z_]\w*)\s*(?:<[^;{}()]*>)?\s*::\s*$", masked[max(0, m.start() - 200):m.start()])
        if owner and owner.group(1) in own_types:
            continue  # `void Logger::write(...) {` defines a method of the solution's own class
        if _defines_function(masked, m.end()):
            return (f"the solution defines a function named `{name}` outside any class, which would replace the "
                    "libc / C++ runtime function of that name the test harness relies on (a failing assert or "
                    "exit would no longer fail)")
    return None


def _defines_function(masked: str, after_name: int) -> bool:
    """Whether the name ending at `after_name` starts a function definition: `(params)`, then only
    declarator and qualifier text (`noexcept`, `-> T`, attributes, `)(int)` of a returned function
    pointer) up to a `{`."""
    k = after_name
    template = re.match(r"\s*<[^;{}()]*>", masked[k:k + 300])
    k += template.end() if template else 0
    while k < len(masked) and masked[k].isspace():
        k += 1
    if k >= len(masked) or masked[k] != "(":
        return False
    ends = [i for i in (masked.find("{", k), masked.find(";", k)) if i >= 0]
    if not ends or masked[min(ends)] != "{":
        return False
    gap = masked[k:min(ends)]
    while True:  # balanced parentheses (parameters, noexcept(...), attributes) out
        shorter = re.sub(r"\([^()]*\)", " ", gap)
        if shorter == gap:
            break
        gap = shorter
    return bool(re.fullmatch(r"[\s\w:<>,*&\[\]\->.)]*", gap))


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
_J_GAP = r"(?:\s|/\*.*?\*/|//[^\n]*\n)"
_JAVA_KEYWORDS_BEFORE_TYPE = {"new", "instanceof", "extends", "implements", "throws", "return", "case",
                              "import", "package", "throw", "assert", "else", "do"}


def _java_unescape(text: str) -> str:
    """javac reads `\\u0053ystem` as `System` before anything else."""
    return re.sub(r"\\u+([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def java_shadowing(model_code: str, tests: str, imports: str = "") -> str | None:
    """Why the model's Java code would change what the tests' names mean, else None: it declares a type
    (at any depth), a field or a variable named like a JDK class the tests use by its simple name
    (java.lang's always; an imported package's when the program imports it: a top-level `class System`
    hides java.lang.System from the whole file, a nested one from its class and subclasses), or
    anything named `java` (which hides fully qualified names). `imports`: other text whose imports count
    (the prompt). Over-reports rather than misses, except inside comments and string literals."""
    code, tests = _java_unescape(model_code), _java_unescape(tests)
    both = code + "\n" + tests + "\n" + _java_unescape(imports)
    code = mask_c_like(code, java=True)  # declarations only: "expected a String, got null" declares nothing
    shadowable = set(_JAVA_TYPES["java.lang"])
    for pkg, name in _JAVA_IMPORT.findall(both):
        if name == "*":
            shadowable |= _JAVA_TYPES.get(pkg, frozenset())
        elif name[:1].isupper():
            shadowable.add(name)
    used = {n for n in re.findall(r"(?<![\w.$])([A-Z]\w*)", tests) if n in shadowable}
    for name in ["java", *sorted(used)]:
        n = re.escape(name)
        kind = None
        if re.search(rf"\b(?:class|interface|enum|record){_J_GAP}+{n}\b", code, re.DOTALL):
            kind = "type"
        else:
            for m in re.finditer(rf"(\w+|[>\]]){_J_GAP}+{n}{_J_GAP}*[=;,):]", code, re.DOTALL):
                if m.group(1) not in _JAVA_KEYWORDS_BEFORE_TYPE:
                    kind = "field or variable"
                    break
            for body in re.findall(r"\benum\b[^{]*\{([^;}]*)", code):  # enum constants are fields too
                if re.search(rf"(?:^|,){_J_GAP}*(?:@\w+{_J_GAP}*)*{n}\b", body, re.DOTALL):
                    kind = "field or variable"
        if kind:
            hidden = "the JDK's packages (java.lang.System...)" if name == "java" else f"the JDK's {name}"
            return (f"the solution declares a {kind} named `{name}`, which would hide {hidden} from the tests "
                    f"(they would use the solution's instead)")
    return None
