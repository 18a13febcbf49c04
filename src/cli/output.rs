//! What every command prints with: pretty JSON, and the process's peak memory for benchmarks.

use sbert::Error;

/// Prints `v` as pretty JSON on standard output.
pub fn print_json<T: serde::Serialize>(v: &T) -> sbert::Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|source| Error::Serialize {
        what: "the JSON output".into(),
        source,
    })?;
    println!("{s}");
    Ok(())
}

/// Peak resident set size of this process in MiB (Linux; `None` elsewhere).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
