//! Indexes over one render for the rules that relate objects to each other (a Service to the
//! pod templates it selects, a workload to its PodDisruptionBudget and autoscaler), so each
//! lookup reads the few candidates that share a namespace and a label rather than every
//! object: one render's checks stay linear in its objects.

use std::collections::{BTreeMap, HashMap};

use crate::kustomize::resource::Resource;
use crate::policy::selector::LabelSelector;

/// A pod template's labels.
type Labels = BTreeMap<String, String>;

/// Pod templates by namespace and by each of their labels.
pub struct Pods<'a> {
    /// Per namespace, every pod template's labels, in render order.
    by_ns: HashMap<&'a str, Vec<&'a BTreeMap<String, String>>>,
    /// Per (namespace, label key, label value), the pod templates carrying that label.
    by_label: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Labels>>,
}

impl<'a> Pods<'a> {
    /// `pods`: (index of the object in `resources`, its pod template's labels).
    pub fn new(resources: &'a [Resource], pods: &'a [(usize, BTreeMap<String, String>)]) -> Self {
        let mut by_ns: HashMap<&str, Vec<&BTreeMap<String, String>>> = HashMap::new();
        let mut by_label: HashMap<(&str, &str, &str), Vec<&Labels>> = HashMap::new();
        for (i, labels) in pods {
            let ns = resources[*i].namespace();
            by_ns.entry(ns).or_default().push(labels);
            for (k, v) in labels {
                by_label.entry((ns, k.as_str(), v.as_str())).or_default().push(labels);
            }
        }
        Pods { by_ns, by_label }
    }

    /// Whether a pod template of namespace `ns` may be selected by `selector` (`None`: a
    /// selector that cannot be read yet, e.g. one holding a Flux `${var}`, which may select any).
    pub fn any_selected(&self, ns: &str, selector: Option<&LabelSelector>) -> bool {
        let in_ns = || self.by_ns.get(ns).into_iter().flatten();
        match selector {
            None => in_ns().next().is_some(),
            Some(s) => match s.first_label() {
                // Only templates carrying one required label can match.
                Some((k, v)) => self.by_label.get(&(ns, k, v)).is_some_and(|c| c.iter().any(|l| s.matches(l))),
                None => in_ns().any(|l| s.matches(l)),
            },
        }
    }
}

/// PodDisruptionBudgets by namespace and by one label their selector requires.
pub struct Budgets<'a> {
    /// Per namespace, budgets whose selector requires no single label (expressions only, or
    /// unreadable: `None`, which may select any pod).
    loose: HashMap<&'a str, Vec<Option<LabelSelector>>>,
    /// Per (namespace, label key, label value), the budgets whose selector requires it.
    by_label: HashMap<(&'a str, String, String), Vec<LabelSelector>>,
}

impl<'a> Budgets<'a> {
    /// `budgets`: each PodDisruptionBudget's namespace and parsed selector (`None`: unknown).
    pub fn new(budgets: impl Iterator<Item = (&'a str, Option<LabelSelector>)>) -> Self {
        let mut loose: HashMap<&str, Vec<Option<LabelSelector>>> = HashMap::new();
        let mut by_label: HashMap<(&str, String, String), Vec<LabelSelector>> = HashMap::new();
        for (ns, sel) in budgets {
            match sel.as_ref().and_then(|s| s.first_label()).map(|(k, v)| (k.to_string(), v.to_string())) {
                Some((k, v)) => by_label.entry((ns, k, v)).or_default().extend(sel),
                None => loose.entry(ns).or_default().push(sel),
            }
        }
        Budgets { loose, by_label }
    }

    /// Whether a budget of namespace `ns` may select pods labelled `labels`.
    pub fn covers(&self, ns: &str, labels: &BTreeMap<String, String>) -> bool {
        let loose = self.loose.get(ns).into_iter().flatten().any(|s| s.as_ref().is_none_or(|s| s.matches(labels)));
        loose
            || labels.iter().any(|(k, v)| {
                self.by_label.get(&(ns, k.clone(), v.clone())).is_some_and(|c| c.iter().any(|s| s.matches(labels)))
            })
    }
}

/// The first autoscaler of each (namespace, target kind, target name), by object index.
pub fn autoscalers(resources: &[Resource]) -> HashMap<(&str, &str, &str), usize> {
    let mut out = HashMap::new();
    for (i, h) in resources.iter().enumerate() {
        if h.kind() != "HorizontalPodAutoscaler" || h.group() != "autoscaling" {
            continue;
        }
        let target = |k: &str| h.node.str_at(&["spec", "scaleTargetRef", k]);
        if let (Some(kind), Some(name)) = (target("kind"), target("name")) {
            out.entry((h.namespace(), kind, name)).or_insert(i);
        }
    }
    out
}
