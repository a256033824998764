//! Mutation testing of `validate --base` on any checkout: `cargo run --release --example
//! mutate -- DIR N SEED` copies DIR into a temporary git repository, applies N seeded
//! single-file mutations one at a time, and prints per mutation and in total how many entry
//! points changed, how many `--base` missed (must be 0) and over-selected. Exit 1 on a miss.

#[path = "../tests/mutation/mod.rs"]
mod mutation;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, n, seed] = args.as_slice() else {
        eprintln!("usage: mutate DIR N SEED");
        std::process::exit(2);
    };
    let (Ok(n), Ok(seed)) = (n.parse::<usize>(), seed.parse::<u64>()) else {
        eprintln!("N and SEED must be numbers");
        std::process::exit(2);
    };
    let verbose = std::env::var_os("MUTATE_VERBOSE").is_some();
    let t = mutation::run(std::path::Path::new(dir), n, seed, |o| {
        if verbose || !o.missed.is_empty() {
            println!(
                "{:?} {}: changed {:?} missed {:?} over {} base {:?}",
                o.kind, o.file, o.changed, o.missed, o.over, o.base_time
            );
        }
    });
    let avg = t.base_time.checked_div(t.mutations.max(1) as u32).unwrap_or_default();
    println!(
        "{dir}: mutations {} changed {} missed {} over-selected {} checked {} base-avg {avg:?}",
        t.mutations,
        t.changed,
        t.missed.len(),
        t.over,
        t.checked
    );
    for m in &t.missed {
        println!("MISS {m}");
    }
    if !t.missed.is_empty() {
        std::process::exit(1);
    }
}
