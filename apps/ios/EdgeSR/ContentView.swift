import PhotosUI
import SwiftUI

/// The app's one screen: model, compute units, image, run + latency, before/after, golden
/// self-check, and saving the results — the same steps as the Android demo.
struct ContentView: View {
    @EnvironmentObject private var model: AppModel
    @State private var photoItem: PhotosPickerItem?

    var body: some View {
        NavigationStack {
            Form {
                modelSection
                computeSection
                imageSection
                runSection
                if let before = model.inputPreview, let after = model.outputPreview {
                    Section("Before / after") {
                        BeforeAfterView(before: before, after: after)
                    }
                }
                goldenSection
                resultsSection
                if !model.status.isEmpty {
                    Section("Status") {
                        Text(model.status).font(.footnote)
                    }
                }
            }
            .navigationTitle("EdgeSR demo")
            .disabled(model.isBusy)
            .overlay {
                if model.isBusy { ProgressView().controlSize(.large) }
            }
        }
        .onChange(of: photoItem) { _, item in
            guard let item else { return }
            Task {
                if let data = try? await item.loadTransferable(type: Data.self) {
                    model.setInput(data: data, label: "photo")
                }
            }
        }
    }

    private var modelSection: some View {
        Section("Model") {
            Picker("Model", selection: $model.selectedEntry) {
                ForEach(model.entries) { entry in
                    Text("\(entry.model) · \(entry.target) · \(entry.precision)").tag(Optional(entry))
                }
            }
            if let contract = model.contract {
                ContractSummaryView(contract: contract)
            }
        }
    }

    private var computeSection: some View {
        Section("Compute units (CoreML)") {
            Picker("Compute units", selection: $model.compute) {
                ForEach(CoreMLComputeChoice.allCases) { choice in
                    Text(choice.label).tag(choice)
                }
            }
            .pickerStyle(.segmented)
            .disabled(!model.usesComputeUnits)
        }
    }

    private var imageSection: some View {
        Section("Image") {
            PhotosPicker(selection: $photoItem, matching: .images) {
                Label("Choose a photo", systemImage: "photo.on.rectangle")
            }
            Button {
                model.useSample()
            } label: {
                Label("Use the bundled sample (golden input)", systemImage: "photo")
            }
            .disabled(model.contract == nil)
            if let image = model.inputImage {
                Text("\(model.inputLabel): \(image.width)×\(image.height) px").font(.footnote)
            }
        }
    }

    private var runSection: some View {
        Section("Run") {
            Stepper("Warm-up runs: \(model.warmup)", value: $model.warmup, in: 0...20)
            Stepper("Timed runs: \(model.repetitions)", value: $model.repetitions, in: 1...100)
            Stepper("Max dynamic tile: \(model.maxTile) px", value: $model.maxTile, in: 64...2048, step: 64)
            Button("Run") { model.run() }
                .disabled(model.contract == nil || model.inputImage == nil)
            if let benchmark = model.benchmark {
                LatencyView(benchmark: benchmark)
            }
        }
    }

    private var goldenSection: some View {
        Section("Golden self-check") {
            Button("Check against the golden output") { model.runGoldenCheck() }
                .disabled(model.contract == nil)
            if !model.goldenSummary.isEmpty {
                Text(model.goldenSummary).font(.footnote)
            }
        }
    }

    private var resultsSection: some View {
        Section("Results (\(model.rows.count) rows)") {
            Button("Save results") { model.saveResults() }
                .disabled(model.rows.isEmpty)
            if let file = model.savedResults {
                ShareLink(item: file) {
                    Label("Share \(file.lastPathComponent)", systemImage: "square.and.arrow.up")
                }
            }
        }
    }
}

/// Median latency of each stage and of the whole pass, with the spread of the total.
struct LatencyView: View {
    let benchmark: Benchmark

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            let plan = benchmark.lastPass.plan
            Text("\(plan.imageWidth)×\(plan.imageHeight) → \(plan.outputWidth)×\(plan.outputHeight), "
                 + "\(plan.tiles.count) tile(s) of \(plan.tileWidth)×\(plan.tileHeight), overlap \(plan.overlap)")
            Text("median pre \(format(benchmark.pre.median)) · run \(format(benchmark.run.median)) · "
                 + "post \(format(benchmark.post.median)) ms")
            Text("total median \(format(benchmark.total.median)) ms (p10 \(format(benchmark.total.p10)), "
                 + "p90 \(format(benchmark.total.p90)), \(benchmark.total.runs) runs)").bold()
        }
        .font(.footnote.monospacedDigit())
    }

    private func format(_ ms: Double) -> String { String(format: "%.1f", ms) }
}

/// What the contract says, and the parsed view (the JSON CI compares with Python's reading).
struct ContractSummaryView: View {
    let contract: ModelContract

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Text("\(contract.model.arch) ×\(contract.scale), \(contract.precision), \(contract.target)")
            Text("input \(contract.input.name) \(contract.input.layout) \(contract.input.dtype) \(contract.input.shape.map(String.init).joined(separator: "×"))"
                 + (contract.input.image != nil ? " (image)" : ""))
            Text("shape policy \(contract.shapePolicy.kind), overlap \(contract.tileOverlap) px")
            DisclosureGroup("Parsed contract") {
                Text(contract.parsedViewJSON())
                    .font(.caption.monospaced())
                    .textSelection(.enabled)
            }
        }
        .font(.footnote)
    }
}
