package dev.edgesr.core

import java.io.File
import java.lang.reflect.InvocationTargetException
import kotlin.system.exitProcess

/** Marks a test function: public, no arguments, in a class listed in [TEST_CLASSES]. */
@Target(AnnotationTarget.FUNCTION)
@Retention(AnnotationRetention.RUNTIME)
annotation class UnitTest

/** Thrown by a test that cannot run with the given inputs (e.g. no contract files passed). */
class SkipTest(message: String) : Exception(message)

/** Inputs from the command line: real contract files written by `edge-sr convert`. */
object TestInputs {
    var contractFiles: List<File> = emptyList()

    fun requireContracts(): List<File> {
        if (contractFiles.isEmpty()) throw SkipTest("no contract files given on the command line")
        return contractFiles
    }
}

private val TEST_CLASSES = listOf(
    JsonTest::class.java,
    ContractTest::class.java,
    PixelCodecTest::class.java,
    TilingTest::class.java,
    UpscalerTest::class.java,
    StatsTest::class.java,
    BenchResultsTest::class.java,
    GoldenTest::class.java,
)

/**
 * Runs every [UnitTest] function of [TEST_CLASSES] (JUnit is not available offline, so this is
 * the runner in CI and behind `./gradlew :core:test`).  Arguments: contract files for the tests
 * that read real contracts.  Prints one line per test and "N passed, M failed, K skipped";
 * exits 1 when anything failed.
 */
fun main(args: Array<String>) {
    TestInputs.contractFiles = args.map(::File)
    var passed = 0
    var failed = 0
    var skipped = 0
    for (testClass in TEST_CLASSES) {
        val methods = testClass.declaredMethods.filter { it.isAnnotationPresent(UnitTest::class.java) }.sortedBy { it.name }
        for (method in methods) {
            val label = "${testClass.simpleName}.${method.name}"
            try {
                method.invoke(testClass.getDeclaredConstructor().newInstance())
                println("PASS  $label")
                passed++
            } catch (e: InvocationTargetException) {
                val cause = e.targetException
                if (cause is SkipTest) {
                    println("SKIP  $label: ${cause.message}")
                    skipped++
                } else {
                    println("FAIL  $label: ${cause::class.simpleName}: ${cause.message}")
                    cause.stackTrace.firstOrNull { it.className.startsWith("dev.edgesr") }?.let { println("      at $it") }
                    failed++
                }
            }
        }
    }
    println("$passed passed, $failed failed, $skipped skipped")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
