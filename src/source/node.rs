//! The one in-memory model of YAML data: a tree of [`Node`]s that remember where
//! each value came from, so every later stage can point a user at a file and line.

use indexmap::IndexMap;

use super::Loc;

/// Ordered mapping; input order is kept so errors and `fifo` output follow the source. Hashed
/// with foldhash (seeded per process, so crafted keys cannot collide on purpose): SipHash was a
/// tenth of a large run's CPU time, spent on looking up short keys.
pub type Mapping = IndexMap<String, Node, foldhash::fast::RandomState>;

/// A YAML value. Scalars are already resolved to their type (Go yaml.v3 rules for resources),
/// so `"3600"` (quoted) is a string and `3600` (plain) an integer.
#[derive(Clone, Debug)]
pub enum Value {
    Null(NullForm),
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Box<Mapping>),
}

/// How a null was written. Every form is the same null, but kustomize tells them apart in two
/// places: a strategic merge drops a field written `key:` (empty) from the object it patches and
/// keeps one written `key: null` or `key: ~` (kyaml's "persistent null"), and an annotation read
/// as a string becomes the text that was written (`~`, `null`, or the empty string).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NullForm {
    /// Nothing after the key (`key:`), or an empty plain scalar.
    Empty,
    /// `~`
    Tilde,
    /// `null`, also every null fluxgate makes itself or reads from JSON.
    #[default]
    Lower,
    /// `Null`
    Title,
    /// `NULL`
    Upper,
}

impl NullForm {
    /// The form of a plain scalar that YAML resolves to null, `None` for any other text.
    pub fn of_plain(text: &str) -> Option<NullForm> {
        Some(match text {
            "" => NullForm::Empty,
            "~" => NullForm::Tilde,
            "null" => NullForm::Lower,
            "Null" => NullForm::Title,
            "NULL" => NullForm::Upper,
            _ => return None,
        })
    }

    /// The text as written.
    pub fn text(self) -> &'static str {
        match self {
            NullForm::Empty => "",
            NullForm::Tilde => "~",
            NullForm::Lower => "null",
            NullForm::Title => "Null",
            NullForm::Upper => "NULL",
        }
    }
}

impl Value {
    /// The null fluxgate writes itself (`null`).
    pub const NULL: Value = Value::Null(NullForm::Lower);
}

/// A value plus the source location that produced it (the file it was read from, or the patch
/// that set it).
#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub loc: Loc,
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null(_), Value::Null(_)) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => (*a as f64) == *b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Seq(a), Value::Seq(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| w == v))
            }
            _ => false,
        }
    }
}

