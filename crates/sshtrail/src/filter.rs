//! Event type filters with the server's syntax: `stdin,stdout,reverse-request`.

use crate::event::EventType;

/// A set of event types to keep.
///
/// Names that are not one of the 15 SSH event types are allowed (unknown
/// types are filterable); [`Filter::unknown_names`] lists them so a front
/// end can warn, since they are usually typos.
///
/// ```
/// use sshtrail::{EventType, Filter};
/// let f: Filter = "stdin, stdout,session-note".parse().unwrap();
/// assert!(f.matches(&EventType::Stdout));
/// assert!(!f.matches(&EventType::Stderr));
/// assert!(f.matches(&EventType::from_name("session-note".into())));
/// assert_eq!(f.unknown_names().collect::<Vec<_>>(), ["session-note"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    known: u16,
    unknown: Vec<String>,
    all: bool,
}

/// A filter list that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// `stdin,,stdout` or a trailing comma.
    #[error("empty event type name at position {0} of the filter list")]
    EmptyName(usize),
}

impl Filter {
    /// A filter that keeps every event.
    pub fn all() -> Self {
        Filter {
            all: true,
            ..Filter::default()
        }
    }

    /// Whether an event of this type passes.
    #[inline]
    pub fn matches(&self, kind: &EventType<'_>) -> bool {
        if self.all {
            return true;
        }
        match kind.known_index() {
            Some(i) => self.known & (1 << i) != 0,
            None => self.unknown.iter().any(|n| n == kind.name()),
        }
    }

    /// The names in the filter that are not one of the 15 SSH event types.
    pub fn unknown_names(&self) -> impl Iterator<Item = &str> {
        self.unknown.iter().map(String::as_str)
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;

    fn from_str(list: &str) -> Result<Self, FilterError> {
        let mut f = Filter::default();
        for (i, name) in list.split(',').enumerate() {
            let name = name.trim();
            if name.is_empty() {
                return Err(FilterError::EmptyName(i + 1));
            }
            match EventType::from_name(name.into()).known_index() {
                Some(k) => f.known |= 1 << k,
                None if f.unknown.iter().any(|n| n == name) => {}
                None => f.unknown.push(name.to_string()),
            }
        }
        Ok(f)
    }
}

/// The known type name closest to `name`, for "did you mean" hints.
pub fn closest_known(name: &str) -> Option<&'static str> {
    EventType::NAMES
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_syntax() {
        let f: Filter = "stdin,stdout,reverse-request".parse().unwrap();
        assert!(f.matches(&EventType::Stdin));
        assert!(f.matches(&EventType::ReverseRequest));
        assert!(!f.matches(&EventType::ForwardRequest));
        assert!(!f.matches(&EventType::from_name("x".into())));
        assert_eq!(f.unknown_names().count(), 0);
    }

    #[test]
    fn every_known_type_can_be_selected_alone() {
        for k in EventType::KNOWN.iter() {
            let f: Filter = k.name().parse().unwrap();
            for other in EventType::KNOWN.iter() {
                assert_eq!(f.matches(other), other == k);
            }
        }
    }

    #[test]
    fn empty_names_are_errors() {
        assert_eq!(
            "stdin,,stdout".parse::<Filter>(),
            Err(FilterError::EmptyName(2))
        );
        assert_eq!("stdin,".parse::<Filter>(), Err(FilterError::EmptyName(2)));
    }

    #[test]
    fn all_matches_anything() {
        assert!(Filter::all().matches(&EventType::from_name("whatever".into())));
    }

    #[test]
    fn typo_hints() {
        assert_eq!(closest_known("stdn"), Some("stdin"));
        assert_eq!(closest_known("reverse-replay"), Some("reverse-reply"));
        assert_eq!(closest_known("session-note"), None);
    }
}
