//! Small SVG line charts for notebooks (the ski-jump plot, training curves): no plotting
//! dependency, output that renders in Jupyter, a browser, or a file.

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart with axes, grid, ticks and a legend.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Fixed y range (None: from the data).
    pub y_range: Option<(f64, f64)>,
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl LineChart {
    /// A chart without series.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            y_range: None,
        }
    }
    /// Adds a line.
    #[must_use]
    pub fn series(mut self, name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series {
            name: name.into(),
            points,
        });
        self
    }
    /// Fixes the y range.
    #[must_use]
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// The chart as a standalone SVG document (640 × 360).
    pub fn to_svg(&self) -> String {
        let (w, h, l, r, t, b) = (640.0, 360.0, 60.0, 16.0, 36.0, 48.0);
        let (pw, ph) = (w - l - r, h - t - b);
        let pts = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|p| p.0.is_finite() && p.1.is_finite())
        };
        let (mut x0, mut x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
        let (mut y0, mut y1) = self.y_range.unwrap_or_else(|| {
            pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            })
        });
        if !x0.is_finite() {
            (x0, x1) = (0.0, 1.0);
        }
        if !y0.is_finite() {
            (y0, y1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        if y1 <= y0 {
            y1 = y0 + 1.0;
        }
        let px = |x: f64| l + pw * (x - x0) / (x1 - x0);
        let py = |y: f64| t + ph * (1.0 - (y - y0) / (y1 - y0));
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\
             <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\
             <text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{}</text>",
            w / 2.0,
            esc(&self.title)
        );
        for k in 0..=4 {
            let v = y0 + (y1 - y0) * k as f64 / 4.0;
            let y = py(v);
            s.push_str(&format!(
                "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                l + pw,
                l - 6.0,
                y + 4.0,
                tick(v, y1 - y0)
            ));
            let xv = x0 + (x1 - x0) * k as f64 / 4.0;
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                px(xv),
                t + ph + 16.0,
                tick(xv, x1 - x0)
            ));
        }
        s.push_str(&format!(
            "<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{}</text>",
            t + ph,
            t + ph,
            l + pw,
            t + ph,
            l + pw / 2.0,
            h - 8.0,
            esc(&self.x_label),
            t + ph / 2.0,
            t + ph / 2.0,
            esc(&self.y_label)
        ));
        for (k, series) in self.series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let points: Vec<String> = series
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            s.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                points.join(" ")
            ));
            if points.len() == 1 {
                let (x, y) = points[0].split_once(',').unwrap_or(("0", "0"));
                s.push_str(&format!(
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{color}\"/>"
                ));
            }
            let ly = t + 14.0 + 16.0 * k as f64;
            s.push_str(&format!(
                "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{}</text>",
                l + pw - 230.0,
                l + pw - 210.0,
                l + pw - 204.0,
                ly + 4.0,
                esc(&series.name)
            ));
        }
        s.push_str("</svg>");
        s
    }

    /// Rich notebook output (evcxr): the SVG.
    pub fn evcxr_display(&self) {
        super::evcxr::emit(&[
            ("text/plain", &self.to_string()),
            ("image/svg+xml", &self.to_svg()),
        ]);
    }
}

/// In a terminal: one line per series (points, first, last, min, max of y).
impl std::fmt::Display for LineChart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} ({} vs {})", self.title, self.y_label, self.x_label)?;
        for s in &self.series {
            let ys: Vec<f64> = s
                .points
                .iter()
                .map(|p| p.1)
                .filter(|y| y.is_finite())
                .collect();
            let (lo, hi) = ys
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
                    (a.min(y), b.max(y))
                });
            match (ys.first(), ys.last()) {
                (Some(first), Some(last)) => writeln!(
                    f,
                    "  {}: {} points, first {first:.4}, last {last:.4}, min {lo:.4}, max {hi:.4}",
                    s.name,
                    ys.len()
                )?,
                _ => writeln!(f, "  {}: no points", s.name)?,
            }
        }
        Ok(())
    }
}

fn tick(v: f64, span: f64) -> String {
    if span >= 20.0 {
        format!("{v:.0}")
    } else if span >= 2.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
