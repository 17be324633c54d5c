"""Writing a report: ``report.json`` (everything), ``report.md`` (summary) and a self-contained
``report.html`` (tables, inline SVG charts, gallery images as data URIs: opens from a file,
offline)."""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edge_sr._files import atomic_output
from edge_sr.quant.recipe import Int8Recipe
from edge_sr.report import svg


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _size_key(size: list[int], threads: int) -> str:
    return f"{size[0]}x{size[1]}@{threads}"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _label(entry: dict[str, Any]) -> str:
    return f"{entry['model']} {entry['target']} {entry['precision']}"


def write_report(report: dict[str, Any], output: Path) -> dict[str, Path]:
    """Write gallery PNGs, report.json, report.md and report.html into ``output``."""
    gallery_dir = output / "gallery"
    gallery_dir.mkdir(parents=True, exist_ok=True)
    embedded = []
    for index, item in enumerate(report["gallery"]):
        files, uris = {}, {}
        for panel, pixels in item["panels"].items():
            if not isinstance(pixels, np.ndarray):
                continue
            data = _png(pixels)
            slug = "".join(c if c.isalnum() else "-" for c in panel).strip("-")
            name = f"{index:02d}-{item['model']}-{item['dataset']}-{slug}.png"
            (gallery_dir / name).write_bytes(data)
            files[panel] = f"gallery/{name}"
            uris[panel] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        item["panels"] = files
        embedded.append(uris)
    paths = {"json": output / "report.json", "md": output / "report.md", "html": output / "report.html"}
    with atomic_output(paths["json"]) as temporary:
        temporary.write_text(json.dumps(report, indent=2, default=str) + "\n")
    with atomic_output(paths["md"]) as temporary:
        temporary.write_text(markdown(report))
    with atomic_output(paths["html"]) as temporary:
        temporary.write_text(html(report, embedded))
    return paths


def _sizes(report: dict[str, Any]) -> list[tuple[list[int], int]]:
    return [(size, threads) for size in report["request"]["sizes"] for threads in report["request"]["threads"]]


def _summary_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    datasets = report["request"]["datasets"]
    budget = report["request"]["budget_ms"]
    header = ["model", "target", "precision", "status"]
    for dataset in datasets:
        header += [f"{dataset} Y dB", f"{dataset} drop"]
    for size, threads in _sizes(report):
        header.append(f"{size[1]}x{size[0]} ms (t{threads})")
    header += ["size KB", "kept float", "flat grey Δ", "flat colour Δ", "note"]
    rows = []
    for entry in report["entries"]:
        row = [entry["model"], entry["target"], entry["precision"], entry["status"]]
        accuracy = entry.get("accuracy", {})
        for dataset in datasets:
            figures = accuracy.get(dataset, {})
            row += [_fmt(figures.get("psnr_y"), 3), _fmt(figures.get("drop_y"), 3) if "drop_y" in figures else ""]
        latency = entry.get("latency", {})
        for size, threads in _sizes(report):
            value = latency.get(_size_key(size, threads))
            row.append("–" if value is None else f"{value:.1f} {'✓' if value <= budget else '✗'}")
        row.append("–" if entry.get("bytes") is None else f"{entry['bytes'] / 1024:.0f}")
        row.append(_kept_float(entry))
        # the largest shift of a flat grey area's mean against fp32, in 8-bit levels (see flat_field)
        row.append(_fmt(entry["flat_field"]["max_abs"], 2) if "flat_field" in entry else "")
        # the same for flat saturated colours (pure red, green, …: see flat_colours)
        row.append(_fmt(entry["flat_colours"]["max_abs"], 2) if "flat_colours" in entry else "")
        row.append(row_note(entry))
        rows.append(row)
    return header, rows


def row_note(entry: dict[str, Any]) -> str:
    """The note a row of the report (and of the main job's summary) carries: its error, why it was
    not run, or that it ran slower than fp32."""
    return entry.get("error") or entry.get("accuracy_error") or entry.get("note") or slower_than_fp32(entry)


