//! The resources of one accumulation with an index by id, so that refusing a duplicate is a
//! lookup, not a scan of everything accumulated so far (which made a render of N objects cost
//! N² id comparisons). Any mutable access to the list may rename objects, so it drops the
//! index; the next lookup rebuilds it in one pass.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use super::resource::{ResId, Resource};

/// A list of resources and, while nothing has changed them, an index by effective id.
#[derive(Clone, Default)]
pub struct IndexedResources {
    list: Vec<Resource>,
    /// Effective id -> position of the first resource with it; `None` after any mutable access.
    index: Option<HashMap<ResId, usize>>,
}

impl IndexedResources {
    /// The list, without its index.
    pub fn into_inner(self) -> Vec<Resource> {
        self.list
    }

    /// The first resource whose effective id is `id` (what kustomize calls an id conflict).
    pub fn find(&mut self, id: &ResId) -> Option<&Resource> {
        let list = &self.list;
        let index = self.index.get_or_insert_with(|| {
            let mut m = HashMap::with_capacity(list.len());
            for (i, r) in list.iter().enumerate() {
                m.entry(r.effective_id()).or_insert(i);
            }
            m
        });
        index.get(id).map(|&i| &self.list[i])
    }

    /// Appends a resource whose effective id is `id`, keeping the index.
    pub fn push_with_id(&mut self, r: Resource, id: ResId) {
        if let Some(index) = &mut self.index {
            index.entry(id).or_insert(self.list.len());
        }
        self.list.push(r);
    }
}

impl From<Vec<Resource>> for IndexedResources {
    fn from(list: Vec<Resource>) -> Self {
        IndexedResources { list, index: None }
    }
}

impl Deref for IndexedResources {
    type Target = Vec<Resource>;
    fn deref(&self) -> &Vec<Resource> {
        &self.list
    }
}

impl DerefMut for IndexedResources {
    fn deref_mut(&mut self) -> &mut Vec<Resource> {
        self.index = None;
        &mut self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn cm(name: &str) -> Resource {
        let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
        let doc = parse(&text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.remove(0);
        Resource::new(doc)
    }

    #[test]
    fn finds_by_id_and_sees_renames_made_through_the_list() {
        let mut rs = IndexedResources::default();
        for n in ["a", "b"] {
            let r = cm(n);
            let id = r.effective_id();
            assert!(rs.find(&id).is_none());
            rs.push_with_id(r, id);
        }
        assert!(rs.find(&cm("a").effective_id()).is_some());
        // A rename through the list drops the index: the old id is gone, the new one found.
        rs[0].set_name("c".to_string());
        assert!(rs.find(&cm("a").effective_id()).is_none());
        assert_eq!(rs.find(&cm("c").effective_id()).map(Resource::name), Some("c"));
    }
}
