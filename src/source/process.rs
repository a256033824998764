//! Waiting for a child process with a deadline. The helm binary and kubeconfig exec
//! credential plugins are external programs a hung network or prompt can stall: a run must
//! stop them, never hang with them.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Waits for `child` until `timeout`; past it the child is killed and reaped and `Ok(None)`
/// is returned. Polls with a backoff from 1 ms to 20 ms (short commands answer fast).
pub fn wait_with_deadline(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_quick_child_is_waited_for_and_a_slow_one_stopped() {
        let mut quick = Command::new("true").spawn().unwrap();
        assert!(wait_with_deadline(&mut quick, Duration::from_secs(5)).unwrap().is_some_and(|s| s.success()));
        let mut slow = Command::new("sleep").arg("5").spawn().unwrap();
        let start = Instant::now();
        assert!(wait_with_deadline(&mut slow, Duration::from_millis(100)).unwrap().is_none());
        assert!(start.elapsed() < Duration::from_secs(2), "stopped at the deadline");
    }
}