def slower_than_fp32(entry: dict[str, Any]) -> str:
    """A sentence when an INT8 entry ran slower than its target's fp32 artifact at some size, else ''."""
    slower = {key: ratio for key, ratio in (entry.get("speedup_vs_fp32") or {}).items() if ratio < 1}
    if not slower:
        return ""
    times = [f"{1 / ratio:.2f}× at {key.split('@')[0]} on {key.split('@')[1]} threads" for key, ratio in slower.items()]
    return f"slower than fp32: {', '.join(times)} (HxW input; its time over fp32's)"


def _kept_float(entry: dict[str, Any]) -> str:
    """How many layers an INT8 row kept in float, and whether its budget was met."""
    if entry["precision"] != "int8" or "kept_float" not in entry:
        return ""
    fallback = entry.get("fallback")
    missed = fallback is not None and not fallback.get("met")
    return f"{len(entry['kept_float'])}{' (budget missed)' if missed else ''}"


def _int8_recipe(report: dict[str, Any]) -> str:
    """What every INT8 row of the report was built with, in one sentence."""
    recipe = Int8Recipe.from_dict(report["request"]["int8_recipe"])
    calibration = recipe.calibration
    source = "DIV2K" if calibration.source == "div2k" else calibration.source
    crops = f"calibrated on {calibration.images} {source} crops"
    steps = f"{recipe.reconstruction_steps} output-reconstruction steps"
    if recipe.max_psnr_drop is None:
        return f"INT8: full W8A8, nothing kept in float; {crops}; {steps}."
    flat = "" if recipe.max_flat_shift_levels is None else f" and flat areas within {recipe.max_flat_shift_levels:g} levels"
    return (f"INT8: float fallback, layers kept in float (column 'kept float') until the drop predicted on "
            f"{calibration.validation_images} held-out {source} images is within {recipe.max_psnr_drop:g} dB{flat}; {crops}; {steps}.")


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    budget = report["request"]["budget_ms"]
    lines = [
        "# edge-sr report", "",
        f"Created {report['created']} on {machine['cpu']} ({machine['cpus_available']} CPUs, "
        f"{', '.join(machine['isa_flags'][-4:])}), threads {', '.join(map(str, report['request']['threads']))}; "
        f"budget {budget:g} ms per image (✓ meets, ✗ misses). Latency: median; PSNR: artifact run in its own runtime.",
        _int8_recipe(report),
        "",
    ]
    header, rows = _summary_rows(report)
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    if report["budget_solver"]:
        lines += ["", "## Largest input within the budget (fastest artifact per model)", "",
                  "| model | runtime | precision | aspect | input | output | median ms |", "|---|---|---|---|---|---|---|"]
        for row in report["budget_solver"]:
            size = "none" if not row.get("input") else f"{row['input'][1]}x{row['input'][0]}"
            out = "–" if not row.get("output") else f"{row['output'][1]}x{row['output'][0]}"
            lines.append(f"| {row['model']} | {row['runtime']} | {row['precision']} | {row.get('aspect', '')} | {size} | {out} | {_fmt(row.get('median_ms'), 1)} |")
    lines += ["", "## Efficiency", "", "| model | runtime | precision | input | GMACs | GMAC/s | % of ceiling |", "|---|---|---|---|---|---|---|"]
    for row in report["bench_rows"]:
        if row.get("ms"):
            fraction = row.get("ceiling_fraction")
            lines.append(f"| {row['model']} | {row['runtime']} | {row['precision']} | {row['input'][1]}x{row['input'][0]} | "
                         f"{_fmt(row.get('gmacs'), 2)} | {_fmt(row.get('achieved_gmacs_per_s'), 1)} | {'–' if fraction is None else f'{100 * fraction:.1f}'} |")
    for device in report["device_results"]:
        lines += ["", f"## Measured on {device['device']['name']}", "", "| model | runtime | precision | input | median ms |", "|---|---|---|---|---|"]
        for row in device["rows"]:
            ms = (row.get("ms") or {}).get("median")
            lines.append(f"| {row.get('model')} | {row.get('runtime')} | {row.get('precision')} | {row.get('input')} | {_fmt(ms, 1)} |")
    ceilings = "; ".join(f"{k} threads: fp32 {v['fp32_gmacs_per_s']} GMAC/s, int8 {v['int8_gmacs_per_s']} GMAC/s" for k, v in report["ceilings"].items())
    lines += ["", f"Machine ceiling ({ceilings}). Full figures: report.json.", ""]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]], *, classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _charts(report: dict[str, Any]) -> list[str]:
    budget = report["request"]["budget_ms"]
    charts = []
    for model in [m["name"] for m in report["models"] if "error" not in m]:
        series: dict[str, list[tuple[float, float]]] = {}
        for row in report["bench_rows"]:
            if row["model"] == model and row.get("ms"):
                name = f"{row['runtime']} {row['precision']} t{row['threads']}"
                series.setdefault(name, []).append((row["input"][0] * row["input"][1] / 1e3, row["ms"]["median"]))
        charts.append(svg.line_chart(series, title=f"{model}: latency vs input size", x_label="LR input kilopixels",
                                     y_label="median ms", budget=budget, budget_label=f"budget {budget:g} ms"))
    first = report["request"]["datasets"][0] if report["request"]["datasets"] else None
    if first:
        bars, colours = [], []
        targets = list(dict.fromkeys(e["target"] for e in report["entries"]))
        for entry in report["entries"]:
            drop = entry.get("accuracy", {}).get(first, {}).get("drop_y")
            if drop is not None:
                bars.append((f"{entry['model']} {entry['target']}", drop))
                colours.append(svg.PALETTE[targets.index(entry["target"]) % len(svg.PALETTE)])
        charts.append(svg.bar_chart(bars, title=f"INT8 PSNR drop per target ({first}, Y)", y_label="dB lost", colours=colours,
                                    reference=0.1, reference_label="0.1 dB goal"))
    for model, analysis in report["sensitivity"].items():
        if "layers" not in analysis:
            continue
        top = sorted(analysis["layers"], key=lambda r: -r["cost_quantised_alone_db"])[:16]
        charts.append(svg.bar_chart(
            [(row["layer"], row["cost_quantised_alone_db"]) for row in top],
            title=f"{model}: predicted PSNR drop of each layer quantised alone (top {len(top)})", y_label="dB",
        ))
    points = []
    size, threads = _sizes(report)[0] if _sizes(report) else ([256, 256], 1)
    for entry in report["entries"]:
        ms = entry.get("latency", {}).get(_size_key(size, threads))
        psnr = entry.get("accuracy", {}).get(first, {}).get("psnr_y") if first else None
        if ms is not None and psnr is not None:
            points.append((_label(entry), ms, psnr, entry["model"]))
    charts.append(svg.scatter(points, title=f"accuracy vs latency ({first} Y PSNR, {size[1]}x{size[0]}, t{threads})",
                              x_label="median ms", y_label="PSNR Y dB", vline=budget, vline_label=f"budget {budget:g} ms"))
    return charts


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1500px}
h1{margin-bottom:4px} .meta{color:#555;font-size:13px}
table{border-collapse:collapse;margin:12px 0;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f2f2f2} td:first-child,td:nth-child(2),td:nth-child(3),td:nth-child(4){text-align:left}
tr.error td{background:#fde8e8} tr.spec-verified td{background:#f4f4ff} tr.unsupported td{color:#888}
td:last-child{text-align:left;white-space:normal;max-width:420px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.gallery figure{display:inline-block;margin:4px;text-align:center;font-size:12px}
.gallery img{width:192px;height:192px;image-rendering:pixelated;border:1px solid #aaa}
"""


def html(report: dict[str, Any], embedded: list[dict[str, str]]) -> str:
    machine = report["machine"]
    header, rows = _summary_rows(report)
    classes = [entry["status"] for entry in report["entries"]]
    libraries = ", ".join(f"{k} {v}" for k, v in machine["libraries"].items() if v)
    ceilings = "; ".join(f"{k} threads: fp32 {v['fp32_gmacs_per_s']} GMAC/s, int8 {v['int8_gmacs_per_s']} GMAC/s" for k, v in report["ceilings"].items())
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>edge-sr report</title>", f"<style>{STYLE}</style></head><body>",
        "<h1>edge-sr report</h1>",
        f'<p class="meta">{escape(report["created"])} · {escape(machine["cpu"])} · {machine["cpus_available"]} CPUs · '
        f'ISA {escape(" ".join(machine["isa_flags"]))} · load {machine["load_average_1m"]} · {escape(machine["os"])} · Python {machine["python"]}<br>'
        f'{escape(libraries)}<br>Machine ceiling: {escape(ceilings)}</p>',
        f"<h2>Summary (budget {report['request']['budget_ms']:g} ms per image)</h2>",
        '<p class="meta">PSNR: each artifact run in its own runtime; drop = fp32 artifact − int8 artifact of the same target. '
        "Latency: median of timed runs after warm-up. Spec-verified rows cannot run on this OS (CoreML).<br>"
        f"{escape(_int8_recipe(report))}</p>",
        _table(header, rows, classes=classes),
        "<h2>Charts</h2>", '<div class="charts">', *_charts(report), "</div>",
    ]
    if report["budget_solver"]:
        solver_rows = []
        for row in report["budget_solver"]:
            size = "none" if not row.get("input") else f"{row['input'][1]}x{row['input'][0]}"
            out = "–" if not row.get("output") else f"{row['output'][1]}x{row['output'][0]}"
            solver_rows.append([row["model"], row["runtime"], row["precision"], row.get("aspect", ""), size, out,
                                _fmt(row.get("median_ms"), 1), row.get("error") or row.get("note", "")])
        parts += ["<h2>Largest input within the budget</h2>",
                  _table(["model", "runtime", "precision", "aspect", "input", "output", "median ms", "note"], solver_rows)]
    efficiency = []
    for row in report["bench_rows"]:
        if row.get("ms"):
            fraction = row.get("ceiling_fraction")
            efficiency.append([row["model"], row["runtime"], row["precision"], f"{row['input'][1]}x{row['input'][0]} t{row['threads']}",
                               _fmt(row["ms"]["median"], 1), _fmt(row["ms"]["p10"], 1), _fmt(row["ms"]["p90"], 1), _fmt(row["ms"]["min"], 1),
                               _fmt(row.get("peak_rss_mb"), 0), _fmt(row.get("gmacs"), 2), _fmt(row.get("achieved_gmacs_per_s"), 1),
                               "–" if fraction is None else f"{100 * fraction:.1f}%", "" if not row.get("tiling") else f"{row['tiling']['tiles']} tiles"])
    parts += ["<h2>Latency and efficiency</h2>",
              _table(["model", "runtime", "precision", "input", "median", "p10", "p90", "min", "peak MB", "GMACs", "GMAC/s", "of ceiling", "tiling"], efficiency)]
    for device in report["device_results"]:
        rows_device = [[str(r.get("model")), str(r.get("runtime")), str(r.get("precision")), str(r.get("input")),
                        _fmt((r.get("ms") or {}).get("median"), 1), str(r.get("threads", ""))] for r in device["rows"]]
        parts += [f"<h2>Measured on {escape(device['device']['name'])}</h2>",
                  _table(["model", "runtime", "precision", "input", "median ms", "threads"], rows_device)]
    if report["gallery"]:
        parts.append('<h2>Gallery</h2><div class="gallery">')
        for item, uris in zip(report["gallery"], embedded):
            parts.append(f"<h3>{escape(item['model'])} · {escape(item['target'])} · {escape(item['dataset'])} {escape(item['image'])} "
                         f"(crop at {item['crop']['top']},{item['crop']['left']}; max |int8 − fp32| {item['max_abs_difference']} levels)</h3>")
            for panel, uri in uris.items():
                parts.append(f'<figure><img src="{uri}" alt="{escape(panel)}"><figcaption>{escape(panel)}</figcaption></figure>')
        parts.append("</div>")
    parts += [f'<p class="meta">report.json schema {escape(report["schema"])} v{report["schema_version"]}.</p>', "</body></html>"]
    return "\n".join(parts)
