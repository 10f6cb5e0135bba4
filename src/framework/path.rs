//! Attribute paths: where in a resource a diagnostic or a replacement belongs.

use std::fmt;

/// One step of a path into a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// Into an object's or block's attribute, by name.
    Attribute(String),
    /// Into a map element, by key.
    ElementKeyString(String),
    /// Into a list element, by index from 0.
    ElementKeyInt(i64),
}

/// A path from the root of a resource's value, `target_vps_id` or `timeouts.create`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttributePath(Vec<PathStep>);

impl AttributePath {
    /// The empty path: the resource (or provider) as a whole.
    pub fn root() -> AttributePath {
        AttributePath(Vec::new())
    }

    /// A path to a top-level attribute.
    pub fn attribute(name: impl Into<String>) -> AttributePath {
        AttributePath(vec![PathStep::Attribute(name.into())])
    }

    /// The path extended into attribute `name`, e.g. `timeouts` → `timeouts.create`.
    pub fn attr(mut self, name: impl Into<String>) -> AttributePath {
        self.0.push(PathStep::Attribute(name.into()));
        self
    }

    /// The path extended into the map element at `key`.
    pub fn key(mut self, key: impl Into<String>) -> AttributePath {
        self.0.push(PathStep::ElementKeyString(key.into()));
        self
    }

    /// The path extended into the list element at index `i`.
    pub fn index(mut self, i: i64) -> AttributePath {
        self.0.push(PathStep::ElementKeyInt(i));
        self
    }

    /// A path from steps already decoded, as the protocol layer receives them.
    pub fn from_steps(steps: Vec<PathStep>) -> AttributePath {
        AttributePath(steps)
    }

    /// The steps from the root, outermost first.
    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }

    /// Whether this is the root path, i.e. about the whole value.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => f.write_str(name)?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::ElementKeyString(k) => write!(f, "[{k:?}]")?,
                PathStep::ElementKeyInt(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_terraform_addresses() {
        let p = AttributePath::attribute("timeouts").attr("create");
        assert_eq!(p.to_string(), "timeouts.create");
        let p = AttributePath::attribute("triggers").key("a");
        assert_eq!(p.to_string(), "triggers[\"a\"]");
    }
}
