//! The comparison as a picture: one row per job, IOPS bars on the left, p99 latency
//! bars on the right, values written at the bar ends. Plain SVG, written by hand.
use std::fmt::Write;

use crate::bench::{Engine, JobResult, Workload};
use crate::util::{fmt_count, fmt_ns};

const LABEL_W: f64 = 210.0;
const PANEL_W: f64 = 330.0;
const GAP: f64 = 70.0;
const TOP: f64 = 92.0;
const ROW_H: f64 = 34.0;
const BAR_H: f64 = 20.0;
const FOOT: f64 = 56.0;
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// The colour of a job's bars: one hue per engine, darker for registered buffers.
fn colour(r: &JobResult) -> &'static str {
    let s = &r.spec;
    match s.engine {
        Engine::Sync => "#8c8c8c",
        Engine::Aio => "#e69f00",
        Engine::Uring if s.workload == Workload::Nop => "#56b4e9",
        Engine::Uring if s.fixed_buffers => "#00466e",
        Engine::Uring if s.direct => "#009e73",
        Engine::UserSpace if s.workload == Workload::Nop => "#e6a0c4",
        Engine::UserSpace => "#cc79a7",
        Engine::Uring => "#0072b2",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `200.0k` → `200k`, `1.50M` → `1.5M`: the number's trailing zeros, for round ticks.
fn trim_zeros(s: &str) -> String {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    if !num.contains('.') {
        return s.to_string();
    }
    format!("{}{unit}", num.trim_end_matches('0').trim_end_matches('.'))
}

/// A round step for about `n` ticks up to `max`: 1, 2 or 5 times a power of ten.
fn tick_step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(f64::MIN_POSITIVE);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p)
}

/// One panel: axis, ticks, a bar per job. `values[i]` is `None` for a job without a
/// figure. Bars longer than the axis (NOP's IOPS dwarf every file job) are cut with a
/// break mark, their value still written.
fn panel(
    out: &mut String,
    x0: f64,
    title: &str,
    values: &[Option<f64>],
    results: &[JobResult],
    fmt: fn(f64) -> String,
) {
    let rows = values.len() as f64;
    let bottom = TOP + rows * ROW_H;
    // Scale to the largest value of the file jobs, so NOP does not flatten them.
    let scale_of = |nop: bool| {
        values
            .iter()
            .zip(results)
            .filter(|(_, r)| nop || r.spec.workload != Workload::Nop)
            .filter_map(|(v, _)| *v)
            .fold(0.0f64, f64::max)
    };
    let mut max = scale_of(false);
    if max == 0.0 {
        max = scale_of(true);
    }
    if max == 0.0 {
        max = 1.0;
    }
    let step = tick_step(max, 4.0);
    let axis_max = (max / step).ceil() * step;
    let px = |v: f64| x0 + (v / axis_max).min(1.0) * PANEL_W;

    let _ = writeln!(
        out,
        r#"<text x="{x0}" y="{}" font-size="15" font-weight="bold">{}</text>"#,
        TOP - 30.0,
        esc(title)
    );
    let any = values.iter().any(Option::is_some);
    let mut t = 0.0;
    // No figure at all (every job failed): no axis to draw.
    while any && t <= axis_max * 1.0001 {
        let x = px(t);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{bottom}" stroke="#e3e3e3"/><text x="{x:.1}" y="{}" font-size="11" fill="#666" text-anchor="middle">{}</text>"##,
            TOP - 8.0,
            bottom + 16.0,
            if t == 0.0 {
                "0".into()
            } else {
                esc(&trim_zeros(&fmt(t)))
            }
        );
        t += step;
    }
    for (i, (v, r)) in values.iter().zip(results).enumerate() {
        let y = TOP + i as f64 * ROW_H + (ROW_H - BAR_H) / 2.0;
        let ty = y + BAR_H / 2.0 + 4.5;
        let Some(v) = *v else {
            let why = if r.failure.is_some() || !r.ok() {
                "failed"
            } else {
                "—"
            };
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{ty}" font-size="12" fill="#b00">{why}</text>"##,
                x0 + 4.0
            );
            continue;
        };
        let w = px(v) - x0;
        let _ = writeln!(
            out,
            r#"<rect x="{x0}" y="{y}" width="{w:.1}" height="{BAR_H}" rx="2" fill="{}"/>"#,
            colour(r)
        );
        if v > axis_max {
            // Break mark: the bar goes on beyond the axis.
            let bx = x0 + w - 14.0;
            let _ = writeln!(
                out,
                r##"<path d="M{bx:.1},{} l6,{} M{:.1},{} l6,{}" stroke="#fff" stroke-width="3"/>"##,
                y - 1.0,
                BAR_H + 2.0,
                bx + 5.0,
                y - 1.0,
                BAR_H + 2.0
            );
        }
        let label = esc(&fmt(v));
        let (lx, anchor, fill) = if w > PANEL_W - 60.0 {
            (x0 + w - 20.0, "end", "#fff")
        } else {
            (x0 + w + 5.0, "start", "#222")
        };
        let _ = writeln!(
            out,
            r#"<text x="{lx:.1}" y="{ty}" font-size="12" text-anchor="{anchor}" fill="{fill}">{label}</text>"#
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{x0}" y1="{}" x2="{x0}" y2="{bottom}" stroke="#333"/>"##,
        TOP - 8.0
    );
}

