//! What the cost examples share: running the example itself under callgrind.

use std::process::Command;

/// The instructions callgrind counts for this program run as `PROGRAM KIND COUNT`.
pub fn instructions(kind: &str, count: u64) -> Result<u64, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(&me)
        .args([kind, &count.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("valgrind failed: {log}"));
    }
    // "==123== Collected : 1188137"
    log.lines()
        .find_map(|line| line.split_once("Collected :"))
        .and_then(|(_, n)| n.trim().parse().ok())
        .ok_or_else(|| format!("no \"Collected :\" line in valgrind's output: {log}"))
}
