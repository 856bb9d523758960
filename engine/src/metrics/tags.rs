//! Tag sets and the selectors that pick sub-metrics (`http_req_duration{name:login}`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A sorted, immutable set of `key=value` tags. Cloning is a reference-count bump.
/// Its hash is computed once: every sample looks its series up by tag set.
#[derive(Clone)]
pub struct Tags {
    pairs: Arc<[(Arc<str>, Arc<str>)]>,
    hash: u64,
}

impl Tags {
    fn from_sorted(pairs: Arc<[(Arc<str>, Arc<str>)]>) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        pairs.hash(&mut h);
        Tags {
            hash: h.finish(),
            pairs,
        }
    }
}

impl Default for Tags {
    fn default() -> Self {
        Tags::from_sorted(Arc::new([]))
    }
}

impl PartialEq for Tags {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.pairs, &other.pairs)
            || (self.hash == other.hash && self.pairs == other.pairs)
    }
}

impl Eq for Tags {}

impl Hash for Tags {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Tags {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Tags {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pairs.cmp(&other.pairs)
    }
}

impl Tags {
    pub fn new<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut v: Vec<(Arc<str>, Arc<str>)> = pairs
            .into_iter()
            .map(|(k, v)| (Arc::from(k.as_ref()), Arc::from(v.as_ref())))
            .collect();
        // Stable by key, so of equal keys the later pair stays last and wins.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        // A later pair with the same key wins, as in k6's tag merging.
        v.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        Tags::from_sorted(v.into())
    }

    /// This set plus `extra` (extra wins on equal keys).
    pub fn with<K: AsRef<str>, V: AsRef<str>>(
        &self,
        extra: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut pairs: Vec<(Arc<str>, Arc<str>)> = self.pairs.to_vec();
        pairs.extend(
            extra
                .into_iter()
                .map(|(k, v)| (Arc::from(k.as_ref()), Arc::from(v.as_ref()))),
        );
        Self::new(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| self.pairs[i].1.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{")?;
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            write!(f, "{k}:{v}")?;
        }
        write!(f, "}}")
    }
}

/// A metric name with an optional tag filter, as written in thresholds:
/// `http_req_duration`, `http_req_duration{name:login,method:POST}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Selector {
    pub metric: String,
    pub filter: Vec<(String, String)>,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self, super::MetricError> {
        let text = text.trim();
        let (metric, rest) = match text.find('{') {
            None => (text, None),
            Some(i) => (&text[..i], Some(&text[i + 1..])),
        };
        let metric = metric.trim();
        if metric.is_empty()
            || !metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(super::MetricError::Syntax(format!(
                "`{text}` is not a metric name (letters, digits, `_`, `.`, `-`; tags as `name{{tag:value}}`)"
            )));
        }
        let mut filter = Vec::new();
        if let Some(rest) = rest {
            let inner = rest.strip_suffix('}').ok_or_else(|| {
                super::MetricError::Syntax(format!("`{text}`: the tag filter must end with `}}`"))
            })?;
            for part in inner.split(',').filter(|p| !p.trim().is_empty()) {
                let (k, v) = part.split_once(':').ok_or_else(|| {
                    super::MetricError::Syntax(format!(
                        "`{text}`: tag filter `{part}` must be `key:value`"
                    ))
                })?;
                let v = v.trim().trim_matches('"').trim_matches('\'');
                filter.push((k.trim().to_string(), v.to_string()));
            }
            filter.sort();
        }
        Ok(Selector {
            metric: metric.to_string(),
            filter,
        })
    }

    pub fn matches(&self, tags: &Tags) -> bool {
        self.filter
            .iter()
            .all(|(k, v)| tags.get(k) == Some(v.as_str()))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.metric)?;
        if !self.filter.is_empty() {
            write!(f, "{{")?;
            for (i, (k, v)) in self.filter.iter().enumerate() {
                if i > 0 {
                    write!(f, ",")?;
                }
                write!(f, "{k}:{v}")?;
            }
            write!(f, "}}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_sorted_and_last_wins() {
        let t = Tags::new([("b", "1"), ("a", "2")]);
        assert_eq!(t.to_string(), "{a:2,b:1}");
        let t2 = t.with([("a", "3"), ("c", "4")]);
        assert_eq!(t2.to_string(), "{a:3,b:1,c:4}");
        assert_eq!(t2.get("c"), Some("4"));
        assert_eq!(t2.get("z"), None);
    }

    #[test]
    fn selector_parses_filters() {
        let s = Selector::parse("http_req_duration{name:login, method:POST}").unwrap();
        assert_eq!(s.metric, "http_req_duration");
        assert_eq!(
            s.filter,
            vec![
                ("method".to_string(), "POST".to_string()),
                ("name".to_string(), "login".to_string())
            ]
        );
        assert!(s.matches(&Tags::new([
            ("name", "login"),
            ("method", "POST"),
            ("x", "y")
        ])));
        assert!(!s.matches(&Tags::new([("name", "login")])));
        assert_eq!(s.to_string(), "http_req_duration{method:POST,name:login}");
        assert!(Selector::parse("bad name").is_err());
        assert!(Selector::parse("m{a:b").is_err());
        assert!(Selector::parse("m{ab}").is_err());
    }
}
