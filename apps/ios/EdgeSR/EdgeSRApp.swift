import SwiftUI

@main
struct EdgeSRApp: App {
    @StateObject private var model = AppModel()

    var body: some Scene {
        WindowGroup {
            ContentView()
                .environmentObject(model)
                .task { model.loadManifest() }
        }
    }
}
