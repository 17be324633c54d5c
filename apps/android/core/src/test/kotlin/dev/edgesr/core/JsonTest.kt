package dev.edgesr.core

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

class JsonTest {
    @UnitTest
    fun `numbers keep integer versus float and read exponents`() {
        val value = Json.parse("""[0, -7, 12345678901, 1.5, -0.25, 1e-4, 2E+3, 3.0, -0]""") as List<*>
        assertEquals(listOf<Any>(0L, -7L, 12345678901L, 1.5, -0.25, 1e-4, 2000.0, 3.0, 0L), value)
        assertTrue(value[7] is Double, "3.0 stays a float")
    }

    @UnitTest
    fun `strings decode every escape including unicode and surrogate pairs`() {
        val text = Json.parse(""""a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00"""") as String
        assertEquals("a\"b\\c/d\b\u000C\n\r\té€\uD83D\uDE00", text)
    }

    @UnitTest
    fun `objects keep key order and nest`() {
        val value = Json.parse(""" { "z": {"a": [true, false, null]}, "b": {} , "c": [] } """) as Map<*, *>
        assertEquals(listOf("z", "b", "c"), value.keys.toList())
        assertEquals(listOf(true, false, null), (value["z"] as Map<*, *>)["a"])
        assertEquals(emptyMap<String, Any?>(), value["b"])
        assertEquals(emptyList<Any?>(), value["c"])
    }

    @UnitTest
    fun `errors say what and where`() {
        val cases = mapOf(
            "{\"a\": 1,}" to "expected a string key at line 1, column 9",
            "{\"a\" 1}" to "expected ':'",
            "[1, 2" to "unterminated array",
            "\"abc" to "unterminated string",
            "\"\\x\"" to "bad escape '\\x' at line 1, column 3",
            "\"\\u12G4\"" to "bad \\u escape",
            "[1]\n  x" to "unexpected 'x' after the JSON value at line 2, column 3",
            "01" to "unexpected '1' after the JSON value",
            "-" to "expected a digit",
            "1." to "expected a digit after '.'",
            "1e" to "expected a digit in the exponent",
            "tru" to "expected 'true'",
            "" to "expected a value, found the end of the text",
            "\"a\tb\"" to "control character in string",
        )
        for ((text, message) in cases) {
            val error = assertFailsWith<JsonError>("parsing <$text>") { Json.parse(text) }
            assertTrue(error.message!!.contains(message), "<$text>: expected '$message' in '${error.message}'")
        }
    }

    @UnitTest
    fun `written JSON reads back to the same values`() {
        val original = linkedMapOf<String, Any?>(
            "s" to "quote \" backslash \\ newline \n tab \t control \u0001 é",
            "i" to 42L, "d" to 1.0E-4, "neg" to -3.5, "t" to true, "n" to null,
            "list" to listOf(1L, 2.5, "x", listOf<Any?>(), mapOf<String, Any?>()),
        )
        for (indent in listOf(0, 2)) assertEquals<Any?>(original, Json.parse(Json.write(original, indent)))
        assertEquals("""{"a":[1,2.5],"b":null}""", Json.write(linkedMapOf("a" to listOf(1, 2.5), "b" to null)))
        assertFailsWith<IllegalArgumentException> { Json.write(Double.NaN) }
        assertNull(Json.parse("null"))
    }
}
