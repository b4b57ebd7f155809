//! A typed registry of shared resources (pools, clients, configs), keyed by type and name.
//!
//! Subsystems register what they create at start-up; other crates and Python modules look
//! it up by type and instance name (`"default"`, `"readonly"`, ...) without knowing which
//! subsystem made it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

type Entry = Arc<dyn Any + Send + Sync>;

/// Cheap to clone; all clones share one registry.
#[derive(Clone, Default)]
pub struct Resources {
    entries: Arc<RwLock<HashMap<(TypeId, String), Entry>>>,
}

impl Resources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `value` as the `name` instance of `T`, replacing any previous one.
    pub fn insert<T: Any + Send + Sync>(&self, name: impl Into<String>, value: Arc<T>) {
        if let Ok(mut map) = self.entries.write() {
            map.insert((TypeId::of::<T>(), name.into()), value);
        }
    }

    /// The `name` instance of `T`, if registered.
    pub fn get<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        let map = self.entries.read().ok()?;
        let entry = map.get(&(TypeId::of::<T>(), name.to_owned()))?.clone();
        entry.downcast::<T>().ok()
    }

    /// Names of every registered instance of `T`, sorted.
    pub fn names<T: Any + Send + Sync>(&self) -> Vec<String> {
        let Ok(map) = self.entries.read() else {
            return Vec::new();
        };
        let mut names: Vec<String> = map
            .keys()
            .filter(|(t, _)| *t == TypeId::of::<T>())
            .map(|(_, n)| n.clone())
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lookup_by_name() {
        let r = Resources::new();
        r.insert("default", Arc::new(5u32));
        r.insert("other", Arc::new(7u32));
        r.insert("default", Arc::new(String::from("text")));
        assert_eq!(*r.get::<u32>("default").unwrap(), 5);
        assert_eq!(*r.get::<u32>("other").unwrap(), 7);
        assert_eq!(r.get::<String>("default").unwrap().as_str(), "text");
        assert!(r.get::<u64>("default").is_none());
        assert_eq!(r.names::<u32>(), vec!["default", "other"]);
    }
}
