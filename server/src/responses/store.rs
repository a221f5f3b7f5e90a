//! The responses kept for `previous_response_id`: each one's whole conversation, in memory, the
//! oldest dropped past a bound.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use anymodel_core::Message;

/// How many responses are kept.
pub(crate) const KEPT: usize = 1024;

/// Conversations by response id.
#[derive(Debug, Default)]
pub(crate) struct ResponseStore {
    kept: Mutex<Kept>,
}

/// The conversations, and their ids oldest first.
#[derive(Debug, Default)]
struct Kept {
    by_id: HashMap<String, Vec<Message>>,
    order: VecDeque<String>,
}

impl ResponseStore {
    /// The conversation that ended with response `id`, if it is still kept.
    pub(crate) fn get(&self, id: &str) -> Option<Vec<Message>> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.by_id.get(id).cloned()
    }

    /// Keeps `conversation` under `id`, dropping the oldest past [`KEPT`].
    pub(crate) fn put(&self, id: String, conversation: Vec<Message>) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let Kept { by_id, order } = &mut *kept;
        if by_id.insert(id.clone(), conversation).is_none() {
            order.push_back(id);
        }
        while order.len() > KEPT {
            if let Some(oldest) = order.pop_front() {
                by_id.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_past_the_bound() {
        let store = ResponseStore::default();
        for i in 0..KEPT + 5 {
            store.put(format!("r{i}"), vec![Message::user(format!("{i}"))]);
        }
        assert!(store.get("r0").is_none() && store.get("r4").is_none());
        assert_eq!(store.get("r5"), Some(vec![Message::user("5")]));
    }
}
