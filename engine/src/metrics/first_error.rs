//! The first message of each failing series: why a request, a produce or
//! an iteration failed, in the words of the error itself ("host
//! 10.1.2.3:80 is not allowed ..."), so a run where everything failed says
//! why and not only how often.
//!
//! Keyed like a series (metric name and tag set, which carry the class and
//! the target), so one message per class and target. Bounded: at most
//! [`MAX_MESSAGES`] entries of at most [`MAX_LEN`] bytes; the rest are not
//! kept (their counts still are, in the series). Messages come from guests
//! and remote peers: whoever shows them escapes them.

use std::collections::BTreeMap;

use super::tags::Tags;

/// Distinct (metric, tag set) pairs that keep a message.
pub const MAX_MESSAGES: usize = 1_000;
/// Bytes kept of one message.
pub const MAX_LEN: usize = 300;

/// First messages by (metric, tag set).
#[derive(Clone, Debug, Default)]
pub struct FirstErrors(BTreeMap<(String, Tags), String>);

impl FirstErrors {
    pub fn get(&self, metric: &str, tags: &Tags) -> Option<&str> {
        self.0
            .get(&(metric.to_string(), tags.clone()))
            .map(String::as_str)
    }

    /// Whether a message for this key is kept or can no longer be.
    pub fn settled(&self, metric: &str, tags: &Tags) -> bool {
        self.0.len() >= MAX_MESSAGES || self.get(metric, tags).is_some()
    }

    /// Keeps `message` unless the key has one already (the first wins) or
    /// the map is full; cut to [`MAX_LEN`] bytes at a character boundary.
    pub fn insert(&mut self, metric: &str, tags: &Tags, message: &str) {
        if self.settled(metric, tags) {
            return;
        }
        let mut end = message.len().min(MAX_LEN);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.0.insert(
            (metric.to_string(), tags.clone()),
            message[..end].to_string(),
        );
    }

    /// Adds `other`'s messages for keys this one lacks.
    pub fn merge(&mut self, other: &FirstErrors) {
        for ((metric, tags), m) in &other.0 {
            self.insert(metric, tags, m);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_wins_and_memory_is_bounded() {
        let mut f = FirstErrors::default();
        let t = Tags::new([("error", "refused")]);
        f.insert("http_req_failed", &t, "host 10.1.2.3:80 is not allowed");
        f.insert("http_req_failed", &t, "a later message");
        assert_eq!(
            f.get("http_req_failed", &t),
            Some("host 10.1.2.3:80 is not allowed")
        );
        let long = "é".repeat(MAX_LEN);
        f.insert("x", &t, &long);
        assert!(f.get("x", &t).unwrap().len() <= MAX_LEN);
        for i in 0..MAX_MESSAGES * 2 {
            f.insert("y", &Tags::new([("n", i.to_string())]), "m");
        }
        assert_eq!(f.len(), MAX_MESSAGES);
        let mut g = FirstErrors::default();
        g.insert("http_req_failed", &t, "other shard");
        g.merge(&f);
        assert_eq!(g.get("http_req_failed", &t), Some("other shard"));
    }
}
