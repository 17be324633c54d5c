// Platform-free core: contract parsing, pixel <-> tensor, tiling, statistics, results, golden check.
// Only the Kotlin stdlib, so CI compiles and tests it with kotlinc alone (core/run-tests.sh).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // kotlin.test assertions only; the tests run through their own runner (RunCoreTests.kt), not JUnit.
    testImplementation(kotlin("test"))
}

// `./gradlew :core:test` runs the same runner CI runs, with the contracts of any bundled models.
val coreTests by tasks.registering(JavaExec::class) {
    group = "verification"
    description = "Runs the core unit tests (RunCoreTests.kt) with the contracts in app/src/main/assets/models."
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("dev.edgesr.core.RunCoreTestsKt")
    val models = rootProject.file("app/src/main/assets/models")
    args(models.listFiles { file -> file.name.endsWith(".contract.json") }.orEmpty().sorted().map { it.path })
}

tasks.named<Test>("test") {
    // The JUnit-based Test task has nothing to run; it stands for `coreTests`.
    enabled = false
    dependsOn(coreTests)
}
