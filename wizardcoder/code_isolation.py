"""What the model's code may not change in the program that tests it: the solution (evolve) or completion
(eval) shares one file with the tests, so nothing it declares may change what the tests' names mean.

Shared by evolve's C++/Java builders (`eliminate/builders/`) and eval's programs (`eval/programs.py`).
"""

from __future__ import annotations

import re

# `#define NAME` however spelled: `%:` / `??=` for `#`, comments or blanks around `define`. Searched
# everywhere (inside strings and comments too): a spare #undef costs nothing, a missed one is a bypass.
_GAP = r"(?:[ \t\f\v]|/\*.*?\*/)"
_CPP_DEFINE = re.compile(rf"(?:#|%:|\?\?=){_GAP}*define{_GAP}+([A-Za-z_]\w*)", re.DOTALL)


def cpp_isolate_macros(model_code: str) -> str:
    """Preprocessor lines to put between the model's C++ code and the tests: `#undef` of every macro the
    code defines (`#define assert(x)`, `__assert_fail`, `exit`, `return`, `main`, `cout`...), then
    assert restored (`#undef NDEBUG`, `#include <cassert>`), so the tests see none of its macros."""
    spliced = re.sub(r"\\\r?\n", "", model_code)  # `#def\<newline>ine` is `#define`
    names = dict.fromkeys(m.group(1) for m in _CPP_DEFINE.finditer(spliced))
    lines = [f"#undef {n}" for n in names if n != "defined"]
    return "\n" + "\n".join([*lines, "#undef NDEBUG", "#include <cassert>"]) + "\n"


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
    (the prompt). Over-reports rather than misses: the text is searched as is, strings and comments
    included."""
    code, tests = _java_unescape(model_code), _java_unescape(tests)
    both = code + "\n" + tests + "\n" + _java_unescape(imports)
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
