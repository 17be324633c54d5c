import SwiftUI

/// The LR input (enlarged, nearest neighbour, so its pixels show) and the upscaled output,
/// overlaid at the same size; drag to move the split.  Left of the split: before.
struct BeforeAfterView: View {
    let before: CGImage
    let after: CGImage
    /// Split position as a fraction of the width.
    @State private var split: CGFloat = 0.5

    var body: some View {
        GeometryReader { geometry in
            ZStack(alignment: .leading) {
                Image(decorative: after, scale: 1)
                    .resizable()
                    .interpolation(.none)
                    .frame(width: geometry.size.width, height: geometry.size.height)
                Image(decorative: before, scale: 1)
                    .resizable()
                    .interpolation(.none)
                    .frame(width: geometry.size.width, height: geometry.size.height)
                    .mask(alignment: .leading) {
                        Rectangle().frame(width: geometry.size.width * split)
                    }
                Rectangle()
                    .fill(Color.white)
                    .frame(width: 2, height: geometry.size.height)
                    .shadow(radius: 2)
                    .offset(x: geometry.size.width * split - 1)
            }
            .contentShape(Rectangle())
            .gesture(DragGesture(minimumDistance: 0).onChanged { drag in
                split = min(max(drag.location.x / max(geometry.size.width, 1), 0), 1)
            })
        }
        .aspectRatio(CGFloat(after.width) / CGFloat(max(after.height, 1)), contentMode: .fit)
        .overlay(alignment: .top) {
            HStack {
                Text("before").padding(4).background(.ultraThinMaterial)
                Spacer()
                Text("after").padding(4).background(.ultraThinMaterial)
            }
            .font(.caption)
        }
    }
}
