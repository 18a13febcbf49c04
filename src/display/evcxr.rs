//! Rich output for evcxr's Jupyter kernel: `EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT`.

/// The block evcxr's Jupyter kernel turns into rich output (`EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT`).
pub fn evcxr_block(mime: &str, content: &str) -> String {
    format!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT\n")
}

/// Prints HTML the way evcxr's Jupyter kernel expects rich output, with `plain` as its
/// text/plain fallback (what a terminal front-end, `nbconvert --to markdown` or a screen reader
/// shows).
pub(crate) fn emit_html(html: &str, plain: &str) {
    emit(&[("text/plain", plain), ("text/html", html)]);
}

/// Prints rich output for evcxr's Jupyter kernel, in one write: evcxr gathers the blocks of one
/// output into one MIME bundle (e.g. text/plain beside image/svg+xml).
pub(crate) fn emit(blocks: &[(&str, &str)]) {
    use std::io::Write;
    let msg: String = blocks
        .iter()
        .map(|(mime, content)| evcxr_block(mime, content))
        .collect();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(msg.as_bytes());
    let _ = out.flush();
}
