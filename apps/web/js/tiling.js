// Tiles exactly as edge_sr.tiling.tile_plan cuts them (apps/README.md, "Tiling").

function starts(length, tile, step) {
  if (length <= tile) return [0];
  const out = [];
  for (let s = 0; s < length - tile; s += step) out.push(s);
  out.push(length - tile);
  return out;
}

/**
 * Tiles covering a `height` x `width` LR image already padded to at least the tile.
 * Each tile: {top, left, keep: [top, left, bottom, right]} with `keep` in tile pixels.
 */
export function tilePlan(height, width, tile, overlap) {
  const [tileH, tileW] = tile;
  if (overlap < 0) throw new Error(`tiling: overlap must be >= 0, got ${overlap}`);
  if (overlap * 2 >= Math.min(tileH, tileW)) throw new Error(`tiling: overlap ${overlap} px leaves nothing of a ${tileW}x${tileH} tile`);
  const tiles = [];
  for (const top of starts(height, tileH, tileH - 2 * overlap)) {
    for (const left of starts(width, tileW, tileW - 2 * overlap)) {
      tiles.push({
        top,
        left,
        keep: [
          top === 0 ? 0 : overlap,
          left === 0 ? 0 : overlap,
          top + tileH >= height ? tileH : tileH - overlap,
          left + tileW >= width ? tileW : tileW - overlap,
        ],
      });
    }
  }
  return tiles;
}

/**
 * The tile size the artifact takes for an image, from the contract's shape policy:
 * fixed/enumerated -> the listed size that needs the fewest tiles (then the smallest);
 * dynamic -> the whole image if it fits in max_size and `maxTile`, else tiles of that cap.
 * Returns {tile: [h, w] | null (whole image), note}.
 */
export function chooseTile(view, height, width, maxTile) {
  const policy = view.shape_policy;
  if (policy.kind === 'dynamic') {
    const cap = Math.min(policy.max_size, maxTile || policy.max_size);
    if (height <= cap && width <= cap && Math.min(height, width) >= policy.min_size) return { tile: null, note: 'whole image' };
    // Tiles no larger than needed, but with room for the overlap on both sides (images thinner
    // than that are edge-padded).
    const least = Math.max(policy.min_size, 2 * view.tiling.overlap + 16);
    const side = (length) => Math.min(Math.max(cap, least), Math.max(length, least));
    return { tile: [side(height), side(width)], note: `tiles of at most ${cap} px` };
  }
  let best = null;
  for (const [h, w] of policy.sizes) {
    if (2 * view.tiling.overlap >= Math.min(h, w)) continue;
    const count = tilePlan(Math.max(height, h), Math.max(width, w), [h, w], view.tiling.overlap).length;
    if (best === null || count < best.count || (count === best.count && h * w < best.h * best.w)) best = { h, w, count };
  }
  if (best === null) throw new Error(`no size in the contract's shape policy leaves room for a ${view.tiling.overlap} px overlap`);
  return { tile: [best.h, best.w], note: `${policy.kind} ${best.w}x${best.h} tiles` };
}