/// The SVG document for `results`, titled `title`.
pub fn svg(title: &str, results: &[JobResult]) -> String {
    let rows = results.len().max(1) as f64;
    let width = LABEL_W + 2.0 * PANEL_W + GAP + 30.0;
    let height = TOP + rows * ROW_H + FOOT;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#fff"/><text x="16" y="30" font-size="18" font-weight="bold">uring bench <tspan font-size="14" font-weight="normal" fill="#444">{}</tspan></text>"##,
        esc(title)
    );
    for (i, r) in results.iter().enumerate() {
        let y = TOP + i as f64 * ROW_H + ROW_H / 2.0 + 4.5;
        if i % 2 == 1 {
            let _ = writeln!(
                out,
                r##"<rect x="8" y="{}" width="{}" height="{ROW_H}" fill="#f6f8fa"/>"##,
                TOP + i as f64 * ROW_H,
                width - 16.0
            );
        }
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{y}" font-size="13" text-anchor="end">{} <tspan fill="#888" font-size="11">QD{}</tspan></text>"##,
            LABEL_W - 12.0,
            esc(&r.spec.name),
            r.spec.iodepth
        );
    }
    let iops: Vec<Option<f64>> = results
        .iter()
        .map(|r| r.iops().filter(|_| r.ok()))
        .collect();
    let p99: Vec<Option<f64>> = results
        .iter()
        .map(|r| r.latency(0.99).filter(|_| r.ok()))
        .collect();
    panel(
        &mut out,
        LABEL_W,
        "IOPS (higher is better)",
        &iops,
        results,
        fmt_count,
    );
    panel(
        &mut out,
        LABEL_W + PANEL_W + GAP,
        "p99 latency (lower is better)",
        &p99,
        results,
        fmt_ns,
    );
    let _ = writeln!(
        out,
        r##"<text x="16" y="{}" font-size="11" fill="#666">Latency: each I/O from submission to its reaped completion. A bar cut by a white break runs past the axis; its value is written.</text>"##,
        height - 22.0
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(100.0, 4.0), 50.0);
        assert_eq!(tick_step(700_000.0, 4.0), 200_000.0);
        assert_eq!(tick_step(3.0, 4.0), 1.0);
        assert_eq!(esc("a<b&c"), "a&lt;b&amp;c");
        assert_eq!(trim_zeros("200.0k"), "200k");
        assert_eq!(trim_zeros("1.00M"), "1M");
        assert_eq!(trim_zeros("1.50M"), "1.5M");
        assert_eq!(trim_zeros("400.0 µs"), "400 µs");
        assert_eq!(trim_zeros("100"), "100");
    }
}
