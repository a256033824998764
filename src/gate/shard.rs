//! Splitting a run's entry points across CI agents (`validate --shard I/N`).
//!
//! The split must be identical on every agent, or an entry point would be checked twice or
//! never: it depends only on the entry points' names and weights (rendered object counts),
//! never on thread scheduling or hash order. Entry points are taken heaviest first (ties by
//! name) and each goes to the currently lightest shard (ties to the lowest index): the classic
//! greedy longest-processing-time split, which keeps the shards' check times close.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// One shard of N, 1-based (`2/4` is the second of four).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// The shard `index` of `count` (1-based); `None` unless `1 <= index <= count`.
    pub fn new(index: usize, count: usize) -> Option<Shard> {
        (index >= 1 && index <= count).then_some(Shard { index, count })
    }

    /// The 1-based index.
    pub fn index(self) -> usize {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether this shard carries the findings that belong to no entry point (shard 1 does, so
    /// that the union of all shards reports them exactly once).
    pub fn owns_repo_wide(self) -> bool {
        self.index == 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard '{s}': expected I/N with 1 <= I <= N (e.g. 2/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: usize = i.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n).ok_or_else(bad)
    }
}

/// Assigns every entry point (name → weight) to a shard index in `1..=count`. Deterministic:
/// the same names and weights always give the same assignment, whatever their input order.
pub fn assign(weights: &BTreeMap<String, usize>, count: usize) -> BTreeMap<String, usize> {
    let count = count.max(1);
    let mut order: Vec<(&String, usize)> = weights.iter().map(|(n, w)| (n, *w)).collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut loads = vec![0usize; count];
    let mut out = BTreeMap::new();
    for (name, w) in order {
        // The lightest shard; `min_by_key` keeps the first (lowest index) of equal loads.
        let (i, _) = loads.iter().enumerate().min_by_key(|(_, l)| **l).unwrap_or((0, &0));
        loads[i] += w.max(1);
        out.insert(name.clone(), i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_rejects_invalid_shards() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "a/2", "1", "1/2/3", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn assignment_is_balanced_complete_and_deterministic() {
        let w: BTreeMap<String, usize> =
            [("a", 10), ("b", 1), ("c", 5), ("d", 5), ("e", 1)].iter().map(|(n, w)| (n.to_string(), *w)).collect();
        let a = assign(&w, 2);
        assert_eq!(a.len(), 5);
        assert_eq!(a, assign(&w, 2));
        let load = |s: usize| a.iter().filter(|(_, i)| **i == s).map(|(n, _)| w[n]).sum::<usize>();
        assert_eq!((load(1), load(2)), (11, 11));
        assert!(assign(&w, 1).values().all(|i| *i == 1));
    }
}
