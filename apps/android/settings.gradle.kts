// edge-sr Android demo: `core` (plain Kotlin/JVM, unit-tested without Android) and `app` (Compose UI + runtimes).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "edge-sr-demo"
include(":core", ":app")
