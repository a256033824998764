//! A rendered [`Node`] as `jsonschema` reads an instance, so that a valid object (almost every
//! object) is judged without first being copied into a `serde_json::Value`: the copy and its
//! drop cost more than the validation itself. The view answers exactly as the node's JSON
//! form ([`Node::to_json`]) would: a float that is not finite is `null`, numbers keep their
//! integer or float form, and map order is the node's.

use std::borrow::Cow;

use jsonschema::json::{Array, Json, JsonNumber, Node as JsonNode, NodeIdentity, Object};
use jsonschema::types::JsonType;
use serde_json::{Number, Value as J};

use crate::source::Loc;
use crate::source::node::{Mapping, Node, Value};

/// The `jsonschema` representation whose nodes are fluxgate's rendered nodes.
pub struct NodeJson;

/// Backs the one string node `propertyNames` validates at a time.
#[derive(Default)]
pub struct NameBuffer(Option<Node>);

impl Json for NodeJson {
    type Node<'a> = &'a Node;
    type PreparedKey = String;
    type StringBuffer = NameBuffer;

    /// A rendered object is a tree: no node holds itself.
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(buffer: &mut NameBuffer, string: &str, f: impl FnOnce(&Node) -> T) -> T {
        let node = buffer.0.get_or_insert_with(|| Node::string(String::new(), Loc::NONE));
        match &mut node.value {
            Value::Str(s) => {
                s.clear();
                s.push_str(string);
            }
            other => *other = Value::Str(string.to_owned()),
        }
        f(node)
    }
}

/// A number of a node: an integer, or a finite float (a float that is not finite is `null`).
#[derive(Clone, Copy)]
pub enum NodeNumber {
    Int(i64),
    Float(f64),
}

impl JsonNumber for NodeNumber {
    fn as_u64(&self) -> Option<u64> {
        match *self {
            NodeNumber::Int(i) => u64::try_from(i).ok(),
            NodeNumber::Float(_) => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match *self {
            NodeNumber::Int(i) => Some(i),
            NodeNumber::Float(_) => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            NodeNumber::Int(i) => Some(i as f64),
            NodeNumber::Float(f) => Some(f),
        }
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_number().to_string())
    }

    fn to_number(&self) -> Cow<'_, Number> {
        Cow::Owned(match *self {
            NodeNumber::Int(i) => Number::from(i),
            // Finite by construction (see `number`), so `from_f64` always answers.
            NodeNumber::Float(f) => Number::from_f64(f).unwrap_or_else(|| Number::from(0)),
        })
    }
}

/// The number a node holds, as its JSON form has it.
fn number(node: &Node) -> Option<NodeNumber> {
    match node.value {
        Value::Int(i) => Some(NodeNumber::Int(i)),
        Value::Float(f) if f.is_finite() => Some(NodeNumber::Float(f)),
        _ => None,
    }
}

impl<'a> JsonNode<'a, NodeJson> for &'a Node {
    type Object = &'a Mapping;
    type Array = &'a [Node];
    type Number = NodeNumber;

    fn as_object(&self) -> Option<&'a Mapping> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&'a [Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match &self.value {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<NodeNumber> {
        number(self)
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        self.json_type() == JsonType::Null
    }

    fn json_type(&self) -> JsonType {
        match &self.value {
            Value::Null(_) => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Int(_) => JsonType::Number,
            Value::Float(f) if f.is_finite() => JsonType::Number,
            Value::Float(_) => JsonType::Null,
            Value::Str(_) => JsonType::String,
            Value::Seq(_) => JsonType::Array,
            Value::Map(_) => JsonType::Object,
        }
    }

    fn string_length_within(&self, min: u64, max: u64) -> Option<bool> {
        let Value::Str(s) = &self.value else { return None };
        // A code point is one to four bytes: the byte count bounds the length from both sides,
        // which decides most checks without counting.
        let bytes = s.len() as u64;
        if bytes < min || bytes.div_ceil(4) > max {
            return Some(false);
        }
        if min <= bytes.div_ceil(4) && bytes <= max {
            return Some(true);
        }
        Some((min..=max).contains(&(s.chars().count() as u64)))
    }

    fn equals_value(&self, expected: &J) -> bool {
        match (&self.value, expected) {
            (Value::Str(s), J::String(e)) => s == e,
            (Value::Str(_), _) | (_, J::String(_)) => false,
            _ => jsonschema::json::cmp::equal(&self.to_json(), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, J> {
        Cow::Owned(self.to_json())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Node>(self) as usize))
    }
}

/// The members of a map node, in the node's order.
pub struct Members<'a>(indexmap::map::Iter<'a, String, Node>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_str(), v))
    }
}

