//! The layer language of SPEC §4: a layer is a source and a list of filters
//! ([`super::filters`] reads each filter entry).

use super::filters::{parse_filter, show, Filter, FilterError};
use serde_yaml::Value;
use std::fmt;
use std::path::Path;

/// Where a layer's pixels come from before its filters run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerSource {
    /// The camera frame, opaque.
    Input,
    /// The camera frame with the person mask as alpha.
    Foreground,
    /// Everything composed so far.
    Previous,
    /// Fully transparent.
    Empty,
}

/// Most filters one layer may have (each may hold a frame-sized buffer).
pub const MAX_FILTERS: usize = 64;

/// Accepted layer source names.
pub const LAYER_SOURCES: &[&str] = &["input", "foreground", "previous", "empty"];

/// What is wrong with one layer entry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayerError {
    /// Not a map.
    #[error("a layer is a one-key map like `- input: [[\"blur\", 10]]`, got {got}")]
    NotAMap {
        /// The entry as written.
        got: String,
    },
    /// A map with other than one key.
    #[error("a layer has exactly one source key ({}), got {keys}", LAYER_SOURCES.join(", "))]
    Keys {
        /// How many keys it has.
        keys: usize,
    },
    /// The key is no layer source.
    #[error("unknown layer source `{got}`; use one of {}", LAYER_SOURCES.join(", "))]
    UnknownSource {
        /// The key as written.
        got: String,
    },
    /// Too many filters.
    #[error("layer `{layer}` has {count} filters; at most {MAX_FILTERS} are allowed")]
    TooManyFilters {
        /// The layer source.
        layer: String,
        /// How many it has.
        count: usize,
    },
    /// One of its filters is wrong.
    #[error("layer `{layer}`, filter #{number}: {error}")]
    Filter {
        /// The layer source.
        layer: String,
        /// 1-based position of the filter in the layer.
        number: usize,
        /// What is wrong.
        error: FilterError,
    },
}

/// A layer: a source and its filters, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// The layer's source.
    pub source: LayerSource,
    /// Filters applied in order.
    pub filters: Vec<Filter>,
}

impl LayerSpec {
    /// Makes relative file paths absolute against the config file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        for path in self.filters.iter_mut().filter_map(Filter::path_mut) {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }
}

impl LayerSpec {
    /// Parses one layer entry (`{source: [filters...]}`); the error says what is wrong.
    pub fn from_value(v: &Value) -> Result<LayerSpec, LayerError> {
        let Value::Mapping(map) = v else {
            return Err(LayerError::NotAMap { got: show(v) });
        };
        if map.len() != 1 {
            return Err(LayerError::Keys { keys: map.len() });
        }
        let (k, filters) = map.iter().next().expect("one entry");
        let key = k.as_str().unwrap_or_default();
        let source = match key {
            "input" => LayerSource::Input,
            "foreground" => LayerSource::Foreground,
            "previous" => LayerSource::Previous,
            "empty" => LayerSource::Empty,
            _ => return Err(LayerError::UnknownSource { got: show(k) }),
        };
        let items: &[Value] = match filters {
            Value::Null => &[],
            Value::Sequence(s) => s,
            // A single filter given without the enclosing list.
            other => std::slice::from_ref(other),
        };
        if items.len() > MAX_FILTERS {
            return Err(LayerError::TooManyFilters {
                layer: key.into(),
                count: items.len(),
            });
        }
        let filters = items
            .iter()
            .enumerate()
            .map(|(i, f)| {
                parse_filter(f).map_err(|error| LayerError::Filter {
                    layer: key.into(),
                    number: i + 1,
                    error,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LayerSpec { source, filters })
    }
}

impl fmt::Display for LayerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(LAYER_SOURCES[*self as usize])
    }
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.source)?;
        if self.filters.is_empty() {
            write!(f, " (no filters)")?;
        }
        for (i, flt) in self.filters.iter().enumerate() {
            write!(f, "{} {flt:?}", if i == 0 { "" } else { " →" })?;
        }
        Ok(())
    }
}

/// A raw filter argument value (re-exported for tests and docs).
pub type FilterArg = Value;

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(yaml: &str) -> Result<LayerSpec, LayerError> {
        LayerSpec::from_value(&serde_yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn layer_entries_and_their_errors() {
        let l = layer("previous: [grayscale, [\"roll\", 1]]").unwrap();
        assert_eq!(l.source, LayerSource::Previous);
        assert_eq!(l.filters.len(), 2);
        assert_eq!(layer("foreground:").unwrap().filters, vec![]);
        assert_eq!(
            layer("{input: [], empty: []}").unwrap_err(),
            LayerError::Keys { keys: 2 }
        );
        let e = layer("background: []").unwrap_err().to_string();
        assert!(
            e.contains("unknown layer source `\"background\"`") && e.contains("previous, empty"),
            "{e}"
        );
        match layer("input: [grayscale, [\"blur\", -1]]").unwrap_err() {
            LayerError::Filter {
                layer,
                number,
                error: FilterError::BadValue { argument, .. },
            } => assert_eq!(
                (layer.as_str(), number, argument),
                ("input", 2, "intensity_x")
            ),
            other => panic!("{other}"),
        }
    }
}