/// Nodes compare by value only: where a value came from does not change what it is.
impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Node {
    pub fn new(value: Value, loc: Loc) -> Self {
        Node { value, loc }
    }

    /// A node with no source location (a value fluxgate synthesised, e.g. a generated name).
    pub fn synthetic(value: Value) -> Self {
        Node { value, loc: Loc::NONE }
    }

    pub fn string(s: impl Into<String>, loc: Loc) -> Self {
        Node::new(Value::Str(s.into()), loc)
    }

    pub fn empty_map(loc: Loc) -> Self {
        Node::new(Value::Map(Box::default()), loc)
    }

    pub fn as_map(&self) -> Option<&Mapping> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Mapping> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text of a scalar (numbers and booleans as written out), `None` for null, maps and
    /// lists: the one conversion every "compare as text" site uses.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null(_) | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// Like [`Node::scalar_text`], but null reads as the empty string, as Flux reads a
    /// `substitute` value or a ConfigMap entry written `key:` with nothing after it.
    pub fn text_or_empty(&self) -> Option<String> {
        if self.is_null() { Some(String::new()) } else { self.scalar_text() }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null(_))
    }

    /// Map lookup; `None` when this is not a map or the key is absent.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut().and_then(|m| m.get_mut(key))
    }

    /// Follows a path of map keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        let mut cur = self;
        for k in keys {
            cur = cur.get(k)?;
        }
        Some(cur)
    }

    pub fn path_mut(&mut self, keys: &[&str]) -> Option<&mut Node> {
        let mut cur = self;
        for k in keys {
            cur = cur.get_mut(k)?;
        }
        Some(cur)
    }

    /// String at a path of map keys.
    pub fn str_at(&self, keys: &[&str]) -> Option<&str> {
        self.path(keys).and_then(Node::as_str)
    }

    /// Returns the map at `keys`, creating empty maps (located at `loc`) along the way.
    /// Returns `None` if a non-map value is in the way.
    pub fn ensure_map(&mut self, keys: &[&str], loc: Loc) -> Option<&mut Mapping> {
        let mut cur = self;
        for k in keys {
            let m = cur.as_map_mut()?;
            cur = m.entry((*k).to_string()).or_insert_with(|| Node::empty_map(loc));
            if cur.is_null() {
                *cur = Node::empty_map(loc);
            }
        }
        cur.as_map_mut()
    }

    /// Sets `loc` on this node and every node below it (for values a patch introduced).
    pub fn set_loc_deep(&mut self, loc: Loc) {
        self.loc = loc;
        match &mut self.value {
            Value::Seq(s) => s.iter_mut().for_each(|n| n.set_loc_deep(loc)),
            Value::Map(m) => m.values_mut().for_each(|n| n.set_loc_deep(loc)),
            _ => {}
        }
    }

    /// Converts to JSON (for hashing, JSON patch, JSON output). Floats that are whole stay floats.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Builds a node tree from JSON, every node located at `loc`.
    pub fn from_json(j: &serde_json::Value, loc: Loc) -> Node {
        use serde_json::Value as J;
        let value = match j {
            J::Null => Value::NULL,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::Seq(a.iter().map(|v| Node::from_json(v, loc)).collect()),
            J::Object(o) => Value::Map(Box::new(o.iter().map(|(k, v)| (k.clone(), Node::from_json(v, loc))).collect())),
        };
        Node { value, loc }
    }

    /// Copies locations from `old` onto `self` wherever the value is unchanged at the same path,
    /// so that after a patch only the values the patch set point at the patch.
    pub fn inherit_locs(&mut self, old: &Node) {
        if self.value == old.value {
            *self = old.clone();
            return;
        }
        // A changed scalar keeps its new location; a changed map or list is still the old container.
        if matches!((&self.value, &old.value), (Value::Map(_), Value::Map(_)) | (Value::Seq(_), Value::Seq(_))) {
            self.loc = old.loc;
        }
        match (&mut self.value, &old.value) {
            (Value::Map(m), Value::Map(o)) => {
                for (k, v) in m.iter_mut() {
                    if let Some(ov) = o.get(k) {
                        v.inherit_locs(ov);
                    }
                }
            }
            (Value::Seq(s), Value::Seq(o)) => {
                for (v, ov) in s.iter_mut().zip(o.iter()) {
                    v.inherit_locs(ov);
                }
            }
            _ => {}
        }
    }

    /// Whether this tree has more than `max_nodes` nodes; stops counting at the bound, so
    /// checking a huge (e.g. patch-grown) object costs at most `max_nodes` steps.
    pub fn exceeds_nodes(&self, max_nodes: usize) -> bool {
        fn walk(n: &Node, budget: &mut usize) -> bool {
            if *budget == 0 {
                return true;
            }
            *budget -= 1;
            match &n.value {
                Value::Map(m) => m.values().any(|v| walk(v, budget)),
                Value::Seq(s) => s.iter().any(|v| walk(v, budget)),
                _ => false,
            }
        }
        let mut budget = max_nodes;
        walk(self, &mut budget)
    }

    /// A short name of the value's type for messages ("string", "map", ...).
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null(_) => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "map",
        }
    }
}