/// Maps this small are searched in order: comparing a few keys beats hashing one.
const SCANNED: usize = 8;

impl<'a> Object<'a, NodeJson> for &'a Mapping {
    type Node = &'a Node;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        Mapping::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Node> {
        if Mapping::len(self) <= SCANNED {
            return self.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
        }
        Mapping::get(self, key.as_str())
    }

    fn members(&self) -> Members<'a> {
        Members(self.iter())
    }
}

impl<'a> Array<'a, NodeJson> for &'a [Node] {
    type Node = &'a Node;
    type ElementsIter = std::slice::Iter<'a, Node>;

    fn len(&self) -> usize {
        <[Node]>::len(self)
    }

    fn elements(&self) -> std::slice::Iter<'a, Node> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::first_doc;

    /// The view's answers are those of the node's JSON form, value by value.
    #[test]
    fn the_view_reads_as_the_json_form_does() {
        let root =
            first_doc("a: 1\nb: -2\nc: 1.5\nd: 3.0\ne: .inf\nf: .nan\ng: ~\nh: true\ni: text\nj: [1, x]\nk: {x: 1}\n");
        let Value::Map(m) = &root.value else { panic!("a map") };
        for (key, node) in m.iter() {
            let json = node.to_json();
            let (view, serde) = (&node, &json);
            assert_eq!(
                JsonNode::<NodeJson>::json_type(view),
                JsonNode::<jsonschema::json::SerdeJson>::json_type(&serde),
                "{key}"
            );
            assert_eq!(view.is_null(), json.is_null(), "{key}");
            assert_eq!(view.as_boolean(), json.as_bool(), "{key}");
            assert_eq!(view.as_string().as_deref(), json.as_str(), "{key}");
            let n = view.as_number();
            assert_eq!(n.as_ref().map(|n| n.to_number().into_owned()), json.as_number().cloned(), "{key}");
            assert_eq!(n.and_then(|n| n.as_u64()), json.as_u64(), "{key}");
            assert_eq!(n.and_then(|n| n.as_i64()), json.as_i64(), "{key}");
            assert_eq!(n.and_then(|n| n.as_f64()), json.as_f64(), "{key}");
            assert_eq!(view.to_value().into_owned(), json, "{key}");
            assert!(view.equals_value(&json), "{key}");
        }
    }

    #[test]
    fn maps_find_every_key_small_or_large() {
        for n in [1, SCANNED, SCANNED + 1, 40] {
            let text: String = (0..n).map(|i| format!("k{i}: {i}\n")).collect();
            let root = first_doc(&text);
            let map = (&root).as_object().unwrap();
            for i in 0..n {
                let v = map.get(&NodeJson::prepare_key(&format!("k{i}"))).unwrap();
                assert_eq!(v.value, Value::Int(i as i64));
            }
            assert!(map.get(&NodeJson::prepare_key("absent")).is_none());
            assert_eq!(map.members().count(), n);
        }
    }

    #[test]
    fn string_lengths_count_code_points() {
        for (s, min, max) in [("abc", 3, 3), ("abc", 4, 9), ("ééé", 3, 3), ("ééé", 4, 6), ("ééé", 0, 2), ("", 0, 0)]
        {
            let node = Node::string(s.to_string(), Loc::NONE);
            let count = s.chars().count() as u64;
            assert_eq!((&node).string_length_within(min, max), Some((min..=max).contains(&count)), "{s} {min} {max}");
        }
    }
}
