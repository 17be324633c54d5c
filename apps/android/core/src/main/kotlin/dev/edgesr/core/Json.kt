package dev.edgesr.core

/**
 * A small JSON reader and writer: enough for model contracts, bundle manifests and results files,
 * with no third-party library (the core module runs on a bare JVM in CI).
 *
 * Values are plain Kotlin objects:
 * - object → [LinkedHashMap]<String, Any?> (key order kept, so written files read naturally),
 * - array → [List]<Any?>,
 * - string → [String],
 * - number → [Long] when written without fraction or exponent, else [Double]
 *   (so "ints stay ints" when a file is read and written back),
 * - true/false → [Boolean], null → null.
 */
object Json {
    /** Parses [text] as one JSON value; throws [JsonError] naming line and column of the problem. */
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipWhitespace()
        val value = reader.readValue()
        reader.skipWhitespace()
        if (!reader.atEnd()) reader.fail("unexpected '${reader.peek()}' after the JSON value")
        return value
    }

    /**
     * Writes [value] as JSON.  Accepts what [parse] returns plus Int/Float/other Number types,
     * arrays of primitives are not accepted (use lists).  With [indent] > 0 the output is
     * pretty-printed; non-finite doubles are refused (JSON has no NaN/Infinity).
     */
    fun write(value: Any?, indent: Int = 0): String {
        val out = StringBuilder()
        writeValue(out, value, indent, 0)
        return out.toString()
    }

    private fun writeValue(out: StringBuilder, value: Any?, indent: Int, depth: Int) {
        when (value) {
            null -> out.append("null")
            is Boolean -> out.append(value.toString())
            is String -> writeString(out, value)
            is Int, is Long, is Short, is Byte -> out.append(value.toString())
            is Float -> writeDouble(out, value.toDouble())
            is Double -> writeDouble(out, value)
            is Map<*, *> -> {
                if (value.isEmpty()) { out.append("{}"); return }
                out.append('{')
                var first = true
                for ((key, item) in value) {
                    if (!first) out.append(',')
                    first = false
                    newline(out, indent, depth + 1)
                    writeString(out, key as? String ?: throw IllegalArgumentException("JSON object keys must be strings, got $key"))
                    out.append(if (indent > 0) ": " else ":")
                    writeValue(out, item, indent, depth + 1)
                }
                newline(out, indent, depth)
                out.append('}')
            }
            is List<*> -> {
                if (value.isEmpty()) { out.append("[]"); return }
                out.append('[')
                value.forEachIndexed { index, item ->
                    if (index > 0) out.append(if (indent > 0) ", " else ",")
                    writeValue(out, item, indent, depth + 1)
                }
                out.append(']')
            }
            else -> throw IllegalArgumentException("cannot write ${value::class.simpleName} as JSON")
        }
    }

    private fun newline(out: StringBuilder, indent: Int, depth: Int) {
        if (indent > 0) out.append('\n').append(" ".repeat(indent * depth))
    }

    private fun writeDouble(out: StringBuilder, value: Double) {
        require(value.isFinite()) { "JSON has no NaN or Infinity (got $value)" }
        // Kotlin prints 1.0E-4; JSON accepts that form, and it reads back as the same double.
        out.append(value.toString())
    }

    private fun writeString(out: StringBuilder, text: String) {
        out.append('"')
        for (ch in text) {
            when (ch) {
                '"' -> out.append("\\\"")
                '\\' -> out.append("\\\\")
                '\n' -> out.append("\\n")
                '\r' -> out.append("\\r")
                '\t' -> out.append("\\t")
                '\b' -> out.append("\\b")
                '\u000C' -> out.append("\\f")
                else -> if (ch < ' ') out.append("\\u%04x".format(ch.code)) else out.append(ch)
            }
        }
        out.append('"')
    }

    private class Reader(private val text: String) {
        private var pos = 0

        fun atEnd() = pos >= text.length
        fun peek(): Char = text[pos]

        fun fail(message: String): Nothing {
            // Line and column (1-based) of the current position: what an editor shows.
            var line = 1
            var column = 1
            for (i in 0 until minOf(pos, text.length)) {
                if (text[i] == '\n') { line++; column = 1 } else column++
            }
            throw JsonError("$message at line $line, column $column")
        }

        fun skipWhitespace() {
            while (pos < text.length && text[pos] in " \t\r\n") pos++
        }

        fun readValue(): Any? {
            if (atEnd()) fail("expected a value, found the end of the text")
            return when (val ch = peek()) {
                '{' -> readObject()
                '[' -> readArray()
                '"' -> readString()
                't' -> readWord("true", true)
                'f' -> readWord("false", false)
                'n' -> readWord("null", null)
                else -> if (ch == '-' || ch in '0'..'9') readNumber() else fail("unexpected '$ch'")
            }
        }

        private fun readWord(word: String, value: Any?): Any? {
            if (!text.startsWith(word, pos)) fail("expected '$word'")
            pos += word.length
            return value
        }

        private fun expect(ch: Char) {
            if (atEnd()) fail("expected '$ch', found the end of the text")
            if (peek() != ch) fail("expected '$ch', found '${peek()}'")
            pos++
        }

        private fun readObject(): Map<String, Any?> {
            expect('{')
            val result = LinkedHashMap<String, Any?>()
            skipWhitespace()
            if (!atEnd() && peek() == '}') { pos++; return result }
            while (true) {
                skipWhitespace()
                if (atEnd() || peek() != '"') fail("expected a string key")
                val key = readString()
                skipWhitespace()
                expect(':')
                skipWhitespace()
                result[key] = readValue()
                skipWhitespace()
                if (atEnd()) fail("unterminated object")
                when (peek()) {
                    ',' -> pos++
                    '}' -> { pos++; return result }
                    else -> fail("expected ',' or '}' in object, found '${peek()}'")
                }
            }
        }

        private fun readArray(): List<Any?> {
            expect('[')
            val result = ArrayList<Any?>()
            skipWhitespace()
            if (!atEnd() && peek() == ']') { pos++; return result }
            while (true) {
                skipWhitespace()
                result.add(readValue())
                skipWhitespace()
                if (atEnd()) fail("unterminated array")
                when (peek()) {
                    ',' -> pos++
                    ']' -> { pos++; return result }
                    else -> fail("expected ',' or ']' in array, found '${peek()}'")
                }
            }
        }

        private fun readString(): String {
            expect('"')
            val out = StringBuilder()
            while (true) {
                if (atEnd()) fail("unterminated string")
                val ch = text[pos++]
                when {
                    ch == '"' -> return out.toString()
                    ch == '\\' -> {
                        if (atEnd()) fail("unterminated escape")
                        when (val esc = text[pos++]) {
                            '"' -> out.append('"')
                            '\\' -> out.append('\\')
                            '/' -> out.append('/')
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000C')
                            'n' -> out.append('\n')
                            'r' -> out.append('\r')
                            't' -> out.append('\t')
                            'u' -> {
                                if (pos + 4 > text.length) { pos--; fail("incomplete \\u escape") }
                                val hex = text.substring(pos, pos + 4)
                                val code = hex.toIntOrNull(16) ?: run { pos--; fail("bad \\u escape '\\u$hex'") }
                                out.append(code.toChar()) // surrogate pairs arrive as two escapes and join up
                                pos += 4
                            }
                            else -> { pos--; fail("bad escape '\\$esc'") }
                        }
                    }
                    ch < ' ' -> { pos--; fail("control character in string (must be escaped)") }
                    else -> out.append(ch)
                }
            }
        }

        private fun readNumber(): Any {
            val start = pos
            if (peek() == '-') pos++
            if (atEnd() || peek() !in '0'..'9') fail("expected a digit")
            if (peek() == '0') {
                pos++ // JSON forbids leading zeros: "01" stops after the 0 and fails as trailing text
            } else {
                while (!atEnd() && peek() in '0'..'9') pos++
            }
            var integral = true
            if (!atEnd() && peek() == '.') {
                integral = false
                pos++
                if (atEnd() || peek() !in '0'..'9') fail("expected a digit after '.'")
                while (!atEnd() && peek() in '0'..'9') pos++
            }
            if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
                integral = false
                pos++
                if (!atEnd() && (peek() == '+' || peek() == '-')) pos++
                if (atEnd() || peek() !in '0'..'9') fail("expected a digit in the exponent")
                while (!atEnd() && peek() in '0'..'9') pos++
            }
            val literal = text.substring(start, pos)
            if (integral) literal.toLongOrNull()?.let { return it }
            return literal.toDouble()
        }
    }
}

/** A JSON text that could not be read; the message says where. */
class JsonError(message: String) : Exception(message)
