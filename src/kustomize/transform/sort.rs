//! `sortOptions`: the order of the rendered output. Only the top kustomization's setting
//! counts (a base's is ignored, as in kustomize); without one, kustomize's legacy order.

use crate::kustomize::kustomization::SortOrder;
use crate::kustomize::resource::{ORDER_FIRST, ORDER_LAST, Resource, legacy_cmp_with};

/// Sorts the rendered resources (stable, so `fifo` keeps accumulation order).
pub fn apply(resources: &mut [Resource], order: Option<&SortOrder>) {
    match order {
        Some(SortOrder::Fifo) => {}
        Some(SortOrder::Legacy { first: Some(f), last }) => {
            let last = last.clone().unwrap_or_default();
            resources.sort_by(|a, b| legacy_cmp_with(a, b, f, &last));
        }
        Some(SortOrder::Legacy { first: None, last: Some(l) }) => {
            resources.sort_by(|a, b| legacy_cmp_with(a, b, &[] as &[String], l));
        }
        Some(SortOrder::Legacy { first: None, last: None }) | None => {
            resources.sort_by(|a, b| legacy_cmp_with(a, b, ORDER_FIRST, ORDER_LAST));
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
