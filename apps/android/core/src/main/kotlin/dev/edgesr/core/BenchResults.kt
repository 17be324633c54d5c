package dev.edgesr.core

/** The device a session ran on, as the results file names it. */
data class DeviceInfo(val name: String, val kind: String, val os: String, val app: String) {
    fun toMap(): Map<String, Any?> = linkedMapOf("name" to name, "kind" to kind, "os" to os, "app" to app)
}

/**
 * One results row: one model, runtime and input size, measured with [measurement].
 * [runtime] is one of the names in apps/README.md (`executorch-xnnpack`, `litert-cpu`, `litert-gpu`);
 * [threads] is null when the runtime has no thread setting.
 */
data class BenchRow(
    val model: String,
    val runtime: String,
    val contract: ModelContract,
    val inputHeight: Int,
    val inputWidth: Int,
    val threads: Int?,
    val measurement: BenchMeasurement,
    val golden: GoldenResult?,
) {
    fun toMap(): Map<String, Any?> {
        val m = measurement
        val plan = m.plan
        return linkedMapOf(
            "model" to model,
            "runtime" to runtime,
            "precision" to contract.precision,
            "input" to listOf(inputHeight, inputWidth),
            "output" to listOf(inputHeight * contract.scale, inputWidth * contract.scale),
            "threads" to threads,
            "artifact" to linkedMapOf("file" to contract.artifactFile, "sha256" to contract.artifactSha256),
            "tiling" to linkedMapOf("tile" to listOf(plan.tileHeight, plan.tileWidth), "overlap" to plan.overlap, "tiles" to plan.placements.size),
            "ms" to m.total.toMap(m.warmup),
            "stages_ms" to linkedMapOf(
                "pre" to m.pre.toMap(m.warmup),
                "run" to m.run.toMap(m.warmup),
                "post" to m.post.toMap(m.warmup),
            ),
            "golden" to golden?.toMap(),
        )
    }
}

/** Writes the `edge-sr/bench` v1 results file of apps/README.md ("Results") for a session. */
fun benchResultsJson(device: DeviceInfo, rows: List<BenchRow>): String = Json.write(
    linkedMapOf(
        "schema" to "edge-sr/bench",
        "schema_version" to 1,
        "device" to device.toMap(),
        "rows" to rows.map { it.toMap() },
    ),
    indent = 2,
) + "\n"
