//! `parity_compare OURS THEIRS`: compares a fluxgate render with a `kubectl kustomize` render of
//! the same overlay, object for object (the differential test's rules), for
//! `scripts/parity-real.sh`. Prints `agree`, `agree (bytes differ)`, or the first difference;
//! exits 0 when the objects agree, 1 when they differ, 2 on bad arguments.

#[path = "../tests/support/render_compare.rs"]
mod render_compare;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ours, theirs] = args.as_slice() else {
        eprintln!("usage: parity_compare OURS.yaml THEIRS.yaml");
        std::process::exit(2);
    };
    let read = |p: &String| {
        std::fs::read_to_string(p).unwrap_or_else(|e| {
            eprintln!("{p}: {e}");
            std::process::exit(2)
        })
    };
    let (a, b) = (read(ours), read(theirs));
    match render_compare::compare(&a, &b) {
        None if a == b => println!("agree"),
        None => println!("agree (bytes differ)"),
        Some(d) => {
            println!("{}", d.replace('\n', " "));
            std::process::exit(1);
        }
    }
}
