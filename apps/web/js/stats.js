// Timing statistics with the same definitions as edge_sr.bench.Timing (NumPy's linear percentiles).

export function percentile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const position = ((sorted.length - 1) * q) / 100;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

const round3 = (v) => Math.round(v * 1000) / 1000;

/** {median, p10, p90, min, max, mean, runs} of milliseconds, rounded to 1 µs. */
export function summarize(runsMs) {
  return {
    median: round3(percentile(runsMs, 50)),
    p10: round3(percentile(runsMs, 10)),
    p90: round3(percentile(runsMs, 90)),
    min: round3(Math.min(...runsMs)),
    max: round3(Math.max(...runsMs)),
    mean: round3(runsMs.reduce((a, b) => a + b, 0) / runsMs.length),
    runs: runsMs.length,
  };
}
