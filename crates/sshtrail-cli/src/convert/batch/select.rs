//! `--where`, `--since` and `--until`: which connections a conversion
//! converts, whatever its output (a batch, one file or standard output).

use globset::{Glob, GlobMatcher};
use sshtrail::archive::Archive;
use sshtrail::connection::Connection;
use sshtrail::time::{parse_rfc3339, Nanos};

/// A connection field `--where` can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    User,
    Host,
    Address,
    Account,
    Tag,
    Status,
}

/// The `--where`, `--since` and `--until` rules.
#[derive(Debug, Default)]
pub struct Selector {
    wheres: Vec<(Field, GlobMatcher)>,
    since: Option<Nanos>,
    until: Option<Nanos>,
}

impl Selector {
    /// Parses `FIELD=GLOB` rules and RFC 3339 bounds.
    pub fn new(
        wheres: &[String],
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Selector, String> {
        let mut s = Selector::default();
        for w in wheres {
            let (field, glob) = w
                .split_once('=')
                .ok_or_else(|| format!("--where {w:?}: expected FIELD=GLOB"))?;
            let field = match field {
                "user" => Field::User,
                "host" => Field::Host,
                "address" => Field::Address,
                "account" => Field::Account,
                "tag" => Field::Tag,
                "status" => Field::Status,
                other => {
                    return Err(format!(
                    "--where: unknown field {other:?} (user, host, address, account, tag, status)"
                ))
                }
            };
            let glob = Glob::new(glob)
                .map_err(|e| format!("--where {w:?}: {e}"))?
                .compile_matcher();
            s.wheres.push((field, glob));
        }
        let time = |t: Option<&str>, name: &str| -> Result<Option<Nanos>, String> {
            t.map(|t| {
                parse_rfc3339(t.as_bytes(), true)
                    .map_err(|e| format!("--{name} {t:?}: {}", e.message))
            })
            .transpose()
        };
        s.since = time(since, "since")?;
        s.until = time(until, "until")?;
        Ok(s)
    }

    fn is_empty(&self) -> bool {
        self.wheres.is_empty() && self.since.is_none() && self.until.is_none()
    }

    /// Whether a connection passes every rule. Without metadata nothing can
    /// be tested, so any rule excludes it.
    pub fn matches(&self, meta: Option<&Connection>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(m) = meta else {
            return false;
        };
        let one = |v: Option<&str>, g: &GlobMatcher| v.is_some_and(|v| g.is_match(v));
        let fields_ok = self.wheres.iter().all(|(f, g)| match f {
            Field::User => one(m.user(), g),
            Field::Host => one(m.host(), g),
            Field::Address => one(m.target_host_address.as_deref(), g),
            Field::Account => one(m.target_host_account.as_deref(), g),
            Field::Status => one(m.status.as_deref(), g),
            Field::Tag => m.tags.iter().any(|t| g.is_match(t)),
        });
        let at = m
            .connected
            .as_deref()
            .and_then(|c| parse_rfc3339(c.as_bytes(), true).ok());
        let time_ok = match (self.since, self.until) {
            (None, None) => true,
            _ => at.is_some_and(|t| {
                self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
            }),
        };
        fields_ok && time_ok
    }

    /// The connections of `archive` that pass every rule ([`Selector::matches`]).
    pub fn selected(&self, archive: &Archive) -> Archive {
        Archive {
            connections: archive
                .connections
                .iter()
                .filter(|c| self.matches(c.meta.as_deref()))
                .cloned()
                .collect(),
        }
    }

    /// Whether any rule was given.
    pub fn has_rules(&self) -> bool {
        !self.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(json: &str) -> Connection {
        Connection::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn where_rules() {
        let m = meta(
            r#"{"user_data":{"display_name":"alice@example.com"},"target_host_data":{"common_name":"db-prod-01"},"target_host_address":"10.0.0.5","target_host_account":"postgres","status":"DISCONNECTED","tags":["prod","db"],"connected":"2023-06-07T15:12:28Z"}"#,
        );
        let sel = |w: &[&str], s: Option<&str>, u: Option<&str>| {
            Selector::new(&w.iter().map(|x| x.to_string()).collect::<Vec<_>>(), s, u).unwrap()
        };
        assert!(sel(&[], None, None).matches(None));
        assert!(sel(&["user=alice@*", "host=db-prod-*", "tag=db"], None, None).matches(Some(&m)));
        assert!(!sel(&["host=web-*"], None, None).matches(Some(&m)));
        assert!(sel(
            &["address=10.0.0.*", "account=postgres", "status=DISC*"],
            None,
            None
        )
        .matches(Some(&m)));
        assert!(!sel(&["tag=staging"], None, None).matches(Some(&m)));
        assert!(
            !sel(&["user=*"], None, None).matches(None),
            "no metadata, no match"
        );
        assert!(sel(
            &[],
            Some("2023-06-07T00:00:00Z"),
            Some("2023-06-08T00:00:00Z")
        )
        .matches(Some(&m)));
        assert!(!sel(&[], Some("2023-06-08T00:00:00Z"), None).matches(Some(&m)));
        assert!(Selector::new(&["colour=red".into()], None, None).is_err());
        assert!(Selector::new(&["user".into()], None, None).is_err());
        assert!(Selector::new(&[], Some("yesterday"), None).is_err());
    }
}
