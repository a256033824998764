//! `sortOptions`: the order of the rendered output. Only the top kustomization's setting
//! counts (a base's is ignored, as in kustomize); without one, kustomize's legacy order.

use crate::kustomize::kustomization::SortOrder;
use crate::kustomize::resource::{LegacyKey, ORDER_FIRST, ORDER_LAST, Resource};

/// Sorts the rendered resources (stable, so `fifo` keeps accumulation order).
pub fn apply(resources: &mut [Resource], order: Option<&SortOrder>) {
    match order {
        Some(SortOrder::Fifo) => {}
        Some(SortOrder::Legacy { first: Some(f), last }) => {
            let last = last.clone().unwrap_or_default();
            legacy(resources, f, &last);
        }
        Some(SortOrder::Legacy { first: None, last: Some(l) }) => legacy(resources, &[] as &[String], l),
        Some(SortOrder::Legacy { first: None, last: None }) | None => legacy(resources, ORDER_FIRST, ORDER_LAST),
    }
}

/// A stable sort on keys computed once per resource (comparing ids directly built them again
/// on every comparison, a few percent of a whole `validate`). The indices are sorted, then the
/// resources are put in place by swaps: sorting the large resources themselves needs a
/// scratch buffer half their size.
fn legacy<S: AsRef<str>>(resources: &mut [Resource], first: &[S], last: &[S]) {
    let keys: Vec<LegacyKey> = resources.iter().map(|r| LegacyKey::of(r, first, last)).collect();
    let mut order: Vec<usize> = (0..resources.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp_legacy(&keys[b]));
    permute(resources, &mut order);
}

/// Reorders `items` so that position `i` holds what was at `order[i]`, following each cycle
/// of the permutation (`order` is used up).
fn permute<T>(items: &mut [T], order: &mut [usize]) {
    const DONE: usize = usize::MAX;
    for start in 0..items.len() {
        let mut at = start;
        while order[at] != DONE {
            let from = std::mem::replace(&mut order[at], DONE);
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn kinds(order: Option<&SortOrder>) -> Vec<String> {
        let text = "kind: Deployment\nmetadata: {name: d}\n---\nkind: Service\nmetadata: {name: s}\n---\nkind: Namespace\nmetadata: {name: n}\n---\nkind: ValidatingWebhookConfiguration\nmetadata: {name: v}\n";
        let mut rs: Vec<Resource> =
            parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect();
        apply(&mut rs, order);
        rs.iter().map(|r| r.kind().to_string()).collect()
    }

    #[test]
    fn permute_follows_every_cycle() {
        let mut items = ["a", "b", "c", "d", "e", "f"];
        let mut order = [2, 0, 1, 3, 5, 4];
        permute(&mut items, &mut order);
        assert_eq!(items, ["c", "a", "b", "d", "f", "e"]);
    }

    #[test]
    fn legacy_fifo_and_custom_orders() {
        assert_eq!(kinds(None), ["Namespace", "Service", "Deployment", "ValidatingWebhookConfiguration"]);
        assert_eq!(
            kinds(Some(&SortOrder::Fifo)),
            ["Deployment", "Service", "Namespace", "ValidatingWebhookConfiguration"]
        );
        let custom =
            SortOrder::Legacy { first: Some(vec!["ValidatingWebhookConfiguration".into()]), last: Some(vec![]) };
        assert_eq!(kinds(Some(&custom)), ["ValidatingWebhookConfiguration", "Deployment", "Namespace", "Service"]);
    }
}
