//! The comparison as an SVG picture.
use crate::bench::JobResult;

pub fn svg(title: &str, _results: &[JobResult]) -> String {
    format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><text>{title}</text></svg>")
}
