//! The responses kept for `previous_response_id`: each one's whole conversation, in memory, the
//! oldest dropped past a count and a size in bytes (a client could otherwise fill the memory with
//! conversations of 32 MiB each).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use anymodel_core::Message;

/// How many responses are kept.
pub(crate) const KEPT: usize = 1024;

/// How many bytes of conversation (as JSON) are kept, all responses together.
pub(crate) const KEPT_BYTES: usize = 256 * 1024 * 1024;

/// Conversations by response id.
#[derive(Debug)]
pub(crate) struct ResponseStore {
    kept: Mutex<Kept>,
    /// The bytes kept at most: [`KEPT_BYTES`].
    budget: usize,
}

impl Default for ResponseStore {
    fn default() -> Self {
        ResponseStore { kept: Mutex::default(), budget: KEPT_BYTES }
    }
}

/// The conversations, and their ids oldest first.
#[derive(Debug, Default)]
struct Kept {
    /// Each conversation, with its size in bytes.
    by_id: HashMap<String, (Vec<Message>, usize)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl ResponseStore {
    /// The conversation that ended with response `id`, if it is still kept.
    pub(crate) fn get(&self, id: &str) -> Option<Vec<Message>> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.by_id.get(id).map(|(conversation, _)| conversation.clone())
    }

    /// Keeps `conversation` under `id`, dropping the oldest past [`KEPT`] responses or
    /// [`KEPT_BYTES`] (a conversation larger than that alone is not kept).
    pub(crate) fn put(&self, id: String, conversation: Vec<Message>) {
        let size = serde_json::to_vec(&conversation).map_or(usize::MAX, |json| json.len());
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let Kept { by_id, order, bytes } = &mut *kept;
        match by_id.insert(id.clone(), (conversation, size)) {
            Some((_, replaced)) => *bytes -= replaced,
            None => order.push_back(id),
        }
        *bytes = bytes.saturating_add(size);
        while order.len() > KEPT || *bytes > self.budget {
            let Some(oldest) = order.pop_front() else { break };
            if let Some((_, dropped)) = by_id.remove(&oldest) {
                *bytes = bytes.saturating_sub(dropped);
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

    #[test]
    fn the_oldest_go_past_the_byte_budget() {
        let budget = 3000;
        let store = ResponseStore { budget, ..ResponseStore::default() };
        let big = "x".repeat(budget / 3);
        for i in 0..4 {
            store.put(format!("r{i}"), vec![Message::user(big.clone())]);
        }
        assert!(store.get("r0").is_none() && store.get("r1").is_none());
        assert!(store.get("r2").is_some() && store.get("r3").is_some());
        let huge = "y".repeat(budget + 1);
        store.put("too big".into(), vec![Message::user(huge)]);
        assert!(store.get("too big").is_none(), "larger than the whole budget: not kept");
    }
}
