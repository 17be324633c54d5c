package dev.edgesr.demo

import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.FilterChip
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Slider
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.unit.dp
import dev.edgesr.core.Stats
import kotlin.math.roundToInt

/**
 * The one screen: model → runtime → image → Run → timings, comparison, golden check, save/share.
 * [onShare] receives the saved results file.
 */
@Composable
fun DemoScreen(model: DemoViewModel, onShare: (java.io.File) -> Unit) {
    val pickImage = rememberLauncherForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri != null) model.usePicked(uri)
    }
    Column(
        Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text("edge-sr demo", style = MaterialTheme.typography.headlineSmall)
        model.error?.let { Text(it, color = Color(0xFFB00020)) }

        ModelPicker(model)
        RuntimePicker(model)

        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedButton(onClick = { pickImage.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly)) }) { Text("Pick photo") }
            OutlinedButton(onClick = model::useSample) { Text("Sample") }
        }
        model.inputBitmap?.let { Text("Input: ${model.inputLabel}, ${it.width}x${it.height}") }

        Text("Repetitions: ${model.repetitions} (after ${model.warmup} warm-up)")
        Slider(value = model.repetitions.toFloat(), onValueChange = { model.repetitions = it.roundToInt() }, valueRange = 1f..50f)
        if (model.contract?.shapePolicy?.isDynamic == true) {
            Text("Max tile side: ${model.maxTileSide} px")
            Slider(value = model.maxTileSide.toFloat(), onValueChange = { model.maxTileSide = (it / 32).roundToInt() * 32 }, valueRange = 64f..1024f)
        }

        Button(onClick = model::run, enabled = !model.busy && model.runtime != null && model.inputBitmap != null) { Text("Run") }
        if (model.busy) {
            LinearProgressIndicator(Modifier.fillMaxWidth())
            Text(model.progress)
        }

        model.lastRow?.let { row ->
            val m = row.measurement
            Text("Tiles: ${m.plan.placements.size} of ${m.plan.tileWidth}x${m.plan.tileHeight}, overlap ${m.plan.overlap}")
            TimingLine("total", m.total)
            TimingLine("pre", m.pre)
            TimingLine("run", m.run)
            TimingLine("post", m.post)
        }
        model.golden?.let { g ->
            val verdict = when (g.passed) { true -> "passed"; false -> "FAILED"; null -> "not judged (contract has no tolerance)" }
            Text("Golden self-check: $verdict — max |diff| ${"%.2e".format(g.maxAbsDiff)}, PSNR ${g.psnrDb?.let { "%.1f dB".format(it) } ?: "∞"}")
        }

        val before = model.inputBitmap
        val after = model.outputBitmap
        if (before != null && after != null) {
            Text("Drag to compare: input (left) / output (right)")
            CompareSlider(before, after)
        } else if (before != null) {
            Image(before.asImageBitmap(), contentDescription = "input image", modifier = Modifier.fillMaxWidth().height(240.dp))
        }

        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = { model.saveResults() }, enabled = model.lastRow != null && !model.busy) { Text("Save results") }
            model.savedFile?.let { file -> OutlinedButton(onClick = { onShare(file) }) { Text("Share") } }
        }
        model.savedFile?.let { Text("Saved ${it.path}", style = MaterialTheme.typography.bodySmall) }
    }
}

@Composable
private fun TimingLine(stage: String, stats: Stats) {
    Text("$stage: median ${"%.1f".format(stats.median)} ms (p10 ${"%.1f".format(stats.p10)}, p90 ${"%.1f".format(stats.p90)}, ${stats.runs} runs)")
}

@Composable
private fun ModelPicker(model: DemoViewModel) {
    var expanded by remember { mutableStateOf(false) }
    val current = model.selected
    Column {
        OutlinedButton(onClick = { expanded = true }) {
            Text(current?.let { "${it.model} · ${it.target} · ${it.precision}" } ?: "No models bundled")
        }
        DropdownMenu(expanded = expanded, onDismissRequest = { expanded = false }) {
            for (entry in model.models) {
                DropdownMenuItem(
                    text = { Text("${entry.model} · ${entry.target} · ${entry.precision}") },
                    onClick = {
                        expanded = false
                        model.select(entry)
                    },
                )
            }
        }
        model.contract?.let { c ->
            val io = "${c.input.layout} ${c.input.dtype.jsonName}" + (c.input.quantization?.let { " (scale ${"%.6f".format(it.scale)}, zero point ${it.zeroPoint})" } ?: "")
            Text("${c.artifactFile}: ×${c.scale}, $io, ${c.shapePolicy.kind} shape", style = MaterialTheme.typography.bodySmall)
        }
    }
}

@Composable
private fun RuntimePicker(model: DemoViewModel) {
    val contract = model.contract ?: return
    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
        for (rt in Runtime.forContract(contract)) {
            FilterChip(selected = model.runtime == rt, onClick = { model.runtime = rt }, label = { Text(rt.label) })
        }
    }
    if (model.runtime?.hasThreads == true) {
        Text("Threads: ${model.threads}")
        Slider(value = model.threads.toFloat(), onValueChange = { model.threads = it.roundToInt() }, valueRange = 1f..8f, steps = 6)
    }
}
